using System.Collections;
using System.Text;

namespace Dotcd.Raft.Quorum;

/// <summary>A set of voters that decides by simple majority.</summary>
internal sealed class MajorityConfig : IEnumerable<ulong>
{
    // Sorted so that every walk over the members is in ascending id order (determinism).
    private readonly SortedSet<ulong> _ids;

    public MajorityConfig() => _ids = new SortedSet<ulong>();

    public MajorityConfig(IEnumerable<ulong> ids) => _ids = new SortedSet<ulong>(ids);

    public int Count => _ids.Count;

    public bool Contains(ulong id) => _ids.Contains(id);

    public void Add(ulong id) => _ids.Add(id);

    public bool Remove(ulong id) => _ids.Remove(id);

    public void Clear() => _ids.Clear();

    /// <summary>The voter ids in ascending order.</summary>
    public ulong[] Sorted()
    {
        var result = new ulong[_ids.Count];
        _ids.CopyTo(result);
        return result;
    }

    /// <summary>
    /// The largest index acked by a majority. An empty config answers ulong.MaxValue so that in a
    /// joint config an empty half never holds back the other half. Voters with no known index count as 0.
    /// </summary>
    public ulong CommittedIndex(IAckedIndexer acked)
    {
        int n = _ids.Count;
        if (n == 0)
        {
            return ulong.MaxValue;
        }

        // Small configs (the usual 1..7 voters) stay on the stack; this runs on every MsgAppResp.
        Span<ulong> indexes = n <= 7 ? stackalloc ulong[n] : new ulong[n];
        int i = 0;
        foreach (ulong id in _ids)
        {
            indexes[i++] = acked.TryGetAckedIndex(id, out ulong index) ? index : 0;
        }
        indexes.Sort();

        // Counting from the top, the (n/2+1)-th largest index is held by a majority.
        return indexes[n - (n / 2 + 1)];
    }

    /// <summary>Tallies yes/no votes; voters missing from the map have not voted yet. An empty config wins.</summary>
    public VoteResult VoteResult(IReadOnlyDictionary<ulong, bool> votes)
    {
        if (_ids.Count == 0)
        {
            // So that a joint config whose outgoing half is empty behaves like its incoming half.
            return Quorum.VoteResult.Won;
        }

        int yes = 0, missing = 0;
        foreach (ulong id in _ids)
        {
            if (!votes.TryGetValue(id, out bool granted))
            {
                missing++;
            }
            else if (granted)
            {
                yes++;
            }
        }

        int quorum = _ids.Count / 2 + 1;
        if (yes >= quorum)
        {
            return Quorum.VoteResult.Won;
        }
        return yes + missing >= quorum ? Quorum.VoteResult.Pending : Quorum.VoteResult.Lost;
    }

    /// <summary>
    /// A table of every voter's acked index with a bar whose length is the voter's rank by index;
    /// of equal indexes only the first (lowest id) gets a bar, as in etcd. "?" marks a voter with
    /// no known index. etcd's test format, kept byte for byte so its test cases carry over.
    /// </summary>
    public string Describe(IAckedIndexer acked)
    {
        int n = _ids.Count;
        if (n == 0)
        {
            return "<empty majority quorum>";
        }

        var rows = new (ulong Id, ulong Index, bool Known, int Bar)[n];
        int i = 0;
        foreach (ulong id in _ids)
        {
            bool known = acked.TryGetAckedIndex(id, out ulong index);
            rows[i++] = (id, known ? index : 0, known, 0);
        }

        // Rank by index (ties by id); a row whose index exceeds the previous row's gets its rank as bar.
        Array.Sort(rows, (a, b) => a.Index != b.Index ? a.Index.CompareTo(b.Index) : a.Id.CompareTo(b.Id));
        for (i = 1; i < n; i++)
        {
            if (rows[i - 1].Index < rows[i].Index)
            {
                rows[i].Bar = i;
            }
        }
        Array.Sort(rows, (a, b) => a.Id.CompareTo(b.Id));

        var sb = new StringBuilder();
        sb.Append(' ', n).Append("    idx\n");
        foreach (var row in rows)
        {
            if (!row.Known)
            {
                sb.Append('?').Append(' ', n);
            }
            else
            {
                sb.Append('x', row.Bar).Append('>').Append(' ', n - row.Bar);
            }
            sb.Append(' ').Append(row.Index.ToString().PadLeft(5)).Append("    (id=").Append(row.Id).Append(")\n");
        }
        return sb.ToString();
    }

    public MajorityConfig Clone() => new(_ids);

    public IEnumerator<ulong> GetEnumerator() => _ids.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>"(1 2 3)", ids ascending.</summary>
    public override string ToString() => "(" + string.Join(' ', _ids) + ")";
}
