namespace Sidecar.Observability;

/// <summary>
/// The <c>method</c> label of forwarding metrics: the usual HTTP methods by name and <c>OTHER</c> for
/// anything else, so a caller inventing methods cannot add label values.
/// </summary>
internal static class MethodClass
{
    public const int Other = 7;

    public static readonly string[] Labels = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER"];

    /// <summary>Index into <see cref="Labels"/>; Kestrel interns the common methods, so these are reference compares.</summary>
    public static int Of(string method) =>
        HttpMethods.IsGet(method) ? 0 :
        HttpMethods.IsHead(method) ? 1 :
        HttpMethods.IsPost(method) ? 2 :
        HttpMethods.IsPut(method) ? 3 :
        HttpMethods.IsDelete(method) ? 4 :
        HttpMethods.IsPatch(method) ? 5 :
        HttpMethods.IsOptions(method) ? 6 :
        Other;
}
