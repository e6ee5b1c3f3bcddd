using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sidecar.AppConfig;
using Sidecar.Configuration;
using Sidecar.Discovery;
using Sidecar.Health;
using Sidecar.Tests.AppConfig;
using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Hosting;

/// <summary>
/// Issue 13, point 6: the data folder is the agent user's own. By default a per-user folder; a folder
/// (or a file in it) that another user owns or may write is not read, with one warning, and the agent
/// starts without that copy: a last-known-good config or a registry snapshot planted there is never served.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sidecar-data-folder-").FullName;

    /// <summary>Which way each case makes the folder or its file untrustworthy; the owner cases need root (chown).</summary>
    public static TheoryData<string> Plantings()
    {
        var data = new TheoryData<string> { "folder writable by all", "folder writable by its group", "file writable by all" };
        if (IsRoot)
        {
            data.Add("folder of another user");
            data.Add("file of another user");
        }

        return data;
    }

    private static bool IsRoot => ProcUid() == 0;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Trait("Category", "Unit")]
    [Fact]
    public void TheDefaultDataFolder_IsPerUser_UnderXdgStateHomeWhenSet()
    {
        var uid = ProcUid().ToString(CultureInfo.InvariantCulture);

        Assert.Equal(Path.Combine(Path.GetTempPath(), "sidecar-agent-" + uid, "orders"), SidecarOptions.DefaultDataDir("orders", 8078, null));
        Assert.Equal(Path.Combine(Path.GetTempPath(), "sidecar-agent-" + uid, "port-8078"), SidecarOptions.DefaultDataDir(null, 8078, null));
        Assert.Equal("/home/u/.local/state/sidecar-agent/orders", SidecarOptions.DefaultDataDir("orders", 8078, "/home/u/.local/state"));
        Assert.Equal(Path.Combine(Path.GetTempPath(), "sidecar-agent-" + uid, "orders"), SidecarOptions.DefaultDataDir("orders", 8078, "relative/state")); // XDG: relative paths are ignored
    }

    [Fact]
    public async Task WithoutSidecarDataDir_TheAgentKeepsItsCopiesInAFolderOfItsOwn_Mode0700()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var environment = RegisteredAgent.Environment(eureka);
        environment.Remove("SIDECAR_DATA_DIR");
        environment["XDG_STATE_HOME"] = _root;
        environment["APP_HEALTH_URL"] = "";

        await using var agent = await RegisteredAgent.StartAsync(environment);
        var snapshot = Path.Combine(_root, "sidecar-agent", "orders", RegistrySnapshotStore.FileName);
        await Eventually.TrueAsync(() => File.Exists(snapshot), "the registry snapshot was saved");

        Assert.Equal(Path.Combine(_root, "sidecar-agent", "orders"), agent.Get<SidecarOptions>().DataDir);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(snapshot)!));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_root, "sidecar-agent")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(snapshot));
    }

    [Theory]
    [MemberData(nameof(Plantings))]
    public async Task APlantedRegistrySnapshot_IsNotRead_TheAgentStartsWithoutIt_WithOneWarning(string planting)
    {
        var dataDir = Path.Combine(_root, "data");
        Directory.CreateDirectory(dataDir);
        var snapshot = Path.Combine(dataDir, RegistrySnapshotStore.FileName);
        await File.WriteAllTextAsync(snapshot, """
            {"applications":{"versions__delta":"1","apps__hashcode":"UP_1_","application":[{"name":"PAYMENTS","instance":[
              {"instanceId":"evil","app":"PAYMENTS","hostName":"attacker.example","ipAddr":"203.0.113.66","status":"UP","port":{"$":80,"@enabled":"true"}}]}]}}
            """);
        var refused = Plant(planting, dataDir, snapshot);
        await using var eureka = await FakeEureka.StartAsync();
        await eureka.DownAsync();
        var logs = new LogCapture();
        var environment = RegisteredAgent.Environment(eureka);
        environment["SIDECAR_DATA_DIR"] = dataDir;
        environment["APP_HEALTH_URL"] = "";

        await using var agent = await RegisteredAgent.StartAsync(environment, logs: logs);
        await Eventually.TrueAsync(() => logs.Contains("[40]"), "the refusal was logged");

        Assert.Equal(RegistryOrigin.None, agent.Get<EurekaRegistry>().View.Origin);
        Assert.Null(agent.Get<EurekaRegistry>().View.GetInstances("payments"));
        var warning = Assert.Single(logs.Entries, e => e.Contains("[40]", StringComparison.Ordinal));
        Assert.Contains($"Not using {refused}: ", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries, e => e.Contains("loaded", StringComparison.Ordinal) && e.Contains("snapshot", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Plantings))]
    public async Task APlantedLastKnownGoodConfig_IsNeverServed(string planting)
    {
        var dataDir = Path.Combine(_root, "data");
        Directory.CreateDirectory(dataDir);
        var file = Path.Combine(dataDir, LastKnownGoodStore.FileName);

        // A well-formed, checksummed copy for this very app, profile and label: only where it lies gives it away.
        await File.WriteAllBytesAsync(file, LastKnownGoodStore.Encode(new LastKnownGoodCopy
        {
            Application = "orders",
            Profiles = ["default"],
            Labels = [],
            ConfigVersion = 7,
            Values = new Dictionary<string, string> { ["db.url"] = "jdbc:postgresql://attacker.example/steal" },
        }));
        var refused = Plant(planting, dataDir, file);
        await using var server = await FakeConfigServer.StartAsync();
        await server.StopAsync();
        using var support = new ConfigTestSupport();
        var environment = support.Environment(server);
        environment["SIDECAR_DATA_DIR"] = dataDir;

        await using var agent = await support.StartAgentAsync(environment);
        var health = await ConfigTestSupport.ConfigHealthAsync(agent.Client);

        using var config = JsonDocument.Parse(await agent.Client.GetStringAsync("v1/config"));
        Assert.False(config.RootElement.TryGetProperty("db.url", out _));
        Assert.DoesNotContain("last-known-good: ", health.GetProperty("detail").GetString(), StringComparison.Ordinal); // what serving the copy says
        Assert.Contains($"Not using {refused}: ", Assert.Single(support.Logs.Entries, e => e.Contains("[40]", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Plantings))]
    public async Task APlantedOverrideMarker_NeverMakesTheAgentRemoveAnOperatorsOverride(string planting)
    {
        const string Id = "host-a:orders:8080";
        var dataDir = Path.Combine(_root, "data");
        Directory.CreateDirectory(dataDir);

        // What an earlier run of this agent would have left after taking the instance out itself.
        var marker = Path.Combine(dataDir, "eureka-override");
        await File.WriteAllTextAsync(marker, $"OUT_OF_SERVICE ORDERS {Id}\n");
        var refused = Plant(planting, dataDir, marker);
        var time = RegisteredAgent.NewClock();
        await using var eureka = await FakeEureka.StartAsync(time);
        eureka.Seed(EurekaInstances.Create("orders", Id, "host-a", "10.0.0.5", 8080));
        Assert.Equal(200, eureka.Registry.UpdateStatus("ORDERS", Id, "OUT_OF_SERVICE", 2)); // an operator's, through Eureka's REST API
        var logs = new LogCapture();
        var environment = RegisteredAgent.Environment(eureka);
        environment["SIDECAR_DATA_DIR"] = dataDir;
        environment["APP_HEALTH_URL"] = "";

        await using var agent = await RegisteredAgent.StartAsync(environment, time, logs: logs);
        await Eventually.TrueAsync(() => logs.Contains("that this agent did not set"), "the read-back judged the override");

        Assert.Empty(eureka.RequestsFor("DELETE"));
        Assert.Equal(InstanceStatus.OutOfService, eureka.Instance("ORDERS", Id)!.OverriddenStatus);
        Assert.Contains($"Not using {refused}: ", Assert.Single(logs.Entries, e => e.Contains("[40]", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATrustedFolder_IsStillRead()
    {
        // The control: the same copy in a folder of the agent's own (0700, its user) is served.
        var dataDir = Path.Combine(_root, "data");
        Directory.CreateDirectory(dataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await File.WriteAllBytesAsync(Path.Combine(dataDir, LastKnownGoodStore.FileName), LastKnownGoodStore.Encode(new LastKnownGoodCopy
        {
            Application = "orders",
            Profiles = ["default"],
            Labels = [],
            ConfigVersion = 7,
            Values = new Dictionary<string, string> { ["db.url"] = "jdbc:orders" },
        }));
        await using var server = await FakeConfigServer.StartAsync();
        await server.StopAsync();
        using var support = new ConfigTestSupport();
        var environment = support.Environment(server);
        environment["SIDECAR_DATA_DIR"] = dataDir;

        await using var agent = await support.StartAgentAsync(environment);

        Assert.Equal("jdbc:orders", (await ConfigTestSupport.GetConfigAsync(agent.Client)).Values["db.url"]);
        Assert.DoesNotContain(support.Logs.Entries, e => e.Contains("[40]", StringComparison.Ordinal));
    }

    // Makes the folder or the file untrustworthy the way the case says; returns the path the warning names.
    private static string Plant(string planting, string folder, string file)
    {
        switch (planting)
        {
            case "folder writable by all":
                File.SetUnixFileMode(folder, (UnixFileMode)0x1FF); // 0777
                return folder;
            case "folder writable by its group":
                File.SetUnixFileMode(folder, (UnixFileMode)0x1F8); // 0770
                return folder;
            case "file writable by all":
                File.SetUnixFileMode(file, (UnixFileMode)0x1B6); // 0666
                return file;
            case "folder of another user":
                Chown(folder);
                return folder;
            default:
                Chown(file);
                return file;
        }
    }

    private static void Chown(string path)
    {
        using var chown = Process.Start(new ProcessStartInfo("chown", ["12345", path]) { UseShellExecute = false })!;
        chown.WaitForExit();
        Assert.Equal(0, chown.ExitCode);
    }

    // The effective user id from the kernel's own account of this process, not from the code under test.
    private static int ProcUid() =>
        int.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], CultureInfo.InvariantCulture);
}
