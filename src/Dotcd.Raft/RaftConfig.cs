namespace Dotcd.Raft;

/// <summary>How reads are confirmed (raft.ReadOnlyOption).</summary>
public enum ReadOnlyOption
{
    Safe = 0,       // ReadIndex confirmed by a heartbeat round with a quorum.
    LeaseBased = 1, // Trust the leader lease (needs CheckQuorum); unsafe under unbounded clock drift.
}

/// <summary>Configuration of one Raft node.</summary>
public sealed class RaftConfig
{
    /// <summary>This node's ID; never 0.</summary>
    public required ulong Id { get; init; }

    /// <summary>Ticks a follower waits without hearing from a leader before it campaigns (randomized in [E, 2E)).</summary>
    public required int ElectionTick { get; init; }

    /// <summary>Ticks between leader heartbeats; must be less than ElectionTick.</summary>
    public required int HeartbeatTick { get; init; }

    /// <summary>The node's read-only view of its stable log.</summary>
    public required IRaftStorage Storage { get; init; }

    /// <summary>The last applied index when restarting; entries at or below it are not returned again.</summary>
    public ulong Applied { get; init; }

    /// <summary>Byte limit of the entries in one MsgApp (0: one entry per message).</summary>
    public ulong MaxSizePerMsg { get; init; } = 1024 * 1024;

    /// <summary>Byte limit of CommittedEntries in one Ready (0: MaxSizePerMsg).</summary>
    public ulong MaxCommittedSizePerReady { get; init; }

    /// <summary>Byte limit of the leader's uncommitted tail; proposals beyond it are dropped (0: no limit).</summary>
    public ulong MaxUncommittedEntriesSize { get; init; }

    /// <summary>Most MsgApp in flight to one follower in replicate state.</summary>
    public int MaxInflightMsgs { get; init; } = 256;

    /// <summary>The leader steps down when a quorum was not active within an election timeout.</summary>
    public bool CheckQuorum { get; init; }

    /// <summary>Run a pre-election so that a partitioned node cannot disrupt the cluster on rejoin.</summary>
    public bool PreVote { get; init; }

    public ReadOnlyOption ReadOnlyOption { get; init; } = ReadOnlyOption.Safe;

    /// <summary>Followers drop proposals instead of forwarding them to the leader.</summary>
    public bool DisableProposalForwarding { get; init; }

    /// <summary>The seeded source of election-timeout randomness.</summary>
    public required IRaftRandom Random { get; init; }

    public IRaftLogger Logger { get; init; } = NullRaftLogger.Instance;

    /// <summary>Throws RaftConfigException when the configuration is unusable.</summary>
    public void Validate()
    {
        if (Id == 0) throw new RaftConfigException("cannot use none as id");
        if (HeartbeatTick <= 0) throw new RaftConfigException("heartbeat tick must be greater than 0");
        if (ElectionTick <= HeartbeatTick) throw new RaftConfigException("election tick must be greater than heartbeat tick");
        if (MaxInflightMsgs <= 0) throw new RaftConfigException("max inflight messages must be greater than 0");
        if (ReadOnlyOption == ReadOnlyOption.LeaseBased && !CheckQuorum)
            throw new RaftConfigException("CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased");
    }
}

/// <summary>The configuration cannot run a node.</summary>
public sealed class RaftConfigException(string message) : Exception(message);

/// <summary>A Raft invariant broke (etcd's raft panics): the host must stop the member.</summary>
public sealed class RaftInvariantException(string message) : Exception(message);
