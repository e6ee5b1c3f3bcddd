using System.Runtime.CompilerServices;

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// A request's exchange with an instance, awaited in the caller's own frame (<see cref="LeanHttp1Handler.Exchange"/>):
/// <c>await (await exchange)</c> gives the answer. On a kept connection the request went out at once and the first
/// await waits for the connection's pending read itself, so no frame of the client's is resumed when the answer comes
/// (docs/performance.md#the-answers-read-in-the-callers-frame-2026-12-05-thirteenth-session); the answer is then taken
/// in <see cref="GetResult"/>, and the second await finds it done. Any other way (a new connection, a body, a send or a
/// head that takes longer, another client's request) the first await finds the whole exchange running, and the second
/// awaits it.
/// </summary>
internal readonly struct LeanExchange : ICriticalNotifyCompletion
{
    private readonly ValueTask<HttpResponseMessage> _whole;

    // The connection the request went out on, which keeps the exchange's read, request and token (Http1Connection.AwaitAnswer):
    // the awaiter stays small in the frames that hold it.
    private readonly Http1Connection? _connection;

    /// <summary>An exchange that runs the whole way (<paramref name="whole"/>): the first await finds it started.</summary>
    public LeanExchange(ValueTask<HttpResponseMessage> whole) => _whole = whole;

    /// <summary>An exchange whose request went out on <paramref name="connection"/>, its answer's first read pending there (<see cref="Http1Connection.AwaitAnswer"/>).</summary>
    internal LeanExchange(Http1Connection connection) => _connection = connection;

    public LeanExchange GetAwaiter() => this;

    public bool IsCompleted => _connection is null || _connection.AnswerRead.IsCompleted;

    public void OnCompleted(Action continuation) => _connection!.AnswerRead.ConfigureAwait(false).GetAwaiter().OnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation) => _connection!.AnswerRead.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(continuation);

    /// <summary>The answer: done when its head came whole in the read, else the rest of the exchange running.</summary>
    public ValueTask<HttpResponseMessage> GetResult() => _connection is null ? _whole : LeanHttp1Handler.Answer(_connection);
}
