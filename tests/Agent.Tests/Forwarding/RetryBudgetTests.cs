using Microsoft.Extensions.Time.Testing;
using Sidecar.Forwarding;

namespace Sidecar.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class RetryBudgetTests
{
    [Fact]
    public void AQuietService_GetsTheMinimumPerSecond_AndNoMore()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(percent: 20, minPerSecond: 2, time);

        var granted = 0;
        while (budget.TryWithdraw())
        {
            granted++;
        }

        Assert.Equal(20, granted); // ten seconds' worth of the minimum in reserve
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(budget.TryWithdraw());
        Assert.True(budget.TryWithdraw());
        Assert.False(budget.TryWithdraw());
    }

    [Fact]
    public void UnderLoad_RetriesAreCappedAtTheShareOfRequests()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(percent: 20, minPerSecond: 0, time);

        for (var i = 0; i < 100; i++)
        {
            budget.Deposit();
        }

        var granted = 0;
        while (budget.TryWithdraw())
        {
            granted++;
        }

        Assert.Equal(10, granted); // 20 % of 100 = 20, capped at ten tokens when there is no per-second minimum
        for (var i = 0; i < 15; i++)
        {
            budget.Deposit();
        }

        Assert.True(budget.TryWithdraw());
        Assert.True(budget.TryWithdraw());
        Assert.True(budget.TryWithdraw());
        Assert.False(budget.TryWithdraw());
    }
}
