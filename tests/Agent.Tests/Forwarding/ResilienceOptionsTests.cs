using System.Collections;
using Microsoft.Extensions.Configuration;
using Sidecar.Configuration;
using Sidecar.Forwarding;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Forwarding;

/// <summary>The settings of issue 17 (docs/resilience.md): defaults off, per-service overrides, bad values refused in one line.</summary>
[Trait("Category", "Unit")]
public sealed class ResilienceOptionsTests
{
    private static ForwardingOptions Load(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(p => new KeyValuePair<string, string?>(p.Key.Replace("__", ":", StringComparison.Ordinal), p.Value)))
            .Add(new AgentVariablesConfigurationSource(new Hashtable()))
            .Build();
        return AgentOptions.Load(configuration).Forwarding;
    }

    [Fact]
    public void Defaults_AreAllOff_SoNothingChangesForTodaysUsers()
    {
        var policy = Load([]).Defaults.Resilience;

        Assert.True(policy.IsOff);
        Assert.Equal(0, policy.MaxConcurrentRequests);
        Assert.Equal(0, policy.MaxQueuedRequests);
        Assert.Equal(0, policy.RateLimit);
        Assert.False(policy.CircuitBreaker);
        Assert.False(policy.Cache);
        Assert.Equal(64L * 1024 * 1024, Load([]).CacheMaxBytes);
        Assert.Equal(0.5, policy.CircuitBreakerFailureRatio);
        Assert.Equal(20, policy.CircuitBreakerMinimumThroughput);
        Assert.Equal(TimeSpan.FromSeconds(10), policy.CircuitBreakerSamplingDuration);
        Assert.Equal(TimeSpan.FromSeconds(5), policy.CircuitBreakerBreakDuration);
        Assert.Null(policy.HedgeAfter);
    }

    [Fact]
    public void HedgeAfter_GlobalAndPerService()
    {
        var options = Load(new() { ["Forwarding__HedgeAfter"] = "200ms", ["Forwarding__Services__orders__HedgeAfter"] = "50ms" });

        Assert.Equal(TimeSpan.FromMilliseconds(50), options.PolicyFor("orders").Resilience.HedgeAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(200), options.PolicyFor("billing").Resilience.HedgeAfter);
    }

    [Fact]
    public void AServiceInheritsTheGlobalValues_AndOverridesItsOwn()
    {
        var options = Load(new()
        {
            ["Forwarding__MaxConcurrentRequests"] = "100",
            ["Forwarding__RateLimit"] = "50",
            ["Forwarding__RateLimitBurst"] = "80",
            ["Forwarding__Services__orders__RateLimit"] = "10",
            ["Forwarding__Services__orders__CircuitBreaker"] = "true",
            ["Forwarding__Services__orders__CircuitBreakerFailureRatio"] = "0.25",
            ["Forwarding__Services__billing__Retries"] = "1",
        });

        var orders = options.PolicyFor("orders").Resilience;
        var billing = options.PolicyFor("billing").Resilience;
        Assert.Equal(100, orders.MaxConcurrentRequests);
        Assert.Equal(10, orders.RateLimit);
        Assert.Equal(10, orders.RateLimitBurst); // its own rate, so its own burst
        Assert.True(orders.CircuitBreaker);
        Assert.Equal(0.25, orders.CircuitBreakerFailureRatio);
        Assert.Equal(50, billing.RateLimit);
        Assert.Equal(80, billing.RateLimitBurst);
        Assert.False(billing.CircuitBreaker);
    }

    [Theory]
    [InlineData("Forwarding__MaxConcurrentRequests", "-1", "Forwarding:MaxConcurrentRequests: '-1' is not a whole number between 0 and 1000000")]
    [InlineData("Forwarding__Services__orders__MaxQueuedRequests", "5", "Forwarding:Services:orders:MaxQueuedRequests: a queue needs a limit: set Forwarding:Services:orders:MaxConcurrentRequests too")]
    [InlineData("Forwarding__RateLimit", "1.5", "Forwarding:RateLimit: '1.5' is not a whole number between 0 and 1000000")]
    [InlineData("Forwarding__RateLimitBurst", "10", "Forwarding:RateLimitBurst: a burst needs a rate: set Forwarding:RateLimit too")]
    [InlineData("Forwarding__Services__orders__RateLimitBurst", "0", "Forwarding:Services:orders:RateLimitBurst: '0' is not a whole number between 1 and 10000000")]
    [InlineData("Forwarding__CircuitBreaker", "maybe", "Forwarding:CircuitBreaker: 'maybe' is not true or false")]
    [InlineData("Forwarding__CircuitBreakerFailureRatio", "1.5", "Forwarding:CircuitBreakerFailureRatio: '1.5' is not a ratio above 0 and at most 1 (such as 0.5)")]
    [InlineData("Forwarding__CircuitBreakerFailureRatio", "0", "Forwarding:CircuitBreakerFailureRatio: '0' is not a ratio above 0 and at most 1 (such as 0.5)")]
    [InlineData("Forwarding__CircuitBreakerFailureRatio", "50%", "Forwarding:CircuitBreakerFailureRatio: '50%' is not a ratio above 0 and at most 1 (such as 0.5)")]
    [InlineData("Forwarding__CircuitBreakerMinimumThroughput", "0", "Forwarding:CircuitBreakerMinimumThroughput: '0' is not a whole number between 1 and 1000000")]
    [InlineData("Forwarding__Services__orders__CircuitBreakerSamplingDuration", "0s", "Forwarding:Services:orders:CircuitBreakerSamplingDuration: '0s' must be between 100ms and 1h")]
    [InlineData("Forwarding__CircuitBreakerBreakDuration", "-5s", "Forwarding:CircuitBreakerBreakDuration: '-5s' must be between 10ms and 1h")]
    [InlineData("Forwarding__HedgeAfter", "0s", "Forwarding:HedgeAfter: '0s' must be between 1ms and 1h")]
    [InlineData("Forwarding__Services__orders__HedgeAfter", "-50ms", "Forwarding:Services:orders:HedgeAfter: '-50ms' must be between 1ms and 1h")]
    [InlineData("Forwarding__HedgeAfter", "soon", "Forwarding:HedgeAfter: 'soon' is not a duration (examples: 500ms, 5s, 2m, 00:00:05)")]
    [InlineData("Forwarding__Services__orders__Cache", "yes please", "Forwarding:Services:orders:Cache: 'yes please' is not true or false")]
    [InlineData("Forwarding__CacheMaxBytes", "1KiB", "Forwarding:CacheMaxBytes: '1KiB' is below the smallest cache, 64KiB")]
    [InlineData("Forwarding__CacheMaxBytes", "-5", "Forwarding:CacheMaxBytes: '-5' is not a size")]
    [InlineData("Forwarding__Services__orders__CacheMaxBytes", "1MiB", "Forwarding:Services:orders:CacheMaxBytes: unknown setting")]
    [InlineData("Forwarding__Services__orders__CircuitBreakers", "true", "Forwarding:Services:orders:CircuitBreakers: unknown setting")]
    public void ABadValue_IsRefusedInOneLineNamingTheKey(string key, string value, string expected)
    {
        var message = Assert.Throws<InvalidConfigurationException>(() => Load(new() { [key] = value })).Message;

        Assert.Contains(expected, message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', message.TrimEnd());
    }

    [Fact]
    public void EveryForwardingSetting_IsDocumented()
    {
        var docs = string.Join("\n", Directory.EnumerateFiles(Repository.PathOf("docs"), "*.md").Select(File.ReadAllText));

        var missing = ServicePolicy.Keys.Append(nameof(ForwardingOptions.CacheMaxBytes)).Where(key => !docs.Contains($"`{key}`", StringComparison.Ordinal)).ToList();

        Assert.True(missing.Count == 0, $"docs/*.md do not document: {string.Join(", ", missing)}");
    }
}
