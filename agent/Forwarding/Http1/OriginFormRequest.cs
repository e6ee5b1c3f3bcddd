using System.Buffers;

namespace Sidecar.Forwarding.Http1;

/// <summary>
/// A forwarded request whose instance address and origin-form target are kept apart
/// (docs/performance.md#the-lean-http11-upstream-client): the lean client writes the target as it is and
/// finds its connections by the address made once per instance, so no <see cref="Uri"/> is built and
/// parsed per attempt. Its <see cref="HttpRequestMessage.RequestUri"/> stays null until the request is
/// passed to another handler, which gets the absolute URI it needs (<see cref="MakeAbsolute"/>).
/// </summary>
internal sealed class OriginFormRequest(HttpMethod method) : HttpRequestMessage(method, (Uri?)null)
{
    // What an absolute URI made of a prefix and a target keeps as it is (the path and query unchanged).
    private static readonly UriCreationOptions RawPathAndQuery = new() { DangerousDisablePathAndQueryCanonicalization = true };

    // RFC 3986's pchar, "/" and "?": a target of these only is the same string as the PathAndQuery of the
    // absolute URI made from it (table-tested); any other character takes the URI, as before.
    private static readonly SearchValues<char> PlainTargetChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@%/?");

    /// <summary>The instance's address; null until <see cref="Aim"/>.</summary>
    public Http1Origin? Origin { get; private set; }

    /// <summary>The origin-form target (path and query) as the caller sent it; null until <see cref="Aim"/>.</summary>
    public string? Target { get; private set; }

    /// <summary>The header lines written straight into the head (the forwarder's, from the caller's headers); null when the message's headers are the request's.</summary>
    public DirectHead? Head { get; private set; }

    /// <summary>The head the answer's fields are written into as they are read (<see cref="LeanResponse.Answer"/>, the forwarding core's); null: they are kept in the answer.</summary>
    public AnswerHead? Answer { get; set; }

    /// <summary>
    /// The answer to this request's last exchange once disposed (<see cref="LeanResponse.For"/>): the forwarding core's
    /// next call on the same request takes it again, with its content and body stream, rather than three new objects.
    /// </summary>
    internal LeanResponse? KeptAnswer { get; set; }

    /// <summary>True when <paramref name="target"/> may be sent without a URI (see <see cref="PlainTargetChars"/>).</summary>
    public static bool IsPlain(string target) => target.StartsWith('/') && !target.AsSpan().ContainsAnyExcept(PlainTargetChars);

    /// <summary>The absolute URI of <paramref name="prefix"/> (<c>scheme://authority</c>) and the origin-form <paramref name="target"/>, its path and query kept as they are.</summary>
    public static Uri AbsoluteUri(string prefix, string target) => new(prefix + target, in RawPathAndQuery);

    /// <summary>
    /// Aims the request at <paramref name="target"/> on <paramref name="origin"/> without a URI (the lean client takes it),
    /// its headers written by <paramref name="head"/> straight into the head when given.
    /// </summary>
    public void Aim(Http1Origin origin, string target, DirectHead? head = null)
    {
        Origin = origin;
        Target = target;
        Head = head;
        RequestUri = null;
    }

    /// <summary>
    /// Sets the absolute URI another handler needs, and copies the headers a <see cref="DirectHead"/> would
    /// have written into the message's (that handler reads them there); a no-op for a request with both already.
    /// </summary>
    public void MakeAbsolute()
    {
        if (RequestUri is null && Origin is not null && Target is not null)
        {
            RequestUri = AbsoluteUri(Origin.Prefix, Target);
        }

        if (Head is { } head)
        {
            Head = null;
            head.CopyTo(this);
        }
    }
}

/// <summary>An instance's address as the lean client uses it, made once per instance (its URI parsed once, not per attempt).</summary>
internal sealed class Http1Origin
{
    /// <param name="prefix"><c>http://host:port</c> (no path).</param>
    public Http1Origin(string prefix)
    {
        Prefix = prefix;
        Authority = new Uri(prefix, UriKind.Absolute);
        Host = Authority.IdnHost;
        Port = Authority.Port;
        IsHttp = string.Equals(Authority.Scheme, Uri.UriSchemeHttp, StringComparison.Ordinal);
    }

    /// <summary><c>scheme://host:port</c>, to which an origin-form target is appended.</summary>
    public string Prefix { get; }

    /// <summary>The prefix as a URI (the endpoint's host line and connect address come from it).</summary>
    public Uri Authority { get; }

    /// <summary>The host as the endpoints are keyed (<see cref="Uri.IdnHost"/>).</summary>
    public string Host { get; }

    public int Port { get; }

    /// <summary>Plain <c>http</c>: the lean client may take its calls.</summary>
    public bool IsHttp { get; }

    /// <summary>The lean client's endpoint for this address, remembered at its first call (checked against the client and its sweep at each use).</summary>
    public Http1Endpoint? Endpoint { get; set; }
}
