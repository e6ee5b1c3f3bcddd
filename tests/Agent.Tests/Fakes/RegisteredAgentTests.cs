namespace Sidecar.Tests.Fakes;

/// <summary>The fake-clock stepping the registration and discovery tests rely on.</summary>
public sealed class RegisteredAgentTests
{
    [Fact]
    public async Task AdvanceUntil_GivesASlowReactionToTheLastStepRealTime_AsOnALoadedMachine()
    {
        var time = RegisteredAgent.NewClock();
        var done = false;

        // Due at the limit, and taking far longer than the time between steps to complete (two fetches on a busy machine).
        using var timer = time.CreateTimer(_ => _ = Task.Delay(600).ContinueWith(_ => done = true, TaskScheduler.Default), null, TimeSpan.FromSeconds(30), Timeout.InfiniteTimeSpan);

        var took = await RegisteredAgent.AdvanceUntilAsync(time, TimeSpan.FromSeconds(30), () => done, "the slow reaction");

        Assert.Equal(TimeSpan.FromSeconds(30), took);
    }

    [Fact]
    public async Task AdvanceUntil_ReturnsAtOnce_WhenTheConditionAlreadyHolds()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var took = await RegisteredAgent.AdvanceUntilAsync(RegisteredAgent.NewClock(), TimeSpan.FromSeconds(30), () => true, "nothing");

        Assert.Equal(TimeSpan.Zero, took);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
    }
}
