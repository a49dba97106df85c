using Dotcd.Raft;
using Dotcd.Storage;

namespace Dotcd.Server.RaftLoop;

/// <summary>How a member runs consensus; defaults are etcd's.</summary>
public sealed record RaftNodeOptions
{
    /// <summary>WAL and snapshot directories, --snapshot-count, --max-snapshots, WAL settings.</summary>
    public required DurableRaftLogOptions Log { get; init; }

    /// <summary>--name: picks this member out of InitialCluster on first start.</summary>
    public string Name { get; init; } = "default";

    /// <summary>Required on first start (no WAL yet); ignored on restart, where the WAL metadata names the member.</summary>
    public InitialCluster? InitialCluster { get; init; }

    /// <summary>--heartbeat-interval: one raft tick (raft's heartbeat is one tick, as in etcd).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>--election-timeout divided by --heartbeat-interval.</summary>
    public int ElectionTicks { get; init; } = 10;

    /// <summary>--pre-vote (etcd 3.5+ default on).</summary>
    public bool PreVote { get; init; } = true;

    /// <summary>--max-request-bytes: the largest proposal, header included (etcd: 1.5 MiB).</summary>
    public int MaxRequestBytes { get; init; } = 1536 * 1024;

    /// <summary>How long a proposal or read may wait (etcd's ReqTimeout: 5 s + 2 election timeouts when null).</summary>
    public TimeSpan? RequestTimeout { get; init; }

    /// <summary>The clock for ticks, timeouts and request IDs; tests inject their own.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Election randomness; null seeds one from the OS.</summary>
    public IRaftRandom? Random { get; init; }

    public IRaftLogger RaftLogger { get; init; } = NullRaftLogger.Instance;

    /// <summary>
    /// Called on the raft thread on every leader or role change, from the very first one (the
    /// RaftNodeHost.LeaderChanged event may be subscribed too late for that); same rules as the event.
    /// </summary>
    public Action<LeaderChange>? OnLeaderChanged { get; init; }

    /// <summary>Where the engine logs its milestones (leader changes, snapshots, fatal errors).</summary>
    public IStorageLog Logger { get; init; } = StorageLog.None;

    /// <summary>Proposals queued for the raft thread before ProposeAsync waits (backpressure).</summary>
    public int ProposalQueueCapacity { get; init; } = 4096;

    /// <summary>Inbound peer messages queued for the raft thread before StepAsync waits.</summary>
    public int PeerMessageQueueCapacity { get; init; } = 4096;

    /// <summary>
    /// Committed entries queued for the apply thread before the raft thread waits. Larger than
    /// MaxApplyLag so that a stalled applier shows up as "too many requests" before it stalls raft.
    /// </summary>
    public int ApplyQueueEntries { get; init; } = 10_000;

    /// <summary>Bytes of committed entry data queued for the apply thread before the raft thread waits.</summary>
    public long ApplyQueueBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>Proposals are refused with "too many requests" while committed - applied exceeds this (etcd: 5000).</summary>
    public ulong MaxApplyLag { get; init; } = 5000;

    /// <summary>How long the read loop waits for a ReadIndex answer before asking again (etcd: 500 ms).</summary>
    public TimeSpan ReadIndexRetryInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    internal TimeSpan EffectiveRequestTimeout =>
        RequestTimeout ?? TimeSpan.FromSeconds(5) + 2 * ElectionTicks * HeartbeatInterval;

    internal TimeSpan ElectionTimeout => ElectionTicks * HeartbeatInterval;

    internal void Validate()
    {
        if (HeartbeatInterval <= TimeSpan.Zero) throw new ArgumentException("heartbeat interval must be positive");
        if (ElectionTicks < 2) throw new ArgumentException("election timeout must be at least twice the heartbeat interval");
        if (MaxRequestBytes <= 0) throw new ArgumentException("max request bytes must be positive");
        if (ProposalQueueCapacity <= 0 || PeerMessageQueueCapacity <= 0 || ApplyQueueEntries <= 0 || ApplyQueueBytes <= 0)
            throw new ArgumentException("queue capacities must be positive");
    }
}
