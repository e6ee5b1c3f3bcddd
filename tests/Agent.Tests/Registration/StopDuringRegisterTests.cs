using Sidecar.Tests.Fakes;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Registration;

/// <summary>A stop (SIGTERM) that comes while the first register's answer is on its way (docs/eureka.md#the-lease-lifecycle).</summary>
public sealed class StopDuringRegisterTests
{
    private const string Id = "host-a:orders:8080";

    [Fact]
    public async Task Stop_WhileAGrantedRegistersAnswerIsOnItsWay_CancelsTheLease()
    {
        await using var eureka = await FakeEureka.StartAsync();
        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        eureka.HoldRegisterAnswer = answer.Task;
        var environment = RegisteredAgent.Environment(eureka);
        environment["APP_HEALTH_URL"] = "";
        var agent = await RegisteredAgent.StartAsync(environment);
        await eureka.RegisterGranted.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(eureka.Instance("ORDERS", Id)); // Eureka holds the lease; the agent has not heard yet

        var stopping = agent.DisposeAsync().AsTask(); // what SIGTERM does
        answer.SetResult(); // the answer arrives during the stop
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Null(eureka.Instance("ORDERS", Id)); // cancelled, not left to expire
    }
}
