namespace Dotcd.Raft.Tests.Harness;

/// <summary>The RaftConfig knobs a test varies; the harness fills in Id, Storage and Random.</summary>
public sealed record NodeOptions
{
    public int ElectionTick { get; init; } = 10;
    public int HeartbeatTick { get; init; } = 1;
    public bool PreVote { get; init; }
    public bool CheckQuorum { get; init; }
    public ReadOnlyOption ReadOnlyOption { get; init; } = ReadOnlyOption.Safe;
    public bool DisableProposalForwarding { get; init; }

    // Unbounded by default so that one MsgApp carries the whole missing tail; Figure 8 sets 0
    // to get one entry per message and control exactly which entries reach a follower.
    public ulong MaxSizePerMsg { get; init; } = ulong.MaxValue;
    public ulong MaxCommittedSizePerReady { get; init; }
    public ulong MaxUncommittedEntriesSize { get; init; }
    public int MaxInflightMsgs { get; init; } = 256;

    public static readonly NodeOptions Default = new();

    public RaftConfig ToConfig(ulong id, IRaftStorage storage, IRaftRandom random, ulong applied, IRaftLogger logger) => new()
    {
        Id = id,
        ElectionTick = ElectionTick,
        HeartbeatTick = HeartbeatTick,
        Storage = storage,
        Applied = applied,
        MaxSizePerMsg = MaxSizePerMsg,
        MaxCommittedSizePerReady = MaxCommittedSizePerReady,
        MaxUncommittedEntriesSize = MaxUncommittedEntriesSize,
        MaxInflightMsgs = MaxInflightMsgs,
        CheckQuorum = CheckQuorum,
        PreVote = PreVote,
        ReadOnlyOption = ReadOnlyOption,
        DisableProposalForwarding = DisableProposalForwarding,
        Random = random,
        Logger = logger,
    };
}
