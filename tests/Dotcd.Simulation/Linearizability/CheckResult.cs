namespace Dotcd.Simulation.Linearizability;

/// <summary>What the checker concluded.</summary>
public enum CheckOutcome
{
    /// <summary>Every partition has a linearization.</summary>
    Ok,
    /// <summary>Some partition has none: the history is not linearizable.</summary>
    Illegal,
    /// <summary>No partition is illegal, but at least one ran out of steps or time before an answer.</summary>
    Unknown,
}

/// <summary>Limits on the search, which is exponential in the worst case.</summary>
public sealed record CheckOptions
{
    /// <summary>Search steps allowed per partition; a partition that needs more is Unknown. Steps are
    /// deterministic, so a budget in steps keeps a failing seed's verdict reproducible. A step costs
    /// about a microsecond, and the memo keeps up to one entry (~100 bytes) per step.</summary>
    public long MaxStepsPerPartition { get; init; } = 2_000_000;

    /// <summary>Wall-clock limit for the whole check, a safety net only (it makes results depend on
    /// machine speed); null means none.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>The checker's verdict, with an explanation a failing simulation prints.</summary>
public sealed class CheckResult<TInput, TOutput>
{
    internal CheckResult(CheckOutcome outcome, string explanation, long steps, int partitionIndex,
        IReadOnlyList<Operation<TInput, TOutput>> linearizedPrefix, Operation<TInput, TOutput>? failedOperation)
    {
        Outcome = outcome;
        Explanation = explanation;
        Steps = steps;
        PartitionIndex = partitionIndex;
        LinearizedPrefix = linearizedPrefix;
        FailedOperation = failedOperation;
    }

    /// <summary>Ok, Illegal or Unknown.</summary>
    public CheckOutcome Outcome { get; }

    /// <summary>Empty when Ok; for Illegal the longest linearizable prefix found, the state it leads
    /// to and the call that could not be placed; for Unknown which partitions ran out of budget.</summary>
    public string Explanation { get; }

    /// <summary>Search steps taken over all partitions.</summary>
    public long Steps { get; }

    /// <summary>For Illegal, the index of the failing partition in the model's Partition order; else -1.</summary>
    public int PartitionIndex { get; }

    /// <summary>For Illegal, the longest prefix of the failing partition that has a linearization,
    /// in linearization order; else empty.</summary>
    public IReadOnlyList<Operation<TInput, TOutput>> LinearizedPrefix { get; }

    /// <summary>For Illegal, a call that had to take effect before it returned but could not, after
    /// <see cref="LinearizedPrefix"/>; else null.</summary>
    public Operation<TInput, TOutput>? FailedOperation { get; }

    /// <summary>True when the history is linearizable.</summary>
    public bool IsOk => Outcome == CheckOutcome.Ok;

    public override string ToString() => Outcome == CheckOutcome.Ok ? "linearizable" : Explanation;
}
