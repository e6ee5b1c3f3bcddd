using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Sidecar.Platform;

/// <summary>
/// The request features the forwarding path reads on every call, through the feature collection's
/// indexer: a plain interface call, where <c>Features.Get&lt;T&gt;()</c> is a generic virtual one that
/// NativeAOT resolves through a lookup each time, and Kestrel's shared generic code compares the type
/// through another (together about 1.3% of the agent's profile samples, docs/performance.md#what-was-tuned).
/// </summary>
internal static class HttpFeatures
{
    /// <summary>The request target as the caller wrote it (Kestrel always has it).</summary>
    public static string RawTarget(HttpContext context) =>
        (context.Features[typeof(IHttpRequestFeature)] as IHttpRequestFeature ?? throw new InvalidOperationException("The request has no IHttpRequestFeature.")).RawTarget;

    /// <summary>The connection's items (which listener it came on); null outside a server.</summary>
    public static IConnectionItemsFeature? ConnectionItems(HttpContext context) =>
        context.Features[typeof(IConnectionItemsFeature)] as IConnectionItemsFeature;

    /// <summary>Whether the request can have a body (its framing says so); null when the server does not tell.</summary>
    public static bool? CanHaveBody(HttpContext context) =>
        (context.Features[typeof(IHttpRequestBodyDetectionFeature)] as IHttpRequestBodyDetectionFeature)?.CanHaveBody;

    /// <summary>The server's body size limit of this request, when it has one.</summary>
    public static IHttpMaxRequestBodySizeFeature? MaxRequestBodySize(HttpContext context) =>
        context.Features[typeof(IHttpMaxRequestBodySizeFeature)] as IHttpMaxRequestBodySizeFeature;
}
