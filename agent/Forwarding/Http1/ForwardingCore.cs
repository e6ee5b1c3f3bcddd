using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Sidecar.Platform;

namespace Sidecar.Forwarding.Http1;

/// <summary>What the host gives the forwarding core for the request log: the line and the scope Kestrel's pipeline gives a request.</summary>
internal interface ICoreRequestLog
{
    /// <summary>Whether requests get a log scope (and maybe a line): the request log is not off.</summary>
    public bool Scoped { get; }

    /// <summary>The line of a forwarded call the core answered, when the request log's mode writes one for it (the path's string is made only then).</summary>
    public void Answered(string method, ReadOnlySpan<char> path, int status, double elapsedMs, string service, int attempts, bool agentsProblem);

    /// <summary>An exception the call let out (a bug): logged as the pipeline's last-resort handler logs it.</summary>
    public void Unhandled(string method, string path, Exception exception);
}

/// <summary>
/// The forwarding core (docs/performance.md#the-forwarding-core): a connection middleware of the API listener that
/// answers the plainest calls itself, below Kestrel's HTTP layer, through the same <see cref="ForwardCall"/> as every
/// call, and gives the connection to Kestrel, bytes unread, at the first request it does not take. It takes a request
/// whose head <see cref="RequestHeadReader"/> takes, with no browser's fields (<c>Sec-Fetch-Site</c>, <c>Origin</c>),
/// in one of the three ways in (<c>/v1/invoke/{service}/...</c> on an IP literal or <c>localhost</c> Host, the Host
/// form, the absolute form), to a known service with no guard, hedging or cache, that <see cref="Forwarder.Check"/>
/// lets through, with tracing off; the answer's head is <see cref="AnswerHead"/>'s. <c>Forwarding:Core=false</c>
/// leaves every request to Kestrel.
/// </summary>
internal sealed class ForwardingCore(Forwarder forwarder, ICoreRequestLog log) : IDisposable
{
    /// <summary>How often the keep-alive time-out is checked: Kestrel's heartbeat, whose time-outs have the same grain.</summary>
    internal static readonly TimeSpan HeartbeatPeriod = TimeSpan.FromSeconds(1);

    // The connections the core serves, for its heartbeat (CoreConnection.Beat): one timer for all of them, rather than a
    // timer-queue update and a registered token per request (docs/performance.md#the-keep-alive-time-out-on-a-heartbeat).
    private readonly Lock _gate = new();
    private readonly HashSet<CoreConnection> _connections = [];
    private ITimer? _heartbeat;
    private bool _disposed;
    private long _served;

    /// <summary>How many requests the core took to answer itself (tests check it took the ones they send).</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Kestrel's keep-alive time-out: how long a connection may wait for its next request.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(130);

    internal Forwarder Forwarder => forwarder;

    internal ICoreRequestLog Log => log;

    /// <summary>The connection middleware (<c>ListenOptions.Use</c>).</summary>
    public ConnectionDelegate Use(ConnectionDelegate next) =>
        connection => forwarder.Tracing.Enabled ? next(connection) : new CoreConnection(this, connection, next).RunAsync();

    internal void CountServed() => Interlocked.Increment(ref _served);

    /// <summary>A connection the heartbeat watches, until <see cref="Remove"/>; the heartbeat runs while there is one.</summary>
    internal void Add(CoreConnection connection)
    {
        lock (_gate)
        {
            if (_connections.Add(connection) && _connections.Count == 1 && !_disposed)
            {
                if (_heartbeat is null)
                {
                    using var _ = ExecutionContext.SuppressFlow(); // not the first connection's context (its log scope) for good
                    _heartbeat = TimeProvider.System.CreateTimer(static s => ((ForwardingCore)s!).Beat(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                }

                _heartbeat.Change(HeartbeatPeriod, HeartbeatPeriod);
            }
        }
    }

    internal void Remove(CoreConnection connection)
    {
        lock (_gate)
        {
            if (_connections.Remove(connection) && _connections.Count == 0 && !_disposed)
            {
                _heartbeat?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _heartbeat?.Dispose();
        }
    }

    private void Beat()
    {
        CoreConnection[] connections;
        lock (_gate)
        {
            connections = [.. _connections];
        }

        // Outside the lock: ending a connection's wait may run its end on this thread (inline I/O), which removes it.
        var now = Environment.TickCount64;
        var keepAlive = (long)KeepAlive.TotalMilliseconds;
        foreach (var connection in connections)
        {
            connection.Beat(now, keepAlive);
        }
    }
}

/// <summary>One connection of the forwarding core: its requests one after the other until one is Kestrel's, or the connection ends.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification =
    "The body stream holds no resource.")]
internal sealed class CoreConnection
{
    private const int MaxHead = RequestHeadReader.MaxRequestLine + RequestHeadReader.MaxFieldsTotal;
    private const long Serving = 0;
    private const long Ended = -1;

    private readonly ForwardingCore _core;
    private readonly ConnectionContext _connection;
    private readonly ConnectionDelegate _next;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly HeadFields _fields = new();
    private readonly AnswerHead _head = new();
    private readonly AnswerBody _body;
    // Where the connection stands between requests: since when it waits for the next one (Environment.TickCount64), Serving
    // while it serves one, Ended once the keep-alive time-out or the stop ended its wait (then its pending read is cancelled).
    private long _waitingSince = Serving;
    private RequestLine _line;
    private string? _host;
    private (string? Raw, string? Host, string Service, string Target, ServicePool? Pool) _named = (null, null, "", "", null);
    private byte[]? _scratch;
    private RequestLogScope? _scope; // the request log's scope, entered once for the connection and restarted per call
    private CoreForwardCall? _call; // the call object, kept for the connection's calls one after the other
    private volatile bool _closeRequested;

    // The answer of the request being served.
    private bool _prepared;
    private bool _started;
    private bool _aborted;
    private bool _problem;
    private bool _outputEnded; // a flush of this answer found the caller's side of the pipe completed (the connection closing)
    private int _status;
    private AnswerFraming _framing;

    public CoreConnection(ForwardingCore core, ConnectionContext connection, ConnectionDelegate next)
    {
        _core = core;
        _connection = connection;
        _next = next;
        _input = connection.Transport.Input;
        _output = connection.Transport.Output;
        _body = new AnswerBody(this);
    }

    public async Task RunAsync()
    {
        var lifetime = _connection.Features.Get<IConnectionLifetimeNotificationFeature>();
        var closeRequested = lifetime is null ? default : lifetime.ConnectionClosedRequested.UnsafeRegister(static s => ((CoreConnection)s!).OnCloseRequested(), this);
        if (_core.Log.Scoped)
        {
            _scope = new RequestLogScope();
            RequestLogScope.Enter(_scope);
        }

        _core.Add(this);
        try
        {
            while (!_closeRequested)
            {
                // Kestrel's keep-alive time-out: a connection that sends no request for that long ends; the core's heartbeat
                // ends the wait (Beat), as the stop does (OnCloseRequested), by cancelling the pending read: no token per read.
                Interlocked.Exchange(ref _waitingSince, Math.Max(1, Environment.TickCount64));
                if (_closeRequested)
                {
                    return; // the stop came as the last call ended, and saw it still serving
                }

                var result = await _input.ReadAsync().ConfigureAwait(false);
                if (Interlocked.Exchange(ref _waitingSince, Serving) == Ended || result.IsCanceled)
                {
                    return; // idle too long, or the server stops (also when the wait ended as the read completed)
                }

                var buffer = result.Buffer;
                if (buffer.IsEmpty && result.IsCompleted)
                {
                    return; // the caller closed
                }

                if (result.IsCompleted || !TryTake(buffer, out var headLength, out var call))
                {
                    // Kestrel's from here: it reads the same bytes (nothing consumed, nothing examined); its requests
                    // get their own log scopes (RequestLoggingMiddleware), and what it writes outside them none.
                    _input.AdvanceTo(buffer.Start);
                    RequestLogScope.Enter(null);
                    await _next(_connection).ConfigureAwait(false);
                    return;
                }

                // The call is served here, not in a method of its own: one async method fewer to resume on every answer
                // (docs/performance.md#fewer-frames-on-a-calls-path-2026-12-04-sixth-session).
                _input.AdvanceTo(buffer.GetPosition(headLength));
                var started = Stopwatch.GetTimestamp();
                var forwarded = Begin(call);
                try
                {
                    try
                    {
                        await forwarded.RunBodilessAsync().ConfigureAwait(false);
                    }
                    finally
                    {
                        forwarded.Close();
                    }
                }
                catch (OperationCanceledException) when (_connection.ConnectionClosed.IsCancellationRequested)
                {
                    // the caller went away: nobody is left to answer (as ErrorHandlingMiddleware)
                }
#pragma warning disable CA1031 // as the pipeline's last-resort handler: nothing may escape as a stack trace or a dropped connection
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    _core.Log.Unhandled(_line.Method, Path(), ex);
                    WriteProblem(500, Problems.InternalCode, Problems.InternalTitle, Problems.InternalDetail);
                }

                var keepAlive = await FinishAsync().ConfigureAwait(false);
                Served(call, forwarded, started);
                if (!keepAlive)
                {
                    return;
                }
            }
        }
        finally
        {
            closeRequested.Dispose();
            _core.Remove(this);
        }
    }

    // The stop: a connection waiting for a request ends now, a busy one after its answer (with Connection: close).
    private void OnCloseRequested()
    {
        _closeRequested = true;
        Interlocked.MemoryBarrier(); // the loop, which sets its wait before it reads the flag, sees one or the other
        EndWait(Volatile.Read(ref _waitingSince));
    }

    /// <summary>The heartbeat (<see cref="ForwardingCore"/>): a connection that has waited for its next request for the keep-alive time-out ends.</summary>
    internal void Beat(long now, long keepAliveMs)
    {
        var since = Volatile.Read(ref _waitingSince);
        if (since > 0 && now - since >= keepAliveMs)
        {
            EndWait(since);
        }
    }

    // Cancels the pending read of a connection that still waits as it did at `since`: never a read of a request being served,
    // nor one Kestrel's (a connection handed over stays Serving), and only once.
    private void EndWait(long since)
    {
        if (since > 0 && Interlocked.CompareExchange(ref _waitingSince, Ended, since) == since)
        {
            _input.CancelPendingRead();
        }
    }

    /// <summary>Whether the head at the start of <paramref name="buffer"/> is a call the core takes; the call, and the head's length.</summary>
    private bool TryTake(in ReadOnlySequence<byte> buffer, out int headLength, out CoreCall call)
    {
        headLength = 0;
        call = default;
        ReadOnlySpan<byte> span;
        if (buffer.IsSingleSegment)
        {
            span = buffer.FirstSpan;
        }
        else
        {
            var length = (int)Math.Min(buffer.Length, MaxHead);
            _scratch ??= new byte[MaxHead];
            buffer.Slice(0, length).CopyTo(_scratch);
            span = _scratch.AsSpan(0, length);
        }

        var end = span[..Math.Min(span.Length, MaxHead)].IndexOf("\r\n\r\n"u8);
        if (end < 0 || !RequestHeadReader.TryRead(span[..(end + 4)], ref _line, _fields))
        {
            return false;
        }

        if (_fields.Has("Sec-Fetch-Site") || _fields.Has("Origin"))
        {
            return false; // a browser's request: the forward-proxy middleware's to judge
        }

        // The reader took one Host, of host characters only (ASCII): a new string only for a new Host.
        var bytes = _fields.ValueBytes(_line.HostField);
        var host = _host is { } last && System.Text.Ascii.Equals(bytes, last) ? last : (_host = System.Text.Encoding.ASCII.GetString(bytes));

        // A connection's calls often repeat their target and Host: named again only when either is new, and the service's
        // pool found again only when the catalog moved (ServicePools.IsCurrent).
        string service, target;
        var forwarder = _core.Forwarder;
        ServicePool? pool;
        if (ReferenceEquals(_line.RawTarget, _named.Raw) && ReferenceEquals(host, _named.Host))
        {
            (service, target, pool) = (_named.Service, _named.Target, _named.Pool);
            if (pool is null || !forwarder.Pools.IsCurrent(pool))
            {
                pool = _named.Pool = forwarder.Pools.Find(service);
            }
        }
        else if (TryName(host, out service, out target))
        {
            pool = forwarder.Pools.Find(service);
            _named = (_line.RawTarget, host, service, target, pool);
        }
        else
        {
            return false;
        }

        if (pool is null || pool.Admission is not null || pool.Cache is not null || pool.Hedges is not null ||
            forwarder.Check(pool, _line.Method, target, new CallerFields(_fields), out var requested) is not null)
        {
            return false; // an unknown service's 404, a refusal, a guarded call: Kestrel's
        }

        headLength = end + 4;
        var deadline = requested is { } value && value < pool.Policy.Timeout ? value : pool.Policy.Timeout;
        call = new CoreCall(pool, service, target, host, deadline);
        return true;
    }

    /// <summary>
    /// The service and target of a call in one of the three ways in, as the forward-proxy middleware and the plain
    /// <c>/v1/invoke</c> middleware name them: the absolute form's authority (<c>GET http://orders/x</c>), the Host
    /// form's single-label Host (<c>Host: orders</c>), or <c>/v1/invoke/{service}/...</c> on a Host that is an IP literal or
    /// <c>localhost</c>. False for what those leave to the agent's API or answer themselves (the 421 of an unknown Host).
    /// </summary>
    private bool TryName(string host, out string service, out string target)
    {
        var raw = _line.RawTarget;
        service = target = "";
        if (_line.PathStart > 0)
        {
            // The reader took the authority only with the same Host; an address or localhost may be the agent itself.
            var authority = _line.Authority;
            if (ForwardProxyMiddleware.AddressesTheAgent(authority) || !ForwardingOptions.IsServiceName(authority))
            {
                return false;
            }

            service = authority.ToString();
            target = raw[_line.PathStart..];
            return true;
        }

        ForwardProxyMiddleware.SplitHostPort(host, 80, out var hostName, out _);
        if (hostName.Length > 0 && ForwardProxyMiddleware.AddressesTheAgent(hostName))
        {
            return ForwardingExtensions.IsPlainInvoke(raw, raw) && ForwardingExtensions.TrySplitInvoke(raw, out service, out target) &&
                   ForwardingOptions.IsServiceName(service);
        }

        if (hostName.Contains('.') || !ForwardingOptions.IsServiceName(hostName))
        {
            return false;
        }

        service = hostName.ToString();
        target = raw;
        return true;
    }

    /// <summary>The call object for the connection's next call, its answer's state reset.</summary>
    private CoreForwardCall Begin(CoreCall call)
    {
        _core.CountServed();
        _scope?.Restart(new CallerFields(_fields));
        _prepared = _started = _aborted = _problem = _outputEnded = false;
        _status = 200;
        return _call is { } kept ? kept.Take(call) : (_call = new CoreForwardCall(this, call));
    }

    /// <summary>The call's line for the request log, once its answer is finished.</summary>
    private void Served(CoreCall call, CoreForwardCall forwarded, long started)
    {
        if (_scope is { } scope)
        {
            var status = _connection.ConnectionClosed.IsCancellationRequested && !_started ? CallTelemetry.ClientClosedRequest : _status;
            // An agent's problem: its own, or one an instance passed on (another agent's), as RequestLoggingMiddleware reads the answer's fields.
            var problem = _problem || (_prepared && _head.Has(Problems.ErrorHeader));
            _core.Log.Answered(_line.Method, PathSpan(), status, Stopwatch.GetElapsedTime(started).TotalMilliseconds, call.Pool.Name, forwarded.Attempts, problem);
            scope.Clear(); // what runs between this connection's calls carries no call's trace
        }
    }

    // The path as Kestrel's request gives it to the request log: the reader's paths need no decoding and hold no control character.
    private string Path() => PathSpan().ToString();

    private ReadOnlySpan<char> PathSpan()
    {
        var path = _line.RawTarget.AsSpan(_line.PathStart);
        var query = path.IndexOf('?');
        return query < 0 ? path : path[..query];
    }

    /// <summary>The end of the answer as Kestrel ends a response: the head if none went yet, the last chunk, the flush. Whether the connection goes on.</summary>
    private async ValueTask<bool> FinishAsync()
    {
        if (_aborted || _connection.ConnectionClosed.IsCancellationRequested)
        {
            return false;
        }

        if (!_started)
        {
            if (!_prepared)
            {
                _head.Reset(_status); // no answer was made: Kestrel's empty 200
            }

            _framing = _head.Write(_output, _line.Method, KeepAlive, ended: true, HttpDate.Now);
            _started = true;
        }

        AnswerHead.WriteEnd(_output, _framing);
        if (!_output.CanGetUnflushedBytes || _output.UnflushedBytes > 0)
        {
            _outputEnded = (await _output.FlushAsync().ConfigureAwait(false)).IsCompleted;
        }

        // (With nothing new since the body's last flush, none: a flush of nothing still wakes the transport's send loop, for an empty read.)
        return !_outputEnded && !_head.Closes && KeepAlive;
    }

    private bool KeepAlive => !_line.Close && !_closeRequested;

    /// <summary>The agent's own problem as the answer, or the connection aborted when the answer has started (written to the pipe: the flush is FinishAsync's).</summary>
    private void WriteProblem(int status, string code, string title, string detail)
    {
        if (_started)
        {
            Abort();
            return;
        }

        _head.WriteProblem(_output, _line.Method, KeepAlive, HttpDate.Now, status, code, title, detail);
        _started = _problem = true;
        _status = status;
        _framing = AnswerFraming.None; // written whole, its last chunk included
    }

    private void Abort()
    {
        _aborted = true;
        _connection.Abort(new ConnectionAbortedException("The answer could not be completed."));
    }

    /// <summary>The head of the answer, at its first body bytes (the framing then chosen as Kestrel chooses it).</summary>
    private async ValueTask WriteBodyAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var written = false;
        if (!_started)
        {
            _framing = _head.Write(_output, _line.Method, KeepAlive, ended: false, HttpDate.Now, data.Span, out written);
            _started = true;
        }

        if (!written)
        {
            AnswerHead.WriteBody(_output, _framing, data.Span);
        }

        // A caller that stops reading is bounded by the call's deadline (the token), not by Kestrel's minimum data rate.
        var flushed = await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flushed.IsCanceled)
        {
            throw new OperationCanceledException(cancellationToken);
        }

        _outputEnded = flushed.IsCompleted;
    }

    /// <summary>What a call the core took is: its service's pool, the service and target, the caller's Host, the deadline.</summary>
    private readonly record struct CoreCall(ServicePool Pool, string Service, string Target, string Host, TimeSpan Deadline);

    /// <summary>
    /// The exchange of a call the core took: the head's fields, the connection's abort, the answer written to its pipe.
    /// One per connection, taking its calls one after the other (<see cref="Take"/>).
    /// </summary>
    private sealed class CoreForwardCall(CoreConnection connection, CoreCall first)
        : ForwardCall(connection._core.Forwarder, first.Pool, first.Target, first.Deadline, connection._line.Method, new CallerFields(connection._fields), connection._connection.ConnectionClosed)
    {
        // The call's Host and service, for its telemetry (two fields, not the call's struct: a copy of it with its references is a bulk move).
        private string _host = first.Host;
        private string _service = first.Service;

        /// <summary>The connection's next call, the last one over.</summary>
        public CoreForwardCall Take(CoreCall call)
        {
            (_host, _service) = (call.Host, call.Service);
            Begin(call.Pool, call.Target, call.Deadline, connection._line.Method, Fields, connection._connection.ConnectionClosed);
            return this;
        }

        protected override CancellationToken Aborted => connection._connection.ConnectionClosed;

        protected override CallerFields Fields => new(connection._fields);

        protected override bool AnswerStarted => connection._started;

        protected override int AnswerStatus => connection._status;

        protected override AnswerHead? Answer => connection._head;

        // RequestHeadReader leaves to Kestrel a head with a control character (HTAB aside) in any value: none here.
        protected override bool FieldsChecked => true;

        protected override ValueTask<RequestBody?> ReadBodyAsync(ServicePolicy policy) => new(RequestBody.None);

        protected override ForwardedValues StartTelemetry(CallTelemetry telemetry) =>
            telemetry.Start(Forwarder, Fields, (connection._connection.RemoteEndPoint as IPEndPoint)?.Address, "http", _host, _service, connection._scope);

        protected override Stream StartAnswer(HttpResponseMessage response)
        {
            var head = connection._head;
            if (response is not LeanResponse { Answer: { } answer } || answer != head)
            {
                // An answer another client read (SocketsHttpHandler's: TLS, HTTP/2); the lean client's is in the head already.
                head.Reset((int)response.StatusCode);
                var target = new CoreAnswer(head);
                ResponseHeaders.Copy(response, ref target);
            }

            connection._status = head.Status;
            connection._prepared = true;
            return connection._body;
        }

        protected override void Abort() => connection.Abort();

        protected override Task WriteProblemAsync(int status, string code, string title, string detail)
        {
            connection.WriteProblem(status, code, title, detail);
            return Task.CompletedTask;
        }
    }

    /// <summary>The answer's body as the forwarder copies it: written to the connection's pipe in the framing of the head.</summary>
    private sealed class AnswerBody(CoreConnection connection) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            connection.WriteBodyAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            connection.WriteBodyAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("The answer is written asynchronously.");

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
