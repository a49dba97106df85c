namespace Dotcd.Raft.Tests.Core;

/// <summary>A log line captured from the core, for asserting etcd's wording.</summary>
internal sealed class CapturingLogger(RaftLogLevel minimum = RaftLogLevel.Debug) : IRaftLogger
{
    public List<string> Lines { get; } = [];

    public bool IsEnabled(RaftLogLevel level) => level >= minimum;

    public void Log(RaftLogLevel level, string message) => Lines.Add(message);
}

/// <summary>One member as a host would run it: a RawNode over a MemoryStorage, applying what commits.</summary>
internal sealed class CoreNode
{
    public CoreNode(ulong id, MemoryStorage storage, Func<ulong, RaftConfig>? configure = null, IRaftLogger? logger = null)
    {
        Id = id;
        Storage = storage;
        Config = configure?.Invoke(id) ?? new RaftConfig
        {
            Id = id,
            ElectionTick = 10,
            HeartbeatTick = 1,
            Storage = storage,
            Random = new SeededRaftRandom(id),
            Logger = logger ?? NullRaftLogger.Instance,
            MaxInflightMsgs = 256,
        };
        Node = new RawNode(Config);
    }

    public ulong Id { get; }
    public MemoryStorage Storage { get; }
    public RaftConfig Config { get; }
    public RawNode Node { get; }
    public List<Entry> Applied { get; } = [];
    public List<ReadState> ReadStates { get; } = [];
    public ConfState? LastConfState { get; private set; }

    /// <summary>Handles one Ready per the host contract; returns its messages.</summary>
    public IReadOnlyList<Message> HandleReady()
    {
        if (!Node.HasReady()) return [];
        Ready rd = Node.Ready();
        if (rd.Snapshot is not null) Storage.ApplySnapshot(rd.Snapshot);
        Storage.Append(rd.Entries);
        if (!rd.HardState.IsEmpty) Storage.SetHardState(rd.HardState);
        ReadStates.AddRange(rd.ReadStates);
        foreach (Entry e in rd.CommittedEntries)
        {
            Applied.Add(e);
            if (e.Type is EntryType.ConfChange or EntryType.ConfChangeV2)
                LastConfState = Node.ApplyConfChange(ConfChangeCodec.Decode(e.Type, e.Data.Span));
        }
        Node.Advance();
        return rd.Messages;
    }

    public IEnumerable<string> AppliedNormalData() =>
        Applied.Where(e => e.Type == EntryType.Normal && !e.Data.IsEmpty).Select(e => System.Text.Encoding.UTF8.GetString(e.Data.Span));
}

/// <summary>A tiny message pump: delivers every message at once, in order, unless the link is cut.</summary>
internal sealed class CoreCluster
{
    /// <param name="configure">Builds a node's config from its id and storage (null: CoreNode's defaults).</param>
    /// <param name="bootstrap">Start from empty storages with RawNode.Bootstrap instead of a snapshot holding the peers.</param>
    /// <param name="storage">A node's initial storage (null: a snapshot holding all ids as voters).</param>
    public CoreCluster(int size, Func<ulong, MemoryStorage, RaftConfig>? configure = null, bool bootstrap = false,
        Func<ulong, MemoryStorage>? storage = null)
    {
        var ids = Enumerable.Range(1, size).Select(i => (ulong)i).ToArray();
        foreach (ulong id in ids)
        {
            MemoryStorage s = bootstrap ? new MemoryStorage() : storage?.Invoke(id) ?? MemoryStorage.WithPeers(ids);
            var node = new CoreNode(id, s, configure is null ? null : _ => configure(id, s));
            if (bootstrap)
            {
                node.Node.Bootstrap(ids.Select(i => new Peer(i)).ToArray());
                // Persist and apply the bootstrap entries: a node with unapplied conf changes does not campaign.
                Assert.Empty(node.HandleReady());
            }
            Nodes[id] = node;
        }
    }

    public SortedDictionary<ulong, CoreNode> Nodes { get; } = [];

    /// <summary>Links (from, to) that drop messages.</summary>
    public HashSet<(ulong From, ulong To)> Cut { get; } = [];

    /// <summary>Drops the messages it matches, in addition to cut links.</summary>
    public Func<Message, bool>? DropWhen { get; set; }

    /// <summary>Whether the pump reports a dropped MsgSnap to its sender (as a transport does).</summary>
    public bool ReportDroppedSnapshots { get; set; } = true;

    public List<Message> Delivered { get; } = [];

    public CoreNode this[ulong id] => Nodes[id];

    public void Isolate(ulong id)
    {
        foreach (ulong other in Nodes.Keys)
        {
            if (other == id) continue;
            Cut.Add((id, other));
            Cut.Add((other, id));
        }
    }

    /// <summary>Handles Readies and delivers messages until nothing moves.</summary>
    public void Stabilize(int maxRounds = 1000)
    {
        for (int round = 0; round < maxRounds; round++)
        {
            var messages = new List<Message>();
            foreach (CoreNode n in Nodes.Values) messages.AddRange(n.HandleReady());
            // Advance can create work (the leader's automatic leave of a joint config), so quiet means no Ready anywhere.
            if (messages.Count == 0 && !Nodes.Values.Any(n => n.Node.HasReady())) return;
            foreach (Message m in messages)
            {
                if (Cut.Contains((m.From, m.To)) || DropWhen?.Invoke(m) == true || !Nodes.TryGetValue(m.To, out CoreNode? target))
                {
                    // A transport reports a snapshot it failed to deliver; the leader would wait for it forever otherwise.
                    if (m.Type == MessageType.MsgSnap && ReportDroppedSnapshots) Nodes[m.From].Node.ReportSnapshot(m.To, SnapshotStatus.Failure);
                    continue;
                }
                Delivered.Add(m);
                target.Node.Step(m);
                // The sender's host learns that the snapshot arrived (it was applied with the next Ready).
                if (m.Type == MessageType.MsgSnap) Nodes[m.From].Node.ReportSnapshot(m.To, SnapshotStatus.Finish);
            }
        }
        throw new InvalidOperationException("cluster did not stabilize");
    }

    /// <summary>A config like CoreNode's default with changes (tests set the feature under test).</summary>
    public static Func<ulong, MemoryStorage, RaftConfig> Config(
        bool preVote = false, bool checkQuorum = false, ReadOnlyOption readOnly = ReadOnlyOption.Safe,
        ulong maxUncommitted = 0, bool disableForwarding = false, ulong maxSizePerMsg = 1024 * 1024) =>
        (id, storage) => new RaftConfig
        {
            Id = id, ElectionTick = 10, HeartbeatTick = 1, Storage = storage, Random = new SeededRaftRandom(id),
            PreVote = preVote, CheckQuorum = checkQuorum, ReadOnlyOption = readOnly,
            MaxUncommittedEntriesSize = maxUncommitted, DisableProposalForwarding = disableForwarding,
            MaxSizePerMsg = maxSizePerMsg,
        };

    public void TickAll(int ticks)
    {
        for (int i = 0; i < ticks; i++)
        {
            foreach (CoreNode n in Nodes.Values) n.Node.Tick();
            Stabilize();
        }
    }

    public ulong? Leader()
    {
        var leaders = Nodes.Values.Where(n => n.Node.Status().RaftState == StateType.Leader).ToList();
        return leaders.Count == 1 ? leaders[0].Id : null;
    }
}
