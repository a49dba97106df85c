namespace Dotcd.Raft.Quorum;

/// <summary>
/// Two majority configs that must both agree: the incoming config and, while a membership change is
/// in joint consensus, the outgoing one. When not joint the outgoing half is empty and the joint
/// config behaves exactly like its incoming half.
/// </summary>
internal sealed class JointConfig
{
    public JointConfig() : this(new MajorityConfig(), new MajorityConfig())
    {
    }

    public JointConfig(MajorityConfig incoming, MajorityConfig outgoing)
    {
        Incoming = incoming;
        Outgoing = outgoing;
    }

    /// <summary>The config being moved to (etcd's Voters[0]).</summary>
    public MajorityConfig Incoming { get; }

    /// <summary>The config being left (etcd's Voters[1]); empty when not joint.</summary>
    public MajorityConfig Outgoing { get; }

    public bool IsJoint => Outgoing.Count > 0;

    /// <summary>Every voter of either half.</summary>
    public SortedSet<ulong> Ids()
    {
        var ids = new SortedSet<ulong>(Incoming);
        ids.UnionWith(Outgoing);
        return ids;
    }

    /// <summary>The largest index committed by both halves.</summary>
    public ulong CommittedIndex(IAckedIndexer acked) =>
        Math.Min(Incoming.CommittedIndex(acked), Outgoing.CommittedIndex(acked));

    /// <summary>Won only if both halves won; Lost if either lost; otherwise Pending.</summary>
    public VoteResult VoteResult(IReadOnlyDictionary<ulong, bool> votes)
    {
        VoteResult incoming = Incoming.VoteResult(votes);
        VoteResult outgoing = Outgoing.VoteResult(votes);
        if (incoming == outgoing)
        {
            return incoming;
        }
        if (incoming == Quorum.VoteResult.Lost || outgoing == Quorum.VoteResult.Lost)
        {
            return Quorum.VoteResult.Lost;
        }
        return Quorum.VoteResult.Pending;
    }

    /// <summary>etcd's table over the union of both halves.</summary>
    public string Describe(IAckedIndexer acked) => new MajorityConfig(Ids()).Describe(acked);

    public JointConfig Clone() => new(Incoming.Clone(), Outgoing.Clone());

    /// <summary>"(1 2 3)&&(1 2 4)" when joint, else "(1 2 3)".</summary>
    public override string ToString() => IsJoint ? $"{Incoming}&&{Outgoing}" : Incoming.ToString();
}
