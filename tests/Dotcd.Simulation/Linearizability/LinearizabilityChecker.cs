using System.Diagnostics;
using System.Text;

namespace Dotcd.Simulation.Linearizability;

/// <summary>Decides whether a concurrent history is linearizable with respect to a model.</summary>
public static class LinearizabilityChecker
{
    /// <summary>Checks <paramref name="history"/> partition by partition; Illegal as soon as one
    /// partition has no linearization, Unknown if none is illegal but one ran out of budget.</summary>
    public static CheckResult<TInput, TOutput> Check<TState, TInput, TOutput>(
        IModel<TState, TInput, TOutput> model,
        IReadOnlyList<Operation<TInput, TOutput>> history,
        CheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(history);
        options ??= new CheckOptions();
        for (int i = 0; i < history.Count; i++)
        {
            if (history[i].ReturnTicks < history[i].CallTicks)
            {
                throw new ArgumentException(
                    $"operation {i} returns at {history[i].ReturnTicks}, before its call at {history[i].CallTicks}",
                    nameof(history));
            }
        }

        IReadOnlyList<IReadOnlyList<Operation<TInput, TOutput>>> partitions = model.Partition(history);
        var clock = Stopwatch.StartNew();
        long steps = 0;
        var outOfBudget = new List<(int Index, SearchStatus Status)>();
        for (int p = 0; p < partitions.Count; p++)
        {
            if (options.Timeout is { } limit && clock.Elapsed > limit)
            {
                outOfBudget.Add((p, SearchStatus.OutOfTime));
                continue;
            }
            var search = new PartitionSearch<TState, TInput, TOutput>(model, partitions[p]);
            SearchStatus status = search.Run(options.MaxStepsPerPartition, clock, options.Timeout, ref steps);
            switch (status)
            {
                case SearchStatus.Linearizable:
                    break;
                case SearchStatus.Illegal:
                    return new CheckResult<TInput, TOutput>(CheckOutcome.Illegal, search.Explain(p, partitions.Count),
                        steps, p, search.BestPrefix(), search.FailedOperation);
                default:
                    outOfBudget.Add((p, status));
                    break;
            }
        }

        if (outOfBudget.Count == 0)
        {
            return new CheckResult<TInput, TOutput>(CheckOutcome.Ok, "", steps, -1, [], null);
        }
        var text = new StringBuilder();
        text.Append("unknown: no partition is illegal, but ").Append(outOfBudget.Count).Append(" of ")
            .Append(partitions.Count).AppendLine(" ran out of budget before an answer:");
        foreach ((int index, SearchStatus status) in outOfBudget)
        {
            text.Append("  partition ").Append(index + 1).Append(" (").Append(partitions[index].Count)
                .Append(" operations): ")
                .AppendLine(status == SearchStatus.OutOfSteps
                    ? $"more than {options.MaxStepsPerPartition} steps"
                    : "timed out");
        }
        return new CheckResult<TInput, TOutput>(CheckOutcome.Unknown, text.ToString(), steps, -1, [], null);
    }
}
