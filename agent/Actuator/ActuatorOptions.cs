using Sidecar.Configuration;

namespace Sidecar.Actuator;

/// <summary>The endpoints the agent's actuator can serve (docs/actuator.md#endpoints), Spring Boot's ids.</summary>
internal enum ActuatorEndpoint
{
    Health,
    Info,
    Prometheus,
    Loggers,
    Env,
    Metrics,
}

/// <summary>How <c>env</c> shows values (<c>Actuator:ShowValues</c>, Spring Boot's <c>management.endpoint.env.show-values</c>).</summary>
internal enum ShowValues
{
    /// <summary>Every value, with secret-looking keys and secret parts masked (docs/actuator.md#env).</summary>
    Always,

    /// <summary>Every value masked (<c>******</c>): Spring Boot 3's default.</summary>
    Never,
}

/// <summary>
/// The Spring Boot actuator the agent serves (<c>Actuator:*</c>, the <c>SIDECAR_ACTUATOR_*</c> variables,
/// docs/actuator.md): under <see cref="BasePath"/> on the public health listener (and the API), health and
/// info always, the others when exposed.
/// </summary>
internal sealed record ActuatorOptions
{
    /// <summary>Spring Boot's default <c>management.endpoints.web.base-path</c>.</summary>
    public const string DefaultBasePath = "/actuator";

    /// <summary>Where the actuator answers (<c>Actuator:BasePath</c>). Default <c>/actuator</c>.</summary>
    public string BasePath { get; init; } = DefaultBasePath;

    /// <summary>The endpoints served: health and info always, the others when <c>SIDECAR_ACTUATOR_EXPOSE</c> names them.</summary>
    public IReadOnlySet<ActuatorEndpoint> Exposed { get; init; } = new HashSet<ActuatorEndpoint> { ActuatorEndpoint.Health, ActuatorEndpoint.Info };

    /// <summary>The Basic auth user for the endpoints other than the index, health and info (<c>SIDECAR_ACTUATOR_USER</c>). Default none: no auth.</summary>
    public string? User { get; init; }

    /// <summary>Its password (<c>SIDECAR_ACTUATOR_PASSWORD</c>); set with <see cref="User"/> or not at all.</summary>
    public string? Password { get; init; }

    /// <summary>How <c>env</c> shows values (<c>Actuator:ShowValues</c>). Default <see cref="Actuator.ShowValues.Always"/>, masked by key.</summary>
    public ShowValues ShowValues { get; init; } = ShowValues.Always;

    /// <summary>Values for <c>info</c> given in the settings (<c>Actuator:Info:build:version=1.2.0</c>), as dotted keys (<c>build.version</c>).</summary>
    public IReadOnlyDictionary<string, string> Info { get; init; } = new Dictionary<string, string>();

    /// <summary>True when Basic auth protects the exposed endpoints other than the index, health and info.</summary>
    public bool AuthRequired => User is not null;

    public bool IsExposed(ActuatorEndpoint endpoint) => Exposed.Contains(endpoint);

    /// <summary>The names <c>SIDECAR_ACTUATOR_EXPOSE</c> takes, <c>*</c> aside.</summary>
    internal static readonly IReadOnlyDictionary<string, ActuatorEndpoint> Names = new Dictionary<string, ActuatorEndpoint>(StringComparer.OrdinalIgnoreCase)
    {
        ["health"] = ActuatorEndpoint.Health,
        ["info"] = ActuatorEndpoint.Info,
        ["prometheus"] = ActuatorEndpoint.Prometheus,
        ["loggers"] = ActuatorEndpoint.Loggers,
        ["env"] = ActuatorEndpoint.Env,
        ["metrics"] = ActuatorEndpoint.Metrics,
    };

    // Paths the agent serves itself: a base path there would shadow them (or be shadowed).
    private static readonly string[] AgentRoutes = ["/v1", "/proxy", "/eureka", "/hosts", "/metrics", "/healthcheck", "/ping", "/status", "/dynamicproperties"];

    internal static ActuatorOptions Read(SettingsReader r)
    {
        var exposed = new HashSet<ActuatorEndpoint> { ActuatorEndpoint.Health, ActuatorEndpoint.Info };
        foreach (var name in r.List("Actuator:Expose"))
        {
            if (name == "*")
            {
                exposed.UnionWith(Enum.GetValues<ActuatorEndpoint>());
            }
            else if (Names.TryGetValue(name, out var endpoint))
            {
                exposed.Add(endpoint);
            }
            else
            {
                r.AddError("Actuator:Expose", $"'{name}' is not an endpoint the agent serves ({string.Join(", ", Names.Keys)}, or *)");
            }
        }

        var user = r.String("Actuator:User");
        var password = r.Raw("Actuator:Password") is { Length: > 0 } p ? p : null;
        if (user is not null && password is null)
        {
            r.AddError("Actuator:Password", "required with SIDECAR_ACTUATOR_USER (Basic auth needs both)");
        }
        else if (user is null && password is not null)
        {
            r.AddError("Actuator:User", "required with SIDECAR_ACTUATOR_PASSWORD (Basic auth needs both)");
        }
        else if (user is not null && user.Contains(':', StringComparison.Ordinal))
        {
            r.AddError("Actuator:User", "must not contain ':' (RFC 7617: the user-id of Basic auth cannot)");
        }

        return new ActuatorOptions
        {
            BasePath = ReadBasePath(r),
            Exposed = exposed,
            User = user,
            Password = password,
            ShowValues = r.Enum("Actuator:ShowValues", ShowValues.Always),
            Info = ReadInfo(r.Configuration.GetSection("Actuator:Info")),
        };
    }

    /// <summary>Null when <paramref name="path"/> is a usable base path, else why not.</summary>
    internal static string? BasePathProblem(string path)
    {
        if (path.Length < 2 || path[0] != '/' || path[^1] == '/')
        {
            return "must start with '/', have at least one segment and not end with '/' (example: /actuator)";
        }

        foreach (var segment in path[1..].Split('/'))
        {
            if (segment.Length == 0 || segment is "." or ".." || !segment.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return "segments take letters, digits, '-', '_' and '.' only (example: /manage/actuator)";
            }
        }

        foreach (var route in AgentRoutes)
        {
            if (path.Equals(route, StringComparison.OrdinalIgnoreCase) || path.StartsWith(route + "/", StringComparison.OrdinalIgnoreCase))
            {
                return $"is under the agent's own route {route}";
            }
        }

        return null;
    }

    private static string ReadBasePath(SettingsReader r)
    {
        var path = r.String("Actuator:BasePath", DefaultBasePath)!;
        if (BasePathProblem(path) is { } problem)
        {
            r.AddError("Actuator:BasePath", $"'{path}' {problem}");
            return DefaultBasePath;
        }

        return path;
    }

    private static Dictionary<string, string> ReadInfo(IConfigurationSection section)
    {
        var info = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in section.AsEnumerable(makePathsRelative: true))
        {
            if (value is not null)
            {
                info[key.Replace(ConfigurationPath.KeyDelimiter, ".", StringComparison.Ordinal)] = value;
            }
        }

        return info;
    }
}
