namespace Dotcd.Simulation.Checkers;

/// <summary>
/// Every member applies the same entries in the same order: each member's applied sequence is a
/// prefix of the longest one. Members report each applied index with the state machine's chained
/// hash after it (which covers every earlier entry, also across snapshots); the first report of an
/// index fixes it, and every later report must agree. Within one member, indexes go up by one,
/// except that a snapshot or a restart moves the position.
/// </summary>
public sealed class AppliedOrderChecker
{
    private readonly Dictionary<ulong, (ulong Term, ulong Chain, ulong Node)> _byIndex = [];
    private readonly Dictionary<ulong, ulong> _position = []; // node -> last applied index

    public Violation? Failure { get; private set; }

    public ulong HighestApplied { get; private set; }

    /// <summary>Node applied the entry at index (of term) and its state hash is now chain.</summary>
    public bool ObserveApply(ulong node, ulong index, ulong term, ulong chain, long time)
    {
        ulong at = _position.TryGetValue(node, out ulong p) ? p : 0;
        if (index != at + 1)
        {
            Failure ??= new Violation("applied order", $"node {node} applied index {index} right after {at}", time);
            return false;
        }
        _position[node] = index;
        return Agree(node, index, term, chain, time);
    }

    /// <summary>Node's state moved to index with hash chain: a snapshot was applied, or the node restarted from its checkpoint.</summary>
    public bool ObservePosition(ulong node, ulong index, ulong chain, bool fromSnapshot, long time)
    {
        ulong at = _position.TryGetValue(node, out ulong p) ? p : 0;
        if (fromSnapshot && index <= at)
        {
            Failure ??= new Violation("applied order", $"node {node} applied a snapshot at {index} while at {at}", time);
            return false;
        }
        _position[node] = index;
        return index == 0 || Agree(node, index, term: null, chain, time);
    }

    private bool Agree(ulong node, ulong index, ulong? term, ulong chain, long time)
    {
        if (_byIndex.TryGetValue(index, out var first))
        {
            if (first.Chain != chain || (term is { } t && first.Term != 0 && t != first.Term))
            {
                Failure ??= new Violation("applied order",
                    $"node {node} applied a different sequence up to index {index} than node {first.Node}" +
                    (term is { } t2 && t2 != first.Term ? $" (entry term {t2} vs {first.Term})" : ""), time);
                return false;
            }
            if (first.Term == 0 && term is { } known) _byIndex[index] = (known, chain, first.Node);
            return true;
        }
        _byIndex[index] = (term ?? 0, chain, node);
        if (index > HighestApplied) HighestApplied = index;
        return true;
    }
}
