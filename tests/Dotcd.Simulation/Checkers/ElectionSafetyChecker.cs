namespace Dotcd.Simulation.Checkers;

/// <summary>Election safety: at most one leader per term, over the whole run (every node's role is
/// reported to it each time a node becomes leader); and the durable vote behind it: a node that
/// made a vote durable never makes a different one durable in the same term.</summary>
public sealed class ElectionSafetyChecker
{
    private readonly Dictionary<ulong, (ulong Node, long Time)> _leaderOfTerm = [];
    private readonly Dictionary<(ulong Node, ulong Term), ulong> _votes = [];

    public Violation? Failure { get; private set; }

    public int Terms => _leaderOfTerm.Count;

    /// <summary>Node became leader in term; returns false (and sets Failure) if another node led that term.</summary>
    public bool ObserveLeader(ulong term, ulong node, long time)
    {
        if (_leaderOfTerm.TryGetValue(term, out var first))
        {
            if (first.Node == node) return true;
            Failure ??= new Violation("election safety",
                $"two leaders in term {term}: node {first.Node} (at {SimTrace.FormatTime(first.Time).Trim()}s) and node {node}", time);
            return false;
        }
        _leaderOfTerm[term] = (node, time);
        return true;
    }

    /// <summary>Node synced HardState (term, vote); returns false if it had synced another vote in that term.</summary>
    public bool ObserveDurableVote(ulong node, ulong term, ulong vote, long time)
    {
        if (vote == 0) return true;
        if (_votes.TryGetValue((node, term), out ulong earlier) && earlier != vote)
        {
            Failure ??= new Violation("election safety",
                $"node {node} voted for {earlier} and then for {vote} in term {term}", time);
            return false;
        }
        _votes[(node, term)] = vote;
        return true;
    }
}
