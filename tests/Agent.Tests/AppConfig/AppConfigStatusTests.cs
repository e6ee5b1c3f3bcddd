using Sidecar.AppConfig;

namespace Sidecar.Tests.AppConfig;

/// <summary>
/// The <c>config</c> entry of <c>/v1/health</c> (<see cref="AppConfigStatus"/>): where the served config
/// comes from, ready or not, with the last failures and problems, as a table.
/// </summary>
[Trait("Category", "Unit")]
public sealed class AppConfigStatusTests
{
    private const string Since = "2026-01-02 03:04:05Z";

    [Theory]
    //          case                                ready  detail
    [InlineData("no server, no file",               true,  "none: no CONFIG_FILE and no CONFIG_SERVER_URLS")]
    [InlineData("file",                             true,  "file: /app/config.yml (3 keys, version 2)")]
    [InlineData("file, file failed",                true,  "file: /app/config.yml (3 keys, version 2); last refresh failed: bad yaml")]
    [InlineData("server",                           true,  "server: http://cfg:8888/ label main version abc (3 keys, version 2) read " + Since)]
    [InlineData("server, no label or version",      true,  "server: http://cfg:8888/ (3 keys, version 2) read " + Since)]
    [InlineData("server, server failed",            true,  "server: http://cfg:8888/ label main version abc (3 keys, version 2) read " + Since + "; last refresh failed: down")]
    [InlineData("server, both failed",              true,  "server: http://cfg:8888/ label main version abc (3 keys, version 2) read " + Since + "; last refresh failed: down; bad yaml")]
    [InlineData("seed",                             true,  "seed: /seed.yml (3 keys, version 2), served since " + Since + " because the Config Server gave no config: down")]
    [InlineData("seed, file failed",                true,  "seed: /seed.yml (3 keys, version 2), served since " + Since + " because the Config Server gave no config: down; last refresh failed: bad yaml")]
    [InlineData("copy",                             true,  "last-known-good: copy saved 2025-12-31 23:00:00Z from http://old:8888/ (3 keys, version 2), served since " + Since + " because the Config Server gave no config: down")]
    [InlineData("unavailable",                      false, "unavailable: no config from the Config Server and no last-known-good copy (3 keys, version 2); last refresh failed: down")]
    [InlineData("unavailable, both failed",         false, "unavailable: no config from the Config Server and no last-known-good copy (3 keys, version 2); last refresh failed: down; bad yaml")]
    [InlineData("server, problems",                 true,  "server: http://cfg:8888/ label main version abc (3 keys, version 2) read " + Since + "; unresolved placeholders in: a")]
    [InlineData("unavailable, problems",            false, "unavailable: no config from the Config Server and no last-known-good copy (3 keys, version 2); last refresh failed: down; unresolved placeholders in: a")]
    public void ToReadiness_WordsTheSourceAndTheLastFailures(string given, bool ready, string detail)
    {
        var status = Status(given).ToReadiness();

        Assert.Equal(ready, status.Ready);
        Assert.Equal(detail, status.Detail);
    }

    private static AppConfigStatus Status(string given)
    {
        var status = new AppConfigStatus { Keys = 3, Version = 2, Since = Since };
        foreach (var part in given.Split(", "))
        {
            status = part switch
            {
                "no server" or "no file" => status,
                "file" => status with { File = "/app/config.yml" },
                "file failed" => status with { FileFailure = "bad yaml" },
                "server" => status with { UsesServer = true, Source = ServerLayerSource.Server, Server = "http://cfg:8888/", Label = "main", ServerVersion = "abc" },
                "no label or version" => status with { Label = null, ServerVersion = null },
                "server failed" => status with { Failure = "down" },
                "both failed" => status with { Failure = "down", FileFailure = "bad yaml" },
                "seed" => status with { UsesServer = true, Source = ServerLayerSource.Seed, SeedFile = "/seed.yml", Failure = "down" },
                "copy" => status with
                {
                    UsesServer = true,
                    Source = ServerLayerSource.LastKnownGood,
                    CopySavedAt = new DateTimeOffset(2025, 12, 31, 23, 0, 0, TimeSpan.Zero),
                    CopyServer = "http://old:8888/",
                    Failure = "down",
                },
                "unavailable" => status with { UsesServer = true, Source = ServerLayerSource.None, Failure = "down" },
                "problems" => status with { Problems = "; unresolved placeholders in: a" },
                _ => throw new ArgumentException(part, nameof(given)),
            };
        }

        return status;
    }
}
