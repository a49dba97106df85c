namespace Dotcd.Raft;

/// <summary>Kinds of single membership changes (raftpb.ConfChangeType).</summary>
public enum ConfChangeType
{
    AddNode = 0,
    RemoveNode = 1,
    UpdateNode = 2,
    AddLearnerNode = 3,
}

/// <summary>How a ConfChangeV2 moves through joint consensus (raftpb.ConfChangeTransition).</summary>
public enum ConfChangeTransition
{
    Auto = 0,          // Simple change when possible, else joint with automatic leave.
    JointImplicit = 1, // Always joint; leave automatically once committed.
    JointExplicit = 2, // Always joint; the host proposes an empty ConfChangeV2 to leave.
}

/// <summary>One node's change inside a ConfChangeV2.</summary>
public readonly record struct ConfChangeSingle(ConfChangeType Type, ulong NodeId);

/// <summary>A membership change in either format; the core works on the V2 form.</summary>
public interface IConfChange
{
    ConfChangeV2 AsV2();

    /// <summary>The V1 form, or null for a change that only V2 can express.</summary>
    ConfChange? AsV1();
}

/// <summary>A single-node membership change (raftpb.ConfChange, v1).</summary>
public sealed record ConfChange(ConfChangeType Type, ulong NodeId, ReadOnlyMemory<byte> Context = default, ulong Id = 0) : IConfChange
{
    public ConfChangeV2 AsV2() => new() { Changes = new[] { new ConfChangeSingle(Type, NodeId) }, Context = Context };

    public ConfChange? AsV1() => this;
}

/// <summary>A possibly multi-node membership change (raftpb.ConfChangeV2).</summary>
public sealed record ConfChangeV2 : IConfChange
{
    public ConfChangeTransition Transition { get; init; }
    public IReadOnlyList<ConfChangeSingle> Changes { get; init; } = Array.Empty<ConfChangeSingle>();
    public ReadOnlyMemory<byte> Context { get; init; }

    public ConfChangeV2 AsV2() => this;

    public ConfChange? AsV1() => null;

    /// <summary>True when the change enters a joint configuration; autoLeave says whether raft leaves it by itself.</summary>
    public bool EnterJoint(out bool autoLeave)
    {
        // A change of more than one node cannot be done in one simple step; neither can an explicit request.
        if (Transition != ConfChangeTransition.Auto || Changes.Count > 1)
        {
            autoLeave = Transition is ConfChangeTransition.Auto or ConfChangeTransition.JointImplicit;
            return true;
        }
        autoLeave = false;
        return false;
    }

    /// <summary>An empty V2 change (context aside, as in etcd) is the request to leave a joint configuration.</summary>
    public bool LeaveJoint => Changes.Count == 0 && Transition == ConfChangeTransition.Auto;
}
