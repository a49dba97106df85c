using Dotcd.Raft;
using Dotcd.Simulation.Checkers;
using Dotcd.Simulation.Linearizability;

namespace Dotcd.Simulation;

/// <summary>
/// A seeded simulation of one Raft cluster: real RawNodes over a simulated network, disk and clock,
/// on one thread. The run has a chaos phase (faults, crashes, membership changes) and a calm phase
/// (faults healed) in which the cluster must elect a leader and commit within a bound; checkers
/// watch every step, and the client history is checked for linearizability at the end.
/// </summary>
public sealed partial class ClusterSimulation
{
    public const int TickMs = 100;          // One Raft tick of a node's clock, in simulated milliseconds.
    public const int ElectionTicks = 10;
    public const int HeartbeatTicks = 1;
    public const int DefaultTicks = 1000;
    public const int LivenessBoundTicks = 200; // After the heal: a leader and a committed proposal within this.

    private readonly ulong _seed;
    private readonly int _members;
    private readonly long _endTime;
    private readonly long _healTime;       // Faults stop here.
    private readonly long _clientsStopTime; // No new client calls after this, so members can converge.
    private readonly SimTrace _trace;
    private readonly EventQueue _queue = new();
    private readonly SortedDictionary<ulong, SimNode> _nodes = []; // ascending id: deterministic iteration
    private readonly SimNetwork _network;

    // Independent random streams, so one subsystem's draws do not shift another's.
    private readonly SimRandom _netRandom;
    private readonly SimRandom _faultRandom;
    private readonly SimRandom _clientRandom;
    private readonly SimRandom _nodeRandom;

    private readonly ElectionSafetyChecker _electionSafety = new();
    private readonly LeaderCompletenessChecker _completeness = new();
    private readonly AppliedOrderChecker _appliedOrder = new();
    private readonly HistoryRecorder<KvInput, KvOutput> _history = new(KvOutput.Unknown);

    private long _now;
    private Violation? _failure;

    public ClusterSimulation(ulong seed, int members, int ticks = DefaultTicks, TextWriter? verbose = null)
    {
        if (members < 1) throw new ArgumentOutOfRangeException(nameof(members));
        if (ticks < 3 * LivenessBoundTicks) throw new ArgumentOutOfRangeException(nameof(ticks), $"at least {3 * LivenessBoundTicks} ticks");
        _seed = seed;
        _members = members;
        _endTime = (long)ticks * TickMs;
        _healTime = _endTime * 6 / 10;
        _clientsStopTime = _endTime - 40L * TickMs;
        _trace = new SimTrace(verbose);
        var root = new SimRandom(seed * 0x9E3779B97F4A7C15UL + (ulong)members);
        Profile = SimulationProfile.Draw(root.Fork(1));
        _netRandom = root.Fork(2);
        _faultRandom = root.Fork(3);
        _clientRandom = root.Fork(4);
        _nodeRandom = root.Fork(5);
        _network = new SimNetwork(_netRandom)
        {
            MaxDelay = Profile.MaxDelayMs,
            DropRate = Profile.DropRate,
            DuplicateRate = Profile.DuplicateRate,
            LongDelayRate = Profile.LongDelayRate,
        };
        // Two spare ids beyond the first configuration, for learners and replacements.
        for (ulong id = 1; id <= (ulong)members + 2; id++)
        {
            var node = new SimNode(id, initialMember: id <= (ulong)members,
                tickIntervalMs: TickMs + _nodeRandom.Range(-8, 8),
                snapshotEvery: (ulong)_nodeRandom.Range(8, 60));
            _nodes[id] = node;
        }
    }

    public static ClusterSimulation Create(ulong seed, int members, int ticks = DefaultTicks, TextWriter? verbose = null) =>
        new(seed, members, ticks, verbose);

    public SimulationProfile Profile { get; }

    public SimulationStats Stats { get; } = new();

    /// <summary>A deliberately broken host for tests: it sends a Ready's messages without the fsync
    /// that MustSync asks for, so a crash can lose acknowledged entries.</summary>
    internal bool BreakDurabilityForTests { get; set; }

    public ulong TraceHash => _trace.Hash;

    /// <summary>Runs the whole simulation and the final checks.</summary>
    public SimulationResult Run()
    {
        _trace.Line(0, $"seed={_seed} members={_members} profile: {Profile}");
        try
        {
            foreach (SimNode node in _nodes.Values)
            {
                if (node.ShouldRun) StartNode(node);
            }
            StartClients();
            ScheduleNemesis();
            _queue.Schedule(_healTime, new HealEvent());
            _queue.Schedule(10 * TickMs, new MembershipEvent());
            _queue.Schedule(50 * TickMs, new CheckEvent());

            while (_failure is null && _queue.TryNext(out SimEvent e, out long time))
            {
                if (time > _endTime) break;
                _now = time;
                Stats.Events++;
                Dispatch(e);
            }
            if (_failure is null) FinalChecks();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Fail("exception", $"{ex.GetType().Name}: {ex.Message}\n{ShortStack(ex)}");
        }
        Stats.Events = _trace.Events;
        return new SimulationResult(_seed, _members, _failure, _trace.Hash, Stats, Profile);
    }

    private void Dispatch(SimEvent e)
    {
        switch (e)
        {
            case TickEvent t: OnTick(t); break;
            case DeliverEvent d: OnDeliver(d); break;
            case RestartEvent r: OnRestart(r); break;
            case ClientWakeEvent w: OnClientWake(w); break;
            case ClientTimeoutEvent t: OnClientTimeout(t); break;
            case ClientRequestEvent q: OnClientRequest(q); break;
            case ClientReplyEvent p: OnClientReply(p); break;
            case NemesisEvent: OnNemesis(); break;
            case HealEvent: OnHeal(); break;
            case ProbeEvent: OnProbe(); break;
            case MembershipEvent: OnMembership(); break;
            case CheckEvent: OnCheck(); break;
            case ReconcileMembersEvent: OnReconcileMembers(); break;
            default: throw new SimulationException($"unknown event {e}");
        }
    }

    private void Fail(string invariant, string details) => _failure ??= new Violation(invariant, details, _now);

    private void Fail(Violation? v)
    {
        if (v is not null) _failure ??= v;
    }

    private static string ShortStack(Exception ex)
    {
        string[] lines = (ex.StackTrace ?? "").Split('\n');
        return string.Join("\n", lines.Take(8).Select(l => "    " + l.Trim()));
    }

    private void Line(string text)
    {
        if (_trace.Verbose) _trace.Line(_now, text);
    }

    /// <summary>The running leader with the highest term, if any.</summary>
    private SimNode? CurrentLeader()
    {
        SimNode? best = null;
        foreach (SimNode n in _nodes.Values)
        {
            if (n.Running && n.Role == StateType.Leader && (best is null || n.Term > best.Term)) best = n;
        }
        return best;
    }

    private string DescribeCluster() =>
        string.Join("\n", _nodes.Values.Select(n => "    " + n.Describe())) + $"\n    network: {_network.Describe()}";
}
