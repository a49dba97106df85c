namespace Dotcd.Simulation.Checkers;

/// <summary>
/// Log matching over pairs of logs: where two logs hold an entry of the same index and term, they
/// hold the same entries up to there; and up to the smaller of their commit indexes they are equal.
/// Snapshot points carry a term but no data, so below a snapshot only terms are compared.
/// </summary>
public static class LogMatchingChecker
{
    public static Violation? Check(IReadOnlyList<LogView> logs, long time)
    {
        for (int x = 0; x < logs.Count; x++)
        {
            for (int y = x + 1; y < logs.Count; y++)
            {
                string? problem = CheckPair(logs[x], logs[y]);
                if (problem is not null) return new Violation("log matching", problem, time);
            }
        }
        return null;
    }

    private static string? CheckPair(LogView a, LogView b)
    {
        ulong lo = Math.Max(a.SnapshotIndex, b.SnapshotIndex);
        ulong hi = Math.Min(a.LastIndex, b.LastIndex);
        if (lo > hi) return null;

        // The highest index where both logs have the same term: everything up to it must match.
        ulong matchUpTo = 0;
        bool any = false;
        for (ulong i = hi; ; i--)
        {
            if (a.TryGetTerm(i, out ulong ta) && b.TryGetTerm(i, out ulong tb) && ta == tb)
            {
                matchUpTo = i;
                any = true;
                break;
            }
            if (i == lo) break;
        }
        ulong committed = Math.Min(Math.Min(a.Commit, b.Commit), hi);
        ulong mustMatch = any ? Math.Max(matchUpTo, committed) : committed;
        if (!any && committed < lo) return null;
        for (ulong i = lo; i <= mustMatch; i++)
        {
            a.TryGetTerm(i, out ulong ta);
            b.TryGetTerm(i, out ulong tb);
            string why = i <= committed && (!any || i > matchUpTo)
                ? $"both committed up to {committed}"
                : $"both hold term {TermAt(a, matchUpTo)} at index {matchUpTo}";
            if (ta != tb)
                return $"nodes {a.NodeId} and {b.NodeId} differ at index {i} (terms {ta} and {tb}) though {why}";
            if (a.TryGetEntry(i, out var ea) && b.TryGetEntry(i, out var eb) &&
                (ea.Type != eb.Type || !ea.Data.Span.SequenceEqual(eb.Data.Span)))
                return $"nodes {a.NodeId} and {b.NodeId} hold different data at index {i} term {ta} though {why}";
        }
        return null;
    }

    private static ulong TermAt(LogView log, ulong index) => log.TryGetTerm(index, out ulong t) ? t : 0;
}
