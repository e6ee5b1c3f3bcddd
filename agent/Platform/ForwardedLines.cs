namespace Sidecar.Platform;

/// <summary>
/// The four fields every forwarded request gets from this hop, in this order: <c>X-Forwarded-For</c> (appended to),
/// <c>X-Forwarded-Proto</c>, <c>X-Forwarded-Host</c> (when the caller sent a <c>Host</c>) and <c>Via</c> (appended to).
/// A connection's calls usually carry the same four values, so a call takes the last call's object when its values are
/// the same (<c>ProxyHeaders.ForwardedValues</c>),
/// and with it the head lines the lean client made of them once (<see cref="Encoded"/>;
/// docs/performance.md#the-added-fields-and-the-time-out-once-per-connection-2026-12-05-twelfth-session).
/// </summary>
internal sealed class ForwardedLines(string @for, string proto, string? host, string via) : IEquatable<ForwardedLines>
{
    private static readonly FieldName XForwardedFor = new("X-Forwarded-For");
    private static readonly FieldName XForwardedProto = new("X-Forwarded-Proto");
    private static readonly FieldName XForwardedHost = new("X-Forwarded-Host");
    private static readonly FieldName ViaName = new("Via");

    public string For { get; } = @for;

    public string Proto { get; } = proto;

    public string? Host { get; } = host;

    public string Via { get; } = via;

    /// <summary>The four lines as a request head writes them (the lean client's <c>HeadLines</c>), made the first time one is written; the values are this object's, which never change.</summary>
    internal byte[]? Encoded { get; set; }

    /// <summary>Whether these are the values given.</summary>
    public bool Matches(string @for, string proto, string? host, string via) =>
        string.Equals(For, @for, StringComparison.Ordinal) && string.Equals(Proto, proto, StringComparison.Ordinal) &&
        string.Equals(Host, host, StringComparison.Ordinal) && string.Equals(Via, via, StringComparison.Ordinal);

    public bool Equals(ForwardedLines? other) => other is not null && Matches(other.For, other.Proto, other.Host, other.Via);

    public override bool Equals(object? obj) => Equals(obj as ForwardedLines);

    public override int GetHashCode() => HashCode.Combine(For, Proto, Host, Via);

    /// <summary>The four fields, one <see cref="IHeaderTarget.Add(FieldName, string)"/> each.</summary>
    public void WriteTo<T>(ref T target)
        where T : struct, IHeaderTarget
    {
        target.Add(XForwardedFor, For);
        target.Add(XForwardedProto, Proto);
        if (Host is not null)
        {
            target.Add(XForwardedHost, Host);
        }

        target.Add(ViaName, Via);
    }
}
