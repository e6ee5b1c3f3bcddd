using Microsoft.Extensions.Primitives;

namespace Sidecar.Platform;

/// <summary>Where an answer's fields go: Kestrel's response headers, or the forwarding core's answer head (the forwarding core's <c>AnswerHead</c>).</summary>
internal interface IAnswerTarget
{
    /// <summary>Sets a field; a value the target refuses (a control character) drops that field, and nothing else.</summary>
    public void Set(string name, StringValues values);
}

/// <summary>Kestrel's response headers as an answer target.</summary>
internal readonly struct KestrelAnswer(IHeaderDictionary headers) : IAnswerTarget
{
    public void Set(string name, StringValues values)
    {
        try
        {
            headers[name] = values;
        }
        catch (InvalidOperationException)
        {
            // Kestrel refuses a value with a control character: that header is dropped, the rest goes on,
            // nothing logged (an instance could flood the log).
        }
    }
}
