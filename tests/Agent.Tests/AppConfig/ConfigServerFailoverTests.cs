using Sidecar.AppConfig;

namespace Sidecar.Tests.AppConfig;

/// <summary>
/// Spring's order of servers and labels after a failure (<see cref="ConfigServerFailover"/>), as a table.
/// The end-to-end failover against fake servers is in <see cref="ConfigServerClientTests"/>.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ConfigServerFailoverTests
{
    [Theory]
    //          failure       next server  next label  unreachable so far  servers  strategy                  step
    // always (Spring 4): any failure moves on to the next server.
    [InlineData("refused",    true,        false,      1,                  2,       "Always",                 "NextServer")]
    [InlineData("500",        true,        false,      0,                  2,       "Always",                 "NextServer")]
    [InlineData("404",        true,        true,       0,                  2,       "Always",                 "NextServer")]  // the next server may know the label
    [InlineData("200 unreadable", true,    false,      0,                  3,       "Always",                 "NextServer")]
    // connection_timeout_only (Spring 3): only no answer moves on; an answer decides.
    [InlineData("refused",    true,        false,      1,                  2,       "ConnectionTimeoutOnly",  "NextServer")]
    [InlineData("500",        true,        false,      0,                  2,       "ConnectionTimeoutOnly",  "Fail")]
    [InlineData("404",        true,        true,       0,                  2,       "ConnectionTimeoutOnly",  "NextLabel")]     // on the same server
    [InlineData("404",        true,        false,      0,                  2,       "ConnectionTimeoutOnly",  "Fail")]
    // The last server: a 404 moves on to the next label, anything else ends the fetch.
    [InlineData("404",        false,       true,       0,                  2,       "Always",                 "NextLabel")]
    [InlineData("404",        false,       false,      0,                  2,       "Always",                 "Fail")]
    [InlineData("403",        false,       true,       0,                  2,       "Always",                 "Fail")]
    [InlineData("500",        false,       true,       1,                  2,       "Always",                 "Fail")]
    [InlineData("refused",    false,       true,       2,                  2,       "Always",                 "EveryServerUnreachable")]
    [InlineData("refused",    false,       false,      1,                  1,       "Always",                 "EveryServerUnreachable")]
    [InlineData("refused",    false,       false,      1,                  2,       "Always",                 "Fail")]       // the first answered
    [InlineData("refused",    false,       false,      2,                  2,       "ConnectionTimeoutOnly",  "EveryServerUnreachable")]
    public void AfterFailure_FollowsSpringsOrder(string failure, bool hasNextServer, bool hasNextLabel, int unreachableSoFar, int servers, string strategy, string step)
    {
        var unreachable = failure == "refused";
        int? status = unreachable ? null : failure.StartsWith("200", StringComparison.Ordinal) ? 200 : int.Parse(failure, System.Globalization.CultureInfo.InvariantCulture);

        var decided = ConfigServerFailover.AfterFailure(unreachable, status, hasNextServer, hasNextLabel, unreachableSoFar, servers, Enum.Parse<MultipleUriStrategy>(strategy));

        Assert.Equal(Enum.Parse<FailoverStep>(step), decided);
    }
}
