using Microsoft.Extensions.Primitives;
using Sidecar.Platform;

namespace Sidecar.Observability;

/// <summary>The trace header formats the agent reads and writes (<c>OTEL_PROPAGATORS</c>).</summary>
[Flags]
internal enum Propagators
{
    None = 0,

    /// <summary>W3C Trace Context: <c>traceparent</c>, <c>tracestate</c>.</summary>
    TraceContext = 1,

    /// <summary>W3C Baggage: <c>baggage</c> is passed on as it came (the agent adds no entries), whatever the setting.</summary>
    Baggage = 2,

    /// <summary>B3 single header (<c>b3: {trace}-{span}-{sampled}</c>), as Zipkin and Spring Cloud Sleuth send it.</summary>
    B3 = 4,

    /// <summary>B3 multiple headers (<c>X-B3-TraceId</c>, <c>X-B3-SpanId</c>, <c>X-B3-Sampled</c>), Sleuth's default.</summary>
    B3Multi = 8,
}

/// <summary>
/// Reading the caller's trace from the configured formats, and writing the outgoing one in each of them.
/// Inside, a trace is a W3C <c>traceparent</c> string (<c>00-{trace}-{span}-{flags}</c>) whatever format it
/// came in: a B3 trace id of 64 bits is left-padded to 128 (the OpenTelemetry B3 propagator does the same),
/// B3's sampled (or debug) flag is the W3C sampled flag. Extraction tries W3C first, then B3's single header,
/// then its multiple headers (B3 is read in both forms when either is configured, as the OpenTelemetry
/// specification asks of a B3 propagator).
/// </summary>
internal static class TracePropagation
{
    public const string B3Header = "b3";
    public const string B3TraceId = "X-B3-TraceId";
    public const string B3SpanId = "X-B3-SpanId";
    public const string B3Sampled = "X-B3-Sampled";
    public const string B3Flags = "X-B3-Flags";
    public const string B3ParentSpanId = "X-B3-ParentSpanId";

    // The names as written: their bytes made once (FieldName).
    private static readonly FieldName TraceParentField = new("traceparent");
    private static readonly FieldName TraceStateField = new("tracestate");
    private static readonly FieldName B3Field = new(B3Header);
    private static readonly FieldName B3TraceIdField = new(B3TraceId);
    private static readonly FieldName B3SpanIdField = new(B3SpanId);
    private static readonly FieldName B3SampledField = new(B3Sampled);

    /// <summary>The caller's trace as a <c>traceparent</c>, and its <c>tracestate</c> (W3C only); null when none valid came in a configured format.</summary>
    public static (string? TraceParent, string? TraceState) Extract(IHeaderDictionary headers, Propagators formats) =>
        Extract(new CallerFields(headers), formats);

    /// <inheritdoc cref="Extract(IHeaderDictionary, Propagators)"/>
    public static (string? TraceParent, string? TraceState) Extract(CallerFields headers, Propagators formats)
    {
        if ((formats & Propagators.TraceContext) != 0)
        {
            var traceParent = headers.TraceParent;
            if (traceParent.Count == 1 && TraceParent.IsValid(traceParent[0]))
            {
                var state = headers.TraceState;
                return (traceParent[0], state.Count == 0 ? null : state.Count == 1 ? state[0] : string.Join(",", (IEnumerable<string?>)state));
            }
        }

        if ((formats & (Propagators.B3 | Propagators.B3Multi)) != 0)
        {
            return (FromB3Single(headers[B3Header]) ?? FromB3Multi(headers), null);
        }

        return (null, null);
    }

    /// <summary><c>b3: {trace}-{span}[-{sampled}[-{parent}]]</c>; a lone sampling decision (<c>b3: 0</c>) carries no trace.</summary>
    internal static string? FromB3Single(StringValues values)
    {
        if (values.Count != 1 || values[0] is not { } value)
        {
            return null;
        }

        var parts = value.Trim().Split('-');
        if (parts.Length < 2)
        {
            return null;
        }

        var sampled = parts.Length >= 3 ? parts[2] : null;
        return Compose(parts[0], parts[1], sampled is "1" or "d" ? true : sampled is "0" ? false : null);
    }

    internal static string? FromB3Multi(CallerFields headers)
    {
        var trace = headers[B3TraceId];
        var span = headers[B3SpanId];
        if (trace.Count != 1 || span.Count != 1)
        {
            return null;
        }

        var sampled = headers[B3Sampled].ToString();
        var debug = headers[B3Flags].ToString() == "1";
        return Compose(trace[0]!, span[0]!, debug || sampled is "1" or "true" ? true : sampled is "0" or "false" ? false : null);
    }

    // A deferred decision (no sampled flag) becomes "sampled": the caller records unless told otherwise, as B3 callers do.
    private static string? Compose(string traceId, string spanId, bool? sampled)
    {
        traceId = traceId.Trim().ToLowerInvariant();
        spanId = spanId.Trim().ToLowerInvariant();
        if (traceId.Length == 16)
        {
            traceId = "0000000000000000" + traceId;
        }

        var traceParent = $"00-{traceId}-{spanId}-{(sampled == false ? "00" : "01")}";
        return TraceParent.IsValid(traceParent) ? traceParent : null;
    }

    /// <summary>Writes <paramref name="traceParent"/> in every configured format onto the outgoing request.</summary>
    /// <param name="target">The outgoing request's headers: a message's, or its head's lines (no string made per header for these).</param>
    /// <param name="formats">The configured formats.</param>
    /// <param name="traceParent">The trace the instance is to see.</param>
    /// <param name="traceState">W3C tracestate to pass on, if any.</param>
    /// <param name="deferred">
    /// A trace the agent started without recording it (tracing off, no caller trace): B3 gets no sampled flag,
    /// so the instance decides itself, where <c>X-B3-Sampled: 0</c> would stop it from recording.
    /// </param>
    public static void Inject<T>(ref T target, Propagators formats, string traceParent, string? traceState, bool deferred = false)
        where T : struct, IHeaderTarget => Inject(ref target, formats, traceParent, traceParent, traceState, deferred);

    /// <inheritdoc cref="Inject{T}(ref T, Propagators, string, string?, bool)"/>
    /// <remarks>A trace composed on the stack (<see cref="NewTrace"/>): a string is made only where the target keeps one.</remarks>
    public static void Inject<T>(ref T target, Propagators formats, ReadOnlySpan<char> traceParent, string? traceState, bool deferred = false)
        where T : struct, IHeaderTarget => Inject(ref target, formats, traceParent, null, traceState, deferred);

    /// <summary>
    /// A trace the agent started (<see cref="NewTrace"/>: tracing off, no caller trace, so no tracestate either) in every configured
    /// format; W3C's alone, the usual case, is written as bytes, with no characters to encode.
    /// </summary>
    public static void Inject<T>(ref T target, Propagators formats, NewTrace created)
        where T : struct, IHeaderTarget
    {
        if ((formats & (Propagators.B3 | Propagators.B3Multi)) == 0)
        {
            if ((formats & Propagators.TraceContext) != 0)
            {
                Span<byte> ascii = stackalloc byte[NewTrace.Length];
                created.Format(ascii);
                target.Add(TraceParentField, ascii);
            }

            return;
        }

        Span<char> traceParent = stackalloc char[NewTrace.Length];
        created.Format(traceParent);
        Inject(ref target, formats, traceParent, null, null, deferred: true);
    }

    private static void Inject<T>(ref T target, Propagators formats, ReadOnlySpan<char> traceParent, string? text, string? traceState, bool deferred)
        where T : struct, IHeaderTarget
    {
        if ((formats & Propagators.TraceContext) != 0)
        {
            if (text is not null)
            {
                target.Add(TraceParentField, text);
            }
            else
            {
                target.Add(TraceParentField, traceParent);
            }

            if (traceState is not null)
            {
                target.Add(TraceStateField, traceState);
            }
        }

        if ((formats & (Propagators.B3 | Propagators.B3Multi)) == 0)
        {
            return;
        }

        var traceId = traceParent.Slice(3, 32);
        var spanId = traceParent.Slice(36, 16);
        var sampled = (byte.Parse(traceParent.Slice(53, 2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture) & 1) == 1 ? "1" : "0";
        if ((formats & Propagators.B3) != 0)
        {
            // {trace}-{span}[-{sampled}], composed on the stack.
            Span<char> single = stackalloc char[51];
            traceId.CopyTo(single);
            single[32] = '-';
            spanId.CopyTo(single[33..]);
            single[49] = '-';
            single[50] = sampled[0];
            target.Add(B3Field, deferred ? single[..49] : single);
        }

        if ((formats & Propagators.B3Multi) != 0)
        {
            target.Add(B3TraceIdField, traceId);
            target.Add(B3SpanIdField, spanId);
            if (!deferred)
            {
                target.Add(B3SampledField, sampled);
            }
        }
    }
}
