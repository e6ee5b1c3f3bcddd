using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sidecar.Hosting;

/// <summary>
/// The agent's own error answers: <c>application/problem+json</c> (RFC 9457) with a stable
/// <c>type</c> and an <c>X-Sidecar-Error</c> header carrying the same code, so an app can tell the
/// agent's errors from an upstream's (SPEC section 3). Never a stack trace.
/// </summary>
internal static class Problems
{
    public const string ErrorHeader = "X-Sidecar-Error";
    public const string TypePrefix = "urn:sidecar-agent:problem:";

    /// <summary>A minimal-API result for a problem.</summary>
    public static IResult Result(int status, string code, string title, string detail) => new ProblemResult(status, code, title, detail);

    /// <summary>
    /// Writes a problem unless the response has started (then the connection is aborted: a half answer
    /// must not look whole). Headers set before are dropped, but for <c>Allow</c>.
    /// </summary>
    public static Task WriteAsync(HttpContext context, int status, string code, string title, string detail)
    {
        if (context.Response.HasStarted)
        {
            context.Abort();
            return Task.CompletedTask;
        }

        // Clear() drops every header, the Allow a 405 must carry (RFC 9110, 15.5.6) too: it is kept.
        var allow = context.Response.Headers.Allow;
        context.Response.Clear();
        if (allow.Count > 0)
        {
            context.Response.Headers.Allow = allow;
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        context.Response.Headers[ErrorHeader] = code;
        context.Response.Headers.CacheControl = "no-store";
        var body = new ProblemBody(TypePrefix + code, title, status, detail);
        return JsonSerializer.SerializeAsync(context.Response.Body, body, HostingJsonContext.Default.ProblemBody, context.RequestAborted);
    }

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
