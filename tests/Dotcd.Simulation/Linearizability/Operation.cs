namespace Dotcd.Simulation.Linearizability;

/// <summary>Constants shared by every history.</summary>
public static class Operation
{
    /// <summary>Return time of a call whose outcome was never seen (timed out, client crashed): it may
    /// take effect at any point after its call, or never. Its output must be one the model accepts
    /// in every state (KvOutput.Unknown).</summary>
    public const long NeverReturned = long.MaxValue;
}

/// <summary>One client call as the client saw it: when it was sent, when the answer arrived, what it
/// asked and what it was told. Times are ticks of the simulated clock.</summary>
/// <remarks>Invariant: CallTicks &lt;= ReturnTicks. ClientId is for explanations only; the checker
/// does not assume a client's calls are sequential.</remarks>
public readonly record struct Operation<TInput, TOutput>(
    int ClientId, TInput Input, long CallTicks, TOutput Output, long ReturnTicks)
{
    /// <summary>True when the call never returned, so its outcome is unknown.</summary>
    public bool NeverReturned => ReturnTicks == Operation.NeverReturned;
}
