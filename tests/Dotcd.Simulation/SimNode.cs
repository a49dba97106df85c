using Dotcd.Raft;

namespace Dotcd.Simulation;

/// <summary>
/// One member as the simulator hosts it: a durable disk that survives crashes, and volatile state
/// (the RawNode, its MemoryStorage view of the log, the state machine, client waiters) that a
/// crash throws away.
/// </summary>
public sealed class SimNode
{
    public SimNode(ulong id, bool initialMember, int tickIntervalMs, ulong snapshotEvery)
    {
        Id = id;
        IsInitialMember = initialMember;
        TickIntervalMs = tickIntervalMs;
        SnapshotEvery = snapshotEvery;
        ShouldRun = initialMember;
    }

    public ulong Id { get; }

    /// <summary>Bootstrapped with the first configuration (others join later, empty).</summary>
    public bool IsInitialMember { get; }

    /// <summary>This node's clock: ticks come every TickIntervalMs (plus jitter), so clocks drift apart.</summary>
    public int TickIntervalMs { get; }

    /// <summary>Applied entries between compactions of the log.</summary>
    public ulong SnapshotEvery { get; }

    public SimDisk Disk { get; } = new();

    /// <summary>Whether the cluster wants this node up: a member of the newest configuration.
    /// A crashed node with ShouldRun set is restarted later; a removed one is stopped.</summary>
    public bool ShouldRun { get; set; }

    /// <summary>Counts starts, so events scheduled for an earlier life (ticks, snapshot reports) are ignored.</summary>
    public int Incarnation { get; set; }

    // Volatile state: null while the node is down.
    public RawNode? Raft { get; set; }
    public MemoryStorage? Storage { get; set; }
    public KvStateMachine? StateMachine { get; set; }
    public ConfState Conf { get; set; } = ConfState.Empty;   // as of StateMachine.Applied

    public bool Running => Raft is not null;

    public ulong Term { get; set; }           // from the last non-empty HardState
    public ulong CommitSeen { get; set; }     // from the last non-empty HardState
    public StateType Role { get; set; }
    public ulong Lead { get; set; }

    /// <summary>When set, the node loses power right after writing its next Ready, before the fsync.</summary>
    public bool CrashBeforeNextSync { get; set; }

    /// <summary>Writes this member took from clients, by (client, seq), until they apply here.</summary>
    public Dictionary<(int Client, ulong Seq), long> Waiters { get; } = [];

    /// <summary>Reads waiting for their ReadState, by request context.</summary>
    public Dictionary<ulong, PendingRead> ReadsAwaitingIndex { get; } = [];

    /// <summary>Reads with a read index, waiting until the state machine applied up to it; in arrival order.</summary>
    public List<PendingRead> ReadsAwaitingApply { get; } = [];

    public void ForgetVolatile()
    {
        Raft = null;
        Storage = null;
        StateMachine = null;
        Conf = ConfState.Empty;
        Role = StateType.Follower;
        Lead = 0;
        CrashBeforeNextSync = false;
        Waiters.Clear();
        ReadsAwaitingIndex.Clear();
        ReadsAwaitingApply.Clear();
    }

    public string Describe()
    {
        if (!Running) return $"node {Id}: down{(ShouldRun ? "" : " (not a member)")}";
        return $"node {Id}: {Role} term={Term} lead={Lead} commit={CommitSeen} applied={StateMachine!.Applied} last={Storage!.LastIndex()} conf=[{Conf}]";
    }
}

/// <summary>A linearizable read in progress at a member.</summary>
public sealed class PendingRead(int client, long opId, string key, ulong readId)
{
    public int Client { get; } = client;
    public long OpId { get; } = opId;
    public string Key { get; } = key;
    public ulong ReadId { get; } = readId;
    public ulong Index { get; set; }
}
