namespace Dotcd.Simulation.Checkers;

/// <summary>
/// Leader completeness: an entry committed in term t is in the log of every leader of a term
/// greater than t. The commit term of an index is the smallest term of a leader seen advancing
/// its commit index over it (an upper bound of the true commit term, so the check stays sound).
/// Also state machine safety for commits: one index is never committed with two different entries.
/// </summary>
public sealed class LeaderCompletenessChecker
{
    private readonly SortedDictionary<ulong, Committed> _committed = [];

    public Violation? Failure { get; private set; }

    public int CommittedCount => _committed.Count;

    /// <summary>A leader of commitTerm advanced its commit index over entry.</summary>
    public bool ObserveCommit(in Dotcd.Raft.Entry entry, ulong commitTerm, ulong byNode, long time)
    {
        ulong hash = DataHash(entry);
        if (_committed.TryGetValue(entry.Index, out Committed known))
        {
            if (known.Term != entry.Term || known.Hash != hash)
            {
                Failure ??= new Violation("committed entry changed",
                    $"index {entry.Index} was committed as term {known.Term} (by node {known.Node}) and as term {entry.Term} (by node {byNode})" +
                    (known.Term == entry.Term ? " with different data" : ""), time);
                return false;
            }
            if (commitTerm < known.CommitTerm) _committed[entry.Index] = known with { CommitTerm = commitTerm };
            return true;
        }
        _committed[entry.Index] = new Committed(entry.Term, hash, commitTerm, byNode);
        return true;
    }

    /// <summary>Node just became leader of term with this log; every entry committed in an earlier term must be in it.</summary>
    public bool CheckLeader(ulong term, LogView log, long time)
    {
        foreach (var (index, c) in _committed)
        {
            if (c.CommitTerm >= term || index < log.SnapshotIndex) continue;
            if (index > log.LastIndex)
            {
                Failure ??= new Violation("leader completeness",
                    $"node {log.NodeId} became leader of term {term} with last index {log.LastIndex}, missing index {index} (term {c.Term}) committed in term {c.CommitTerm}", time);
                return false;
            }
            log.TryGetTerm(index, out ulong t);
            bool same = t == c.Term && (!log.TryGetEntry(index, out var e) || DataHash(e) == c.Hash);
            if (!same)
            {
                Failure ??= new Violation("leader completeness",
                    $"node {log.NodeId} became leader of term {term} holding term {t} at index {index}, where term {c.Term} was committed in term {c.CommitTerm}", time);
                return false;
            }
        }
        return true;
    }

    public static ulong DataHash(in Dotcd.Raft.Entry e)
    {
        ulong h = 14695981039346656037UL ^ (ulong)e.Type;
        foreach (byte b in e.Data.Span) h = (h ^ b) * 1099511628211UL;
        return h;
    }

    private readonly record struct Committed(ulong Term, ulong Hash, ulong CommitTerm, ulong Node);
}
