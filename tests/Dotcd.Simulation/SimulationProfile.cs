namespace Dotcd.Simulation;

/// <summary>
/// What one seed does: Raft settings, workload and fault mix, all drawn from the seed, so seeds
/// differ in kind and not only in timing.
/// </summary>
public sealed record SimulationProfile
{
    public bool CheckQuorum { get; init; }
    public bool PreVote { get; init; }
    public ulong MaxSizePerMsg { get; init; }
    public int MaxInflightMsgs { get; init; }
    public ulong MaxCommittedSizePerReady { get; init; }
    public int Clients { get; init; }
    public int Keys { get; init; }
    public bool Crashes { get; init; }
    public bool TornWrites { get; init; }
    public bool Partitions { get; init; }
    public double DropRate { get; init; }
    public double DuplicateRate { get; init; }
    public double LongDelayRate { get; init; }
    public int MaxDelayMs { get; init; }
    public bool Membership { get; init; }
    public bool LeaderTransfers { get; init; }
    public int KeepAfterCompaction { get; init; }

    public static SimulationProfile Draw(SimRandom r) => new()
    {
        CheckQuorum = r.Chance(0.5),
        PreVote = r.Chance(0.6),
        MaxSizePerMsg = r.Pick(new ulong[] { 0, 200, 4096, 1024 * 1024 }),
        MaxInflightMsgs = r.Pick(new[] { 1, 4, 32, 256 }),
        MaxCommittedSizePerReady = r.Pick(new ulong[] { 0, 0, 300 }),
        Clients = r.Range(2, 5),
        Keys = r.Range(1, 4),
        Crashes = r.Chance(0.7),
        TornWrites = r.Chance(0.5),
        Partitions = r.Chance(0.7),
        DropRate = r.Pick(new[] { 0, 0, 0.01, 0.05, 0.15 }),
        DuplicateRate = r.Pick(new[] { 0, 0.01, 0.05 }),
        LongDelayRate = r.Pick(new[] { 0, 0.01, 0.05 }),
        MaxDelayMs = r.Pick(new[] { 5, 10, 30 }),
        Membership = r.Chance(0.7),
        LeaderTransfers = r.Chance(0.3),
        KeepAfterCompaction = r.Range(0, 5),
    };

    public override string ToString() =>
        $"checkQuorum={CheckQuorum} preVote={PreVote} maxSizePerMsg={MaxSizePerMsg} maxInflight={MaxInflightMsgs} " +
        $"maxCommittedPerReady={MaxCommittedSizePerReady} clients={Clients} keys={Keys} crashes={Crashes} torn={TornWrites} " +
        $"partitions={Partitions} drop={DropRate} dup={DuplicateRate} longDelay={LongDelayRate} maxDelay={MaxDelayMs}ms " +
        $"membership={Membership} transfers={LeaderTransfers} keep={KeepAfterCompaction}";
}

/// <summary>Counts of what happened in a run, for the summary line.</summary>
public sealed class SimulationStats
{
    public long Events { get; set; }
    public int Writes { get; set; }
    public int WritesOk { get; set; }
    public int WritesUnknown { get; set; }
    public int Reads { get; set; }
    public int ReadsOk { get; set; }
    public int Crashes { get; set; }
    public int Partitions { get; set; }
    public int SnapshotsApplied { get; set; }
    public int ConfChanges { get; set; }
    public int Elections { get; set; }
    public ulong MaxTerm { get; set; }
    public long RecoveryTicks { get; set; } = -1;
    public string Linearizability { get; set; } = "";
    public long LinearizabilitySteps { get; set; }
    public double CheckMs { get; set; }

    public void Add(SimulationStats o)
    {
        Events += o.Events;
        Writes += o.Writes;
        WritesOk += o.WritesOk;
        WritesUnknown += o.WritesUnknown;
        Reads += o.Reads;
        ReadsOk += o.ReadsOk;
        Crashes += o.Crashes;
        Partitions += o.Partitions;
        SnapshotsApplied += o.SnapshotsApplied;
        ConfChanges += o.ConfChanges;
        Elections += o.Elections;
        MaxTerm = Math.Max(MaxTerm, o.MaxTerm);
        LinearizabilitySteps += o.LinearizabilitySteps;
        CheckMs += o.CheckMs;
    }
}

/// <summary>The outcome of one seed.</summary>
public sealed record SimulationResult(ulong Seed, int Members, Checkers.Violation? Failure, ulong TraceHash, SimulationStats Stats, SimulationProfile Profile)
{
    public bool Passed => Failure is null;
}
