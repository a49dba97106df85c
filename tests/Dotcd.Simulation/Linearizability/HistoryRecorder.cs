namespace Dotcd.Simulation.Linearizability;

/// <summary>Collects a history while a simulation runs: one Invoke when a client sends a call, one
/// Return when it gets the answer. Calls that never return stay in the history with an unknown
/// outcome.</summary>
public sealed class HistoryRecorder<TInput, TOutput>
{
    private readonly TOutput _unknownOutput;
    private readonly List<Operation<TInput, TOutput>> _ops = [];
    private readonly List<CallState> _states = []; // parallel to _ops

    /// <summary>Creates a recorder; <paramref name="unknownOutput"/> is the output the model accepts
    /// for a call whose answer was never seen (KvOutput.Unknown for the key-value model).</summary>
    public HistoryRecorder(TOutput unknownOutput)
    {
        _unknownOutput = unknownOutput;
    }

    /// <summary>Calls recorded so far, including forgotten ones.</summary>
    public int Count => _ops.Count;

    /// <summary>Records a call sent at <paramref name="callTicks"/>; returns its handle.</summary>
    public int Invoke(int clientId, TInput input, long callTicks)
    {
        _ops.Add(new Operation<TInput, TOutput>(clientId, input, callTicks, _unknownOutput, Operation.NeverReturned));
        _states.Add(CallState.Pending);
        return _ops.Count - 1;
    }

    /// <summary>Records the answer to call <paramref name="handle"/>.</summary>
    public void Return(int handle, TOutput output, long returnTicks)
    {
        Operation<TInput, TOutput> op = _ops[handle];
        if (_states[handle] != CallState.Pending)
        {
            throw new InvalidOperationException($"call {handle} is already {_states[handle]}");
        }
        if (returnTicks < op.CallTicks || returnTicks == Operation.NeverReturned)
        {
            throw new ArgumentOutOfRangeException(nameof(returnTicks), returnTicks, $"call {handle} was sent at {op.CallTicks}");
        }
        _ops[handle] = op with { Output = output, ReturnTicks = returnTicks };
        _states[handle] = CallState.Returned;
    }

    /// <summary>Drops call <paramref name="handle"/>: only for a call known to have had no effect
    /// (a read that failed, a write rejected before it was proposed). A timed-out write must stay.</summary>
    public void Forget(int handle)
    {
        if (_states[handle] != CallState.Pending)
        {
            throw new InvalidOperationException($"call {handle} is already {_states[handle]}");
        }
        _states[handle] = CallState.Forgotten;
    }

    /// <summary>The history so far: returned calls, and pending ones with an unknown outcome.</summary>
    public IReadOnlyList<Operation<TInput, TOutput>> Build()
    {
        var history = new List<Operation<TInput, TOutput>>(_ops.Count);
        for (int i = 0; i < _ops.Count; i++)
        {
            if (_states[i] != CallState.Forgotten)
            {
                history.Add(_ops[i]);
            }
        }
        return history;
    }

    private enum CallState : byte
    {
        Pending,
        Returned,
        Forgotten,
    }
}
