using Sidecar.Actuator;

namespace Sidecar.Tests.Actuator;

/// <summary>Content negotiation and the body's version, as Spring Boot's actuator chooses them (docs/actuator.md#media-types).</summary>
[Trait("Category", "Unit")]
public sealed class ActuatorMediaTypesTests
{
    private const string V3 = "application/vnd.spring-boot.actuator.v3+json";
    private const string V2 = "application/vnd.spring-boot.actuator.v2+json";

    public static TheoryData<string?, string?> Negotiations => new()
    {
        { null, V3 },
        { "", V3 },
        { "*/*", V3 },
        { "application/*", V3 },
        { V3, V3 },
        { V2, V2 },
        { "application/json", "application/json" },
        { "APPLICATION/JSON", "application/json" },
        // Spring Boot Admin 3: v3, v2, v1, then JSON.
        { $"{V3}, {V2}, application/vnd.spring-boot.actuator.v1+json, application/json", V3 },
        // Older Spring Boot Admin: v2, v1, JSON.
        { $"{V2}, application/vnd.spring-boot.actuator.v1+json, application/json", V2 },
        { $"application/json, {V3}", "application/json" },
        { $"application/json;q=0.5, {V2}", V2 },
        { $"{V3};q=0, application/json", "application/json" },
        { "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", V3 }, // a browser
        { "text/html", null },
        { "text/plain, application/xml", null },
        { "application/json;q=0", null },
        { "application/json;q=abc", null },
    };

    [Theory]
    [MemberData(nameof(Negotiations))]
    public void Negotiate_PicksSpringBootsAnswer(string? accept, string? expected)
    {
        var type = ActuatorMediaTypes.Negotiate(accept);

        Assert.Equal(expected, type is { } t ? ActuatorMediaTypes.Name(t) : null);
    }

    public static TheoryData<string?, string> Versions => new()
    {
        { null, "V3" },
        { "*/*", "V3" },
        { "application/json", "V3" },
        { V3, "V3" },
        { V2, "V2" },
        { $"{V2}, application/json", "V2" },
        { $"{V2}, {V3}", "V3" },
        { $"{V2}, */*;q=0.1", "V3" },
        { $"{V2};q=0, application/json", "V3" },
    };

    [Theory]
    [MemberData(nameof(Versions))]
    public void Version_IsV2_OnlyWhenV2IsAcceptedAndV3IsNot(string? accept, string expected) =>
        Assert.Equal(expected, ActuatorMediaTypes.Version(accept).ToString());
}
