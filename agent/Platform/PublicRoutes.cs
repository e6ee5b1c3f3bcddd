namespace Sidecar.Platform;

/// <summary>
/// Paths a capability serves on the public health listener besides the health routes (the actuator's,
/// docs/actuator.md): claimed here, they pass its guard with any method, and the capability's own routes
/// answer them (a method they do not take is a 405 there as on the API). Nothing is claimed by default.
/// A capability also names its probes here: the paths monitors poll, whose GETs get no request line unless
/// <c>SIDECAR_LOG_PROBES</c> is true, as the health routes (<see cref="RequestLoggingMiddleware"/>).
/// </summary>
internal sealed class PublicRoutes
{
    private readonly List<Func<string, bool>> _claims = [];
    private readonly List<Func<string, bool>> _probes = [];

    /// <summary>Adds a test of the paths monitors poll (Spring Boot Admin's health every 10 s).</summary>
    public void AddProbes(Func<string, bool> probes) => _probes.Add(probes);

    public bool IsProbe(string path)
    {
        foreach (var probe in _probes)
        {
            if (probe(path))
            {
                return true;
            }
        }

        return false;
    }

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
