using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Primitives;
using Sidecar.Forwarding.Http1;
using Sidecar.Platform;

namespace Sidecar.Forwarding;

/// <summary>
/// An instance's answer head as the forwarder reads it (docs/performance.md#what-was-tuned): the lean client's
/// answer (<see cref="LeanResponse"/>) from its fields, straight into Kestrel's response, any other from
/// HttpHeaders' collections (<see cref="ProxyHeaders.CopyResponseHeaders"/>), by the same rules: hop-by-hop
/// headers and the ones the answer's <c>Connection</c> names dropped, several fields of one name one
/// value list in order, the response's headers before the content's (as HttpHeaders enumerates them), a
/// value Kestrel refuses dropped with nothing else.
/// </summary>
internal static class ResponseHeaders
{
    private const string RetryAfterName = "Retry-After";

    /// <summary>Copies the headers of <paramref name="response"/> into Kestrel's <paramref name="target"/> with the proxy's rules.</summary>
    public static void Copy(HttpResponseMessage response, IHeaderDictionary target)
    {
        var kestrel = new KestrelAnswer(target);
        Copy(response, ref kestrel);
    }

    /// <summary>Copies the headers of <paramref name="response"/> to <paramref name="target"/> with the proxy's rules: Kestrel's, or the forwarding core's head.</summary>
    public static void Copy<T>(HttpResponseMessage response, ref T target)
        where T : struct, IAnswerTarget
    {
        if (response is LeanResponse lean)
        {
            CopyFields(lean, ref target);
        }
        else
        {
            ProxyHeaders.CopyResponseHeaders(response, ref target);
        }
    }

    /// <summary>
    /// The answer's <c>Retry-After</c> (a 429's or a 503's), parsed by HttpHeaders' own parser whichever client
    /// read it; the answer's own headers are not parsed in place, so the copy passes the value on as it came.
    /// </summary>
    public static RetryConditionHeaderValue? RetryAfter(HttpResponseMessage response)
    {
        HttpResponseMessage? scratch = null;
        if (response is LeanResponse lean)
        {
            for (var i = 0; i < lean.Fields.Length; i++)
            {
                if (string.Equals(lean.Fields[i].Name, RetryAfterName, StringComparison.OrdinalIgnoreCase))
                {
                    (scratch ??= new HttpResponseMessage()).Headers.TryAddWithoutValidation(RetryAfterName, lean.ValueOf(i));
                }
            }
        }
        else if (response.Headers.NonValidated.TryGetValues(RetryAfterName, out var values))
        {
            scratch = new HttpResponseMessage();
            foreach (var value in values)
            {
                scratch.Headers.TryAddWithoutValidation(RetryAfterName, value);
            }
        }

        using (scratch)
        {
            return scratch?.Headers.RetryAfter;
        }
    }

    /// <summary>The lean answer's fields into Kestrel's headers, as <see cref="ProxyHeaders.CopyResponseHeaders"/> copies HttpHeaders' collections.</summary>
    /// <param name="lean">The answer: its fields in the order they came, and whether some name came more than once (otherwise each field is copied alone).</param>
    /// <param name="target">Kestrel's response headers, or the forwarding core's answer head (<see cref="AnswerHead"/>).</param>
    internal static void CopyFields<T>(LeanResponse lean, ref T target)
        where T : struct, IAnswerTarget
    {
        // Only a Connection field naming something beyond the hop-by-hop headers (nginx's "keep-alive" does not) makes each name worth checking.
        var fields = lean.Fields;
        var checkConnection = false;
        for (var i = 0; i < fields.Length; i++)
        {
            if (string.Equals(fields[i].Name, "Connection", StringComparison.OrdinalIgnoreCase) && NamesMore(lean.ValueOf(i)))
            {
                checkConnection = true;
            }
        }

        // HttpHeaders enumerated the response's headers, then the content's.
        CopyPass(lean, content: false, checkConnection, ref target);
        CopyPass(lean, content: true, checkConnection, ref target);
    }

    private static void CopyPass<T>(LeanResponse lean, bool content, bool checkConnection, ref T target)
        where T : struct, IAnswerTarget
    {
        var fields = lean.Fields;
        var repeats = lean.HasRepeatedNames;
        for (var i = 0; i < fields.Length; i++)
        {
            var name = fields[i].Name;
            if (fields[i].Content != content || ProxyHeaders.IsHopByHop(name) || (checkConnection && IsNamedByConnection(lean, name)) || (repeats && SeenBefore(fields, i)))
            {
                continue;
            }

            var count = 1;
            for (var j = i + 1; repeats && j < fields.Length; j++)
            {
                if (fields[j].SameName(fields[i]))
                {
                    count++;
                }
            }

            if (count == 1)
            {
                target.Set(name, fields[i].Value);
                continue;
            }

            // Several fields of one name: one list, in the order they came (as HttpHeaders kept them).
            var values = new string[count];
            for (int j = i, k = 0; k < count; j++)
            {
                if (fields[j].SameName(fields[i]))
                {
                    values[k++] = lean.ValueOf(j);
                }
            }

            target.Set(name, new StringValues(values));
        }
    }

    private static bool SeenBefore(ReadOnlySpan<ResponseField> fields, int index)
    {
        for (var j = 0; j < index; j++)
        {
            if (fields[j].SameName(fields[index]))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsNamedByConnection(LeanResponse lean, string name)
    {
        for (var i = 0; i < lean.Fields.Length; i++)
        {
            if (string.Equals(lean.Fields[i].Name, "Connection", StringComparison.OrdinalIgnoreCase) && FieldLists.Contains(lean.ValueOf(i), name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a <c>Connection</c> field's list names a field that is not hop-by-hop anyway (then dropped whatever it says).</summary>
    internal static bool NamesMore(string list)
    {
        foreach (var range in list.AsSpan().Split(','))
        {
            var token = list.AsSpan()[range].Trim();
            if (!token.IsEmpty && !token.Equals("keep-alive", StringComparison.OrdinalIgnoreCase) && !ProxyHeaders.IsHopByHop(token.ToString()))
            {
                return true;
            }
        }

        return false;
    }
}
