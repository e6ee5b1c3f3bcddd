namespace Sidecar.Forwarding;

/// <summary>
/// The instances of one forwarded call: the one picked for the first attempt before any is sent, the
/// one in flight, and those tried already (a retry goes to another while there is one: docs/forwarding.md#choosing-an-instance).
/// Each instance is counted in flight (<see cref="InstanceState.Acquire"/>) from its pick until its
/// attempt is over or the call ends.
/// </summary>
internal sealed class CallInstances
{
    private InstanceState? _current;
    private InstanceState? _next;
    private InstanceState? _firstTried;
    private List<InstanceState>? _moreTried;
    private InstanceState? _hedge;

    /// <summary>The instance of the attempt in flight (or the last one), until it is released.</summary>
    public InstanceState? Current => _current;

    public bool HasTriedAny => _firstTried is not null;

    public bool HasTried(InstanceState state) =>
        ReferenceEquals(_firstTried, state) || (_moreTried is not null && _moreTried.Contains(state));

    /// <summary>Picks the first attempt's instance ahead of it; false when none is available.</summary>
    public bool PickFirst(ServicePool pool)
    {
        _next = pool.Pick(this);
        return _next is not null;
    }

    /// <summary>
    /// The instance of the next attempt: the one picked ahead, or a new pick among those not tried yet.
    /// The previous attempt's instance is no longer in flight for this call. Null when none is available.
    /// </summary>
    public InstanceState? Next(ServicePool pool)
    {
        _current?.Release();
        _current = null;
        var instance = _next ?? pool.Pick(this);
        _next = null;
        if (instance is null)
        {
            return null;
        }

        _current = instance;
        Remember(instance);
        return instance;
    }

    /// <summary>An available instance this call has not tried yet, counted in flight; null when there is none.</summary>
    public InstanceState? PickUntried(ServicePool pool)
    {
        var instance = pool.Pick(this);
        if (instance is not null && HasTried(instance))
        {
            instance.Release();
            return null;
        }

        return instance;
    }

    /// <summary>A hedge goes to <paramref name="instance"/> (from <see cref="PickUntried"/>) while the first attempt is in flight.</summary>
    public void StartHedge(InstanceState instance)
    {
        _hedge = instance;
        Remember(instance);
    }

    /// <summary>The hedge race is over: the winner's instance is <see cref="Current"/>, the loser's is no longer in flight.</summary>
    public void SettleHedge(bool hedgeWon)
    {
        if (_hedge is null)
        {
            return;
        }

        if (hedgeWon)
        {
            _current?.Release();
            _current = _hedge;
        }
        else
        {
            _hedge.Release();
        }

        _hedge = null;
    }

    /// <summary>The call is over: no instance of it is in flight any more.</summary>
    public void ReleaseAll()
    {
        _hedge?.Release();
        _hedge = null;
        _current?.Release();
        _current = null;
        _next?.Release();
        _next = null;
    }

    /// <summary>The call is over and its object kept for another (<see cref="ForwardCall"/>'s, on a connection of the forwarding core): none is remembered as tried.</summary>
    public void Forget()
    {
        ReleaseAll();
        _firstTried = null;
        _moreTried?.Clear();
    }

    private void Remember(InstanceState instance)
    {
        if (_firstTried is null)
        {
            _firstTried = instance;
        }
        else if (!HasTried(instance))
        {
            (_moreTried ??= []).Add(instance);
        }
    }
}
