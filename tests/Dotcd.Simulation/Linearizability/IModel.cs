namespace Dotcd.Simulation.Linearizability;

/// <summary>A sequential specification the checker tests a concurrent history against.</summary>
/// <remarks>States are values: Step must not mutate the state it is given, because the search
/// keeps old states to backtrack to and caches (linearized set, state) pairs.</remarks>
public interface IModel<TState, TInput, TOutput>
{
    /// <summary>The state before any operation.</summary>
    TState Init();

    /// <summary>Applies one call to <paramref name="state"/>; false when the recorded output is
    /// impossible in that state. A call that never returned has an unknown output, so Step must
    /// accept it in every state (the search relies on it).</summary>
    bool Step(TState state, TInput input, TOutput output, out TState next);

    /// <summary>True when <see cref="Step"/> leaves every state it accepts unchanged for this call (a
    /// read, a compare-and-swap known to have failed). The search then never backtracks over it: a
    /// read that fits now can always go now, so trying it later only repeats work.</summary>
    bool IsReadOnly(TInput input, TOutput output);

    /// <summary>Splits a history into independent sub-histories (P-compositionality: the whole is
    /// linearizable exactly when every part is), for example one per key.</summary>
    IReadOnlyList<IReadOnlyList<Operation<TInput, TOutput>>> Partition(
        IReadOnlyList<Operation<TInput, TOutput>> history);

    /// <summary>State equality, for the search's memo of visited (linearized set, state) pairs.</summary>
    bool StateEquals(TState a, TState b);

    /// <summary>A hash consistent with <see cref="StateEquals"/>.</summary>
    int StateHash(TState state);

    /// <summary>One call in words, for explanations: <c>get("a") -> 3</c>.</summary>
    string DescribeOperation(TInput input, TOutput output);

    /// <summary>A state in words, for explanations.</summary>
    string DescribeState(TState state);
}
