using Sidecar.DevRegistry;
using Sidecar.Discovery;
using Sidecar.Health;

namespace Sidecar.Tests.DevRegistry;

/// <summary>
/// The dev registry's and the fake Eureka's rules, one type at a time, as tables: what a registration
/// must carry (<see cref="RegistrantValidator"/>), the status rules (<see cref="EurekaStatusRules"/>) and
/// VIP matching (<see cref="VipAddresses"/>). No sockets, no clock.
/// </summary>
[Trait("Category", "Unit")]
public sealed class EurekaServerRulesTests
{
    private static readonly EurekaInstanceInfo Valid = new()
    {
        InstanceId = "host-1:orders:8080",
        App = "ORDERS",
        HostName = "host-1",
        IpAddr = "10.0.0.1",
    };

    [Theory]
    //          path app   registrant                                 400 text
    [InlineData("orders",  "valid",                                   null)]
    [InlineData("ORDERS",  "app orders",                              null)]
    [InlineData("orders",  "no instanceId",                           null)] // known by its host name
    [InlineData("orders",  "no instanceId, no hostName",              "Missing instanceId")]
    [InlineData("orders",  "blank hostName",                          "Missing hostname")]
    [InlineData("orders",  "no ipAddr",                               "Missing ip address")]
    [InlineData("orders",  "no app",                                  "Missing appName")]
    [InlineData("billing", "valid",                                   "Mismatched appName, expecting BILLING but was ORDERS")]
    [InlineData("orders",  "no dataCenterInfo",                       "Missing dataCenterInfo")]
    [InlineData("orders",  "no dataCenterInfo class",                 null)]
    [InlineData("orders",  "empty dataCenterInfo name",               "Missing dataCenterInfo Name")]
    [InlineData("orders",  "dataCenterInfo class, no name",           "Missing dataCenterInfo Name")]
    // The first failing check is the one answered, in Netflix's order.
    [InlineData("billing", "no hostName, no ipAddr",                  "Missing hostname")]
    public void Validate_AnswersNetflixsTexts(string pathApp, string registrant, string? expected) =>
        Assert.Equal(expected, RegistrantValidator.Validate(pathApp, Registrant(registrant)));

    [Theory]
    //          client            override          existing          resolved
    // DOWN, STARTING and UNKNOWN from the client win over everything.
    [InlineData("DOWN",           "OUT_OF_SERVICE", "UP",             "DOWN")]
    [InlineData("STARTING",       "UP",             "OUT_OF_SERVICE", "STARTING")]
    [InlineData("UNKNOWN",        "UP",             "UP",             "UNKNOWN")]
    // Otherwise the override.
    [InlineData("UP",             "OUT_OF_SERVICE", "UP",             "OUT_OF_SERVICE")]
    [InlineData("OUT_OF_SERVICE", "UP",             "OUT_OF_SERVICE", "UP")]
    [InlineData("UP",             "UNKNOWN",        "UP",             "UNKNOWN")]
    [InlineData("UP",             "DOWN",           null,             "DOWN")]
    // Otherwise an existing UP or OUT_OF_SERVICE is kept: a client cannot move itself between those two.
    [InlineData("UP",             null,             "OUT_OF_SERVICE", "OUT_OF_SERVICE")]
    [InlineData("OUT_OF_SERVICE", null,             "UP",             "UP")]
    // Otherwise the client's.
    [InlineData("UP",             null,             "DOWN",           "UP")]
    [InlineData("UP",             null,             "STARTING",       "UP")]
    [InlineData("OUT_OF_SERVICE", null,             null,             "OUT_OF_SERVICE")]
    [InlineData("UP",             null,             null,             "UP")]
    public void Resolve_AppliesNetflixsOrder(string client, string? overridden, string? existing, string expected) =>
        Assert.Equal(Status(expected), EurekaStatusRules.Resolve(Status(client), StatusOrNull(overridden), StatusOrNull(existing)));

    [Theory]
    //          server override   client's override  after
    [InlineData(null,             "UNKNOWN",         null)]
    [InlineData(null,             "OUT_OF_SERVICE",  "OUT_OF_SERVICE")]
    [InlineData("OUT_OF_SERVICE", "UNKNOWN",         "OUT_OF_SERVICE")]
    [InlineData("OUT_OF_SERVICE", "UP",              "OUT_OF_SERVICE")] // the server's own stays
    [InlineData("UP",             "DOWN",            "UP")]
    public void OverrideAfterRegister_TakesTheClientsOnlyWhenTheServerHasNone(string? server, string client, string? expected) =>
        Assert.Equal(StatusOrNull(expected), EurekaStatusRules.OverrideAfterRegister(StatusOrNull(server), Status(client)));

    [Theory]
    //          client dirty  server dirty  renew asks to register  dirty after a status call
    [InlineData(null,         100L,         false,                  100L)]
    [InlineData(99L,          100L,         false,                  100L)]
    [InlineData(100L,         100L,         false,                  100L)]
    [InlineData(101L,         100L,         true,                   101L)]
    [InlineData(0L,           0L,           false,                  0L)]
    public void LastDirtyTimestamp_TheNewerWins(long? client, long server, bool asksToRegister, long after)
    {
        Assert.Equal(asksToRegister, EurekaStatusRules.RenewAsksToRegister(client, server));
        Assert.Equal(after, EurekaStatusRules.DirtyAfterStatusCall(client, server));
    }

    [Theory]
    //          existing  registrant  keeps existing
    [InlineData(200L,     100L,       true)]
    [InlineData(100L,     100L,       false)]
    [InlineData(100L,     200L,       false)]
    [InlineData(100L,     0L,         true)]
    public void KeepsExisting_WhenItsLastDirtyTimestampIsNewer(long existing, long registrant, bool keeps) =>
        Assert.Equal(keeps, EurekaStatusRules.KeepsExisting(existing, registrant));

    [Theory]
    [InlineData("UP", true, "UP")]
    [InlineData("DOWN", true, "DOWN")]
    [InlineData("STARTING", true, "STARTING")]
    [InlineData("OUT_OF_SERVICE", true, "OUT_OF_SERVICE")]
    [InlineData("UNKNOWN", true, "UNKNOWN")]
    [InlineData("up", false, "UNKNOWN")] // case-sensitive, as InstanceStatus.valueOf
    [InlineData("Out_Of_Service", false, "UNKNOWN")]
    [InlineData("OUT-OF-SERVICE", false, "UNKNOWN")]
    [InlineData("", false, "UNKNOWN")]
    [InlineData(null, false, "UNKNOWN")]
    public void TryParseExact_IsCaseSensitive(string? value, bool ok, string expected)
    {
        Assert.Equal(ok, EurekaStatusRules.TryParseExact(value, out var status));
        Assert.Equal(Status(expected), status);
    }

    [Theory]
    //          list                          vip              matches
    [InlineData("orders",                     "orders",        true)]
    [InlineData("ORDERS",                     "orders",        true)]
    [InlineData("orders, billing",            "billing",       true)]
    [InlineData(" orders ,billing ",          "orders",        true)]
    [InlineData("orders,,billing",            "billing",       true)]
    [InlineData("orders-v2",                  "orders",        false)]
    [InlineData("orders.example.com",         "orders",        false)]
    [InlineData("orders,billing",             "orders,billing", false)]
    [InlineData("",                           "orders",        false)]
    [InlineData(null,                         "orders",        false)]
    public void VipAddresses_MatchItemByItemIgnoringCase(string? list, string vip, bool matches) =>
        Assert.Equal(matches, VipAddresses.Contains(list, vip));

    private static EurekaInstanceInfo Registrant(string name) => name switch
    {
        "valid" => Valid,
        "app orders" => Valid with { App = "orders" },
        "no instanceId" => Valid with { InstanceId = "" },
        "no instanceId, no hostName" => Valid with { InstanceId = "", HostName = "" },
        "blank hostName" => Valid with { HostName = " " },
        "no ipAddr" => Valid with { IpAddr = "" },
        "no app" => Valid with { App = "" },
        "no dataCenterInfo" => Valid with { DataCenterClass = null, DataCenterName = null },
        "no dataCenterInfo class" => Valid with { DataCenterClass = null },
        "empty dataCenterInfo name" => Valid with { DataCenterName = "" },
        "dataCenterInfo class, no name" => Valid with { DataCenterClass = "x", DataCenterName = null },
        "no hostName, no ipAddr" => Valid with { HostName = "", IpAddr = "" },
        _ => throw new ArgumentException(name, nameof(name)),
    };

    internal static InstanceStatus Status(string value) =>
        EurekaStatusRules.TryParseExact(value, out var status) ? status : throw new ArgumentException(value, nameof(value));

    internal static InstanceStatus? StatusOrNull(string? value) => value is null ? null : Status(value);
}
