using Microsoft.Extensions.Primitives;
using Sidecar.Observability;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// An attempt's headers for the lean client, written straight from Kestrel's request headers into the
/// head's bytes (docs/performance.md#the-request-head-from-kestrels-headers): the rules are <see cref="ProxyHeaders"/>',
/// the same ones that fill an <see cref="HttpRequestMessage"/> (<see cref="MessageHeaders"/>), with no copy
/// into <c>HttpHeaders</c> between. A request that goes to another handler after all gets them copied (<see cref="CopyTo"/>).
/// The caller's values were checked before the instance was picked (<see cref="ProxyHeaders.FindControlCharacter(CallerFields)"/>).
/// </summary>
internal sealed class ForwardedHead(CallerFields fields, ForwardedValues forwarded, System.Diagnostics.Activity? attempt) : Http1.DirectHead
{
    private CallerFields _fields = fields;
    private ForwardedValues _forwarded = forwarded;
    private System.Diagnostics.Activity? _attempt = attempt;

    /// <summary>Another attempt's headers, with a request kept for it (<see cref="ForwardCall"/>'s, aimed again).</summary>
    public void Aim(CallerFields fields, ForwardedValues forwarded, System.Diagnostics.Activity? attempt) =>
        (_fields, _forwarded, _attempt) = (fields, forwarded, attempt);

    public override void Write(Http1.HeadBuffer output, bool hasContent)
    {
        var target = new Http1.HeadLines(output, hasContent);
        Fill(ref target);
    }

    public override void CopyTo(HttpRequestMessage request)
    {
        var target = new MessageHeaders(request);
        Fill(ref target);
    }

    private void Fill<T>(ref T target)
        where T : struct, IHeaderTarget
    {
        ProxyHeaders.CopyRequestHeaders(_fields, ref target, _forwarded, check: false);
        ProxyHeaders.InjectTrace(ref target, _forwarded, _attempt);
    }
}

/// <summary>
/// An <see cref="HttpRequestMessage"/>'s headers as a header target: a caller's header the request's
/// collection refuses (a content header: <c>Content-Type</c>, <c>Expires</c>...) goes to its content's, and
/// is dropped when it has none.
/// </summary>
internal readonly struct MessageHeaders(HttpRequestMessage request) : IHeaderTarget
{
    public void Add(FieldName name, string value) => request.Headers.TryAddWithoutValidation(name.Text, value);

    public void Add(FieldName name, scoped ReadOnlySpan<char> value) => request.Headers.TryAddWithoutValidation(name.Text, value.ToString());

    public void Add(FieldName name, scoped ReadOnlySpan<byte> ascii) => request.Headers.TryAddWithoutValidation(name.Text, System.Text.Encoding.ASCII.GetString(ascii));

    public void AddForwarded(ForwardedLines lines)
    {
        var target = this;
        lines.WriteTo(ref target);
    }

    public void AddLine(scoped ReadOnlySpan<char> name, scoped ReadOnlySpan<byte> nameBytes, scoped ReadOnlySpan<byte> value) =>
        AddValues(name.ToString(), System.Text.Encoding.Latin1.GetString(value));

    public void AddValues(string name, StringValues values)
    {
        if (values.Count == 1)
        {
            var value = values[0];
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content?.Headers.TryAddWithoutValidation(name, value);
            }
        }
        else if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
        {
            request.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
        }
    }
}
