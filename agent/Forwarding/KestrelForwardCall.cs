using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// A forwarded call whose caller came through Kestrel's HTTP layer, every call today: the exchange
/// (docs/performance.md#the-exchange) over its <see cref="HttpContext"/>. The request is read from Kestrel's
/// collection and body, the answer written to Kestrel's response; a guarded call (docs/resilience.md) takes
/// what its <see cref="CallGuard"/> owes here too: the cache's copy of the body, and what it does when the call ends.
/// </summary>
internal sealed class KestrelForwardCall : ForwardCall
{
    private readonly HttpContext _context;
    private readonly CallGuard? _guard;

    /// <param name="guard">What a guarded call gives back and does when it ends; null for a plain call.</param>
    public KestrelForwardCall(Forwarder forwarder, HttpContext context, ServicePool pool, string target, TimeSpan deadline, CallGuard? guard = null)
        : base(forwarder, pool, target, deadline, context.Request.Method, new CallerFields(context.Request.Headers), context.RequestAborted)
    {
        _context = context;
        _guard = guard;
    }

    protected override CancellationToken Aborted => _context.RequestAborted;

    protected override CallerFields Fields => new(_context.Request.Headers);

    protected override bool AnswerStarted => _context.Response.HasStarted;

    protected override int AnswerStatus => _context.Response.StatusCode;

    protected override ValueTask<RequestBody?> ReadBodyAsync(ServicePolicy policy) => RequestBody.ReadAsync(_context, policy);

    protected override ForwardedValues StartTelemetry(CallTelemetry telemetry) => telemetry.Start(Forwarder, _context, Pool.Name, Target);

    protected override Stream StartAnswer(HttpResponseMessage response)
    {
        var answer = _context.Response;
        answer.StatusCode = (int)response.StatusCode;
        ResponseHeaders.Copy(response, answer.Headers);
        return _guard is null ? answer.Body : _guard.BodyFor(answer);
    }

    protected override void AnswerCopied() => _guard?.Copied(_context, Pool, Target);

    protected override void Abort() => _context.Abort();

    protected override Task WriteProblemAsync(int status, string code, string title, string detail) =>
        Problems.WriteAsync(_context, status, code, title, detail);

    protected override void Ended() => _guard?.End(_context, Pool, Target);
}
