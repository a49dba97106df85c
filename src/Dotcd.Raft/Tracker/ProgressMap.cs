using System.Text;
using Dotcd.Raft.Quorum;

namespace Dotcd.Raft.Tracker;

/// <summary>Progress per member id; a member's acked index (for commit) is its Match.</summary>
internal sealed class ProgressMap : Dictionary<ulong, Progress>, IAckedIndexer
{
    public ProgressMap()
    {
    }

    public bool TryGetAckedIndex(ulong voterId, out ulong index)
    {
        if (TryGetValue(voterId, out Progress? pr))
        {
            index = pr.Match;
            return true;
        }
        index = 0;
        return false;
    }

    /// <summary>The member ids in ascending order.</summary>
    public ulong[] SortedIds()
    {
        var ids = new ulong[Count];
        Keys.CopyTo(ids, 0);
        Array.Sort(ids);
        return ids;
    }

    /// <summary>A deep copy: every Progress is cloned.</summary>
    public ProgressMap Clone()
    {
        var copy = new ProgressMap();
        foreach (var (id, pr) in this)
        {
            copy[id] = pr.Clone();
        }
        return copy;
    }

    /// <summary>One line per member in ascending id order: "1: StateProbe match=0 next=1".</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (ulong id in SortedIds())
        {
            sb.Append(id).Append(": ").Append(this[id]).Append('\n');
        }
        return sb.ToString();
    }
}
