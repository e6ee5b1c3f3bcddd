using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sidecar.Platform;

/// <summary>
/// The agent's own error answers: <c>application/problem+json</c> (RFC 9457) with a stable
/// <c>type</c> and an <c>X-Sidecar-Error</c> header carrying the same code, so an app can tell the
/// agent's errors from an upstream's (docs/http-api.md#problems). Never a stack trace.
/// </summary>
internal static class Problems
{
    public const string ErrorHeader = "X-Sidecar-Error";
    public const string TypePrefix = "urn:sidecar-agent:problem:";

    /// <summary>The 500 of an exception that escaped a handler (a bug): its code, title and detail, never the exception's.</summary>
    public const string InternalCode = "internal-error", InternalTitle = "The agent failed to handle this request", InternalDetail = "The agent's log has the details.";

    /// <summary>A minimal-API result for a problem.</summary>
    public static IResult Result(int status, string code, string title, string detail) => new ProblemResult(status, code, title, detail);

    /// <summary>
    /// Writes a problem unless the response has started (then the connection is aborted: a half answer
    /// must not look whole). Headers set before are dropped (an upstream's, copied before a failure);
    /// the ones a problem itself needs are given here.
    /// </summary>
    /// <param name="allow">The <c>Allow</c> a 405 must carry (RFC 9110, 15.5.6).</param>
    /// <param name="retryAfter">A <c>Retry-After</c> value (seconds).</param>
    /// <param name="close">Ends the connection after the answer (<c>Connection: close</c>).</param>
    public static Task WriteAsync(HttpContext context, int status, string code, string title, string detail,
        string? allow = null, string? retryAfter = null, bool close = false)
    {
        if (context.Response.HasStarted)
        {
            context.Abort();
            return Task.CompletedTask;
        }

        context.Response.Clear();
        context.Response.StatusCode = status;
        var headers = new KestrelAnswer(context.Response.Headers);
        SetFields(ref headers, code, allow, retryAfter, close);
        var body = new ProblemBody(TypePrefix + code, title, status, detail);
        return JsonSerializer.SerializeAsync(context.Response.Body, body, HostingJsonContext.Default.ProblemBody, context.RequestAborted);
    }

    /// <summary>A problem's fields, to Kestrel's response or the forwarding core's answer head.</summary>
    public static void SetFields<T>(ref T target, string code, string? allow = null, string? retryAfter = null, bool close = false)
        where T : struct, IAnswerTarget
    {
        if (allow is not null)
        {
            target.Set("Allow", allow);
        }

        if (retryAfter is not null)
        {
            target.Set("Retry-After", retryAfter);
        }

        if (close)
        {
            target.Set("Connection", "close");
        }

        target.Set("Content-Type", "application/problem+json");
        target.Set(ErrorHeader, code);
        target.Set("Cache-Control", "no-store");
    }

    /// <summary>A problem's body (<c>application/problem+json</c>), as <see cref="WriteAsync"/> writes it.</summary>
    public static byte[] Body(int status, string code, string title, string detail) =>
        JsonSerializer.SerializeToUtf8Bytes(new ProblemBody(TypePrefix + code, title, status, detail), HostingJsonContext.Default.ProblemBody);

    private sealed class ProblemResult(int status, string code, string title, string detail) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) => WriteAsync(httpContext, status, code, title, detail);
    }
}

internal sealed record ProblemBody(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("status")] int Status,
    [property: JsonPropertyName("detail")] string Detail);
