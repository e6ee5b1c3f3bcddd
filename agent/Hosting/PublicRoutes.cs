namespace Sidecar.Hosting;

/// <summary>
/// Paths a capability serves on the public health listener besides the health routes (the actuator's,
/// docs/actuator.md): claimed here, they pass its guard with any method, and the capability's own routes
/// answer them (a method they do not take is a 405 there as on the API). Nothing is claimed by default.
/// </summary>
internal sealed class PublicRoutes
{
    private readonly List<Func<string, bool>> _claims = [];

    /// <summary>Adds a claim: a test of the request path. Call while the app is built, not while it serves.</summary>
    public void Add(Func<string, bool> claims) => _claims.Add(claims);

    public bool Claims(string path)
    {
        foreach (var claim in _claims)
        {
            if (claim(path))
            {
                return true;
            }
        }

        return false;
    }
}
