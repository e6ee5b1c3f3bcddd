using System.Globalization;
using System.Text.RegularExpressions;
using Sidecar.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Sidecar.Tests.Examples;

/// <summary>
/// The Kubernetes examples, read as YAML: every pod passes Pod Security "restricted" (the rules of the
/// Pod Security Standards, checked field by field), the agent starts before and stops after the app, and
/// the timing adds up (docs/operations.md).
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class KubernetesManifestTests
{
    public static TheoryData<string> Deployments => new() { "deployment.yaml", "deployment-classic.yaml" };

    private static YamlMappingNode Deployment(string file)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(Repository.PathOf("examples", "kubernetes", file)))
        {
            stream.Load(reader);
        }

        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).Single(d => Scalar(d, "kind") == "Deployment");
    }

    private static YamlNode? Get(YamlNode? node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out node))
            {
                return null;
            }
        }

        return node;
    }

    private static string? Scalar(YamlNode? node, params string[] path) => (Get(node, path) as YamlScalarNode)?.Value;

    private static IEnumerable<YamlMappingNode> Items(YamlNode? node, params string[] path) =>
        (Get(node, path) as YamlSequenceNode)?.Children.Cast<YamlMappingNode>() ?? [];

    private static YamlMappingNode PodSpec(string file) => (YamlMappingNode)Get(Deployment(file), "spec", "template", "spec")!;

    private static IEnumerable<YamlMappingNode> AllContainers(YamlMappingNode pod) => Items(pod, "initContainers").Concat(Items(pod, "containers"));

    private static YamlMappingNode Container(YamlMappingNode pod, string name) => AllContainers(pod).Single(c => Scalar(c, "name") == name);

    private static string? Env(YamlMappingNode container, string name) =>
        Items(container, "env").Where(e => Scalar(e, "name") == name).Select(e => Scalar(e, "value")).SingleOrDefault();

    private static int Seconds(string duration) => int.Parse(duration.TrimEnd('s'), CultureInfo.InvariantCulture);

    [Theory]
    [MemberData(nameof(Deployments))]
    public void EveryContainer_PassesPodSecurityRestricted(string file)
    {
        var pod = PodSpec(file);
        Assert.Equal("false", Scalar(pod, "automountServiceAccountToken"));
        // Baseline: no host namespaces, no host paths.
        foreach (var host in new[] { "hostNetwork", "hostPID", "hostIPC" })
        {
            Assert.NotEqual("true", Scalar(pod, host));
        }

        Assert.DoesNotContain(Items(pod, "volumes"), v => Get(v, "hostPath") is not null);
        var containers = AllContainers(pod).ToList();
        Assert.Equal(2, containers.Count);
        foreach (var container in containers)
        {
            var name = Scalar(container, "name");
            var context = Get(container, "securityContext");
            Assert.True(Scalar(context, "allowPrivilegeEscalation") == "false", $"{file} {name}: allowPrivilegeEscalation false");
            Assert.NotEqual("true", Scalar(context, "privileged"));
            var drop = ((YamlSequenceNode?)Get(context, "capabilities", "drop"))?.Children.Select(c => ((YamlScalarNode)c).Value).ToList() ?? [];
            Assert.True(drop.Contains("ALL"), $"{file} {name}: capabilities drop ALL");
            var add = ((YamlSequenceNode?)Get(context, "capabilities", "add"))?.Children.Select(c => ((YamlScalarNode)c).Value).ToList() ?? [];
            Assert.All(add, a => Assert.Equal("NET_BIND_SERVICE", a));
            Assert.True((Scalar(context, "runAsNonRoot") ?? Scalar(pod, "securityContext", "runAsNonRoot")) == "true", $"{file} {name}: runAsNonRoot");
            Assert.NotEqual("0", Scalar(context, "runAsUser"));
            var seccomp = Scalar(context, "seccompProfile", "type") ?? Scalar(pod, "securityContext", "seccompProfile", "type");
            Assert.True(seccomp is "RuntimeDefault" or "Localhost", $"{file} {name}: seccompProfile RuntimeDefault");
            Assert.All(Items(container, "ports"), p => Assert.Null(Scalar(p, "hostPort")));
            // Not the profile's rule, the example's: every container says what it needs and may use.
            Assert.NotNull(Scalar(container, "resources", "requests", "memory"));
            Assert.NotNull(Scalar(container, "resources", "limits", "memory"));
            Assert.Equal("true", Scalar(context, "readOnlyRootFilesystem"));
        }
    }

    [Fact]
    public void TheNativeSidecar_StartsBeforeTheApp_WithAStartupProbeOnLiveness_AndStopsAfterIt()
    {
        var pod = PodSpec("deployment.yaml");
        var agent = Assert.Single(Items(pod, "initContainers"));
        Assert.Equal("Always", Scalar(agent, "restartPolicy"));
        Assert.Equal("/v1/health/live", Scalar(agent, "startupProbe", "httpGet", "path"));
        Assert.Equal("/v1/health/live", Scalar(agent, "livenessProbe", "httpGet", "path"));
        Assert.Equal("/v1/health/ready", Scalar(agent, "readinessProbe", "httpGet", "path"));
        Assert.Equal("app", Scalar(Assert.Single(Items(pod, "containers")), "name"));
    }

    [Fact]
    public void TheNativeSidecar_Timing_TheAppLeavesEurekaAndWaitsTheDrain_AndTheGracePeriodCoversIt()
    {
        var pod = PodSpec("deployment.yaml");
        var drain = Seconds(Env(Container(pod, "sidecar-agent"), "SIDECAR_DRAIN")!);
        Assert.True(drain >= 65, "the drain covers Eureka's response cache (30 s) and the callers' fetch interval (30 s)");
        var preStop = string.Join(' ', ((YamlSequenceNode)Get(Container(pod, "app"), "lifecycle", "preStop", "exec", "command")!).Children.Select(c => ((YamlScalarNode)c).Value));
        Assert.Contains("/v1/registration/status", preStop, StringComparison.Ordinal);
        Assert.Contains("OUT_OF_SERVICE", preStop, StringComparison.Ordinal);
        var sleep = int.Parse(SleepCall().Match(preStop).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(sleep >= drain, "the app keeps serving for the whole drain");
        var grace = int.Parse(Scalar(pod, "terminationGracePeriodSeconds")!, CultureInfo.InvariantCulture);
        Assert.True(grace >= sleep + 10 + 5, "the preStop, the app's own shutdown (10 s) and the lease's cancel fit in the grace period");
    }

    [Fact]
    public void TheClassicShape_StartsTheAgentFirst_AndItsDrainOutlastsTheAppsStop()
    {
        var pod = PodSpec("deployment-classic.yaml");
        var containers = Items(pod, "containers").ToList();
        Assert.Equal("sidecar-agent", Scalar(containers[0], "name"));
        var postStart = ((YamlSequenceNode)Get(containers[0], "lifecycle", "postStart", "exec", "command")!).Children.Select(c => ((YamlScalarNode)c).Value).ToList();
        Assert.Equal(["/usr/local/bin/agent", "wait", "--timeout", "60s"], postStart);
        var drain = Seconds(Env(containers[0], "SIDECAR_DRAIN")!);
        var preStop = ((YamlSequenceNode)Get(containers[1], "lifecycle", "preStop", "exec", "command")!).Children.Select(c => ((YamlScalarNode)c).Value).ToList();
        var sleep = int.Parse(preStop[^1]!, CultureInfo.InvariantCulture);
        Assert.True(sleep >= 65, "callers move away while the app still serves");
        Assert.True(drain >= sleep + 10, "the agent serves the app's own shutdown");
        var grace = int.Parse(Scalar(pod, "terminationGracePeriodSeconds")!, CultureInfo.InvariantCulture);
        Assert.True(grace >= drain + 5);
    }

    [Theory]
    [MemberData(nameof(Deployments))]
    public void TheApp_ListensOnEveryAddress_AndKeepsInClusterNamesAwayFromTheAgent(string file)
    {
        var pod = PodSpec(file);
        var app = Container(pod, "app");
        Assert.Equal("0.0.0.0", Env(app, "APP_BIND"));
        var noProxy = Env(app, "NO_PROXY")!.Split(',');
        Assert.Contains("127.0.0.1", noProxy);
        Assert.Contains(".svc", noProxy);
        Assert.Contains(".cluster.local", noProxy);
        var agent = Container(pod, "sidecar-agent");
        Assert.Equal("status.podIP", Scalar(Items(agent, "env").Single(e => Scalar(e, "name") == "APP_IP"), "valueFrom", "fieldRef", "fieldPath"));
    }

    [Theory]
    [MemberData(nameof(Deployments))]
    public void Prometheus_ScrapesTheMetricsListener(string file)
    {
        var deployment = Deployment(file);
        var agent = Container(PodSpec(file), "sidecar-agent");
        var port = Env(agent, "SIDECAR_METRICS_PORT");
        Assert.Equal(port, Scalar(deployment, "spec", "template", "metadata", "annotations", "prometheus.io/port"));
        Assert.Contains(Items(agent, "ports"), p => Scalar(p, "name") == "metrics" && Scalar(p, "containerPort") == port);
        var stream = new YamlStream();
        using var reader = new StreamReader(Repository.PathOf("examples", "kubernetes", "podmonitor.yaml"));
        stream.Load(reader);
        var monitor = (YamlMappingNode)stream.Documents.Single().RootNode;
        Assert.Equal("metrics", Scalar(Items(monitor, "spec", "podMetricsEndpoints").Single(), "port"));
    }

    [GeneratedRegex(@"time\.sleep\((\d+)\)")]
    private static partial Regex SleepCall();
}
