using System.Text;

namespace Dotcd.Raft.Tests.Harness;

/// <summary>A rule that decides, at delivery time, whether a message is dropped (or captured).</summary>
public sealed class MessageFilter
{
    private readonly RaftNetwork _network;

    internal MessageFilter(RaftNetwork network, string name, Func<Message, bool> matches, List<Message>? captured)
    {
        _network = network;
        Name = name;
        Matches = matches;
        Captured = captured;
    }

    public string Name { get; }
    internal Func<Message, bool> Matches { get; }

    /// <summary>For an intercept: the matching messages, in delivery order, held back instead of delivered.</summary>
    public List<Message>? Captured { get; }

    public void Remove() => _network.RemoveFilter(this);

    public override string ToString() => Name;
}

/// <summary>
/// A deterministic network of RawNodes. Messages leave a node only through its Ready (after the
/// node persisted), wait in one FIFO queue, and are checked against the filters when delivered.
/// Nodes are always visited in ascending id order, so a test replays exactly.
/// </summary>
public sealed class RaftNetwork
{
    private const int MaxStabilizeRounds = 10_000;

    private readonly SortedDictionary<ulong, TestNode> _nodes = new();
    private readonly List<MessageFilter> _filters = new();
    private readonly Queue<Message> _inFlight = new();
    private readonly RecordingLogger _logger = new();
    private readonly ulong _seed;

    private RaftNetwork(ulong seed) => _seed = seed;

    /// <summary>A cluster of voters 1..voters (and the given learners), each starting from MemoryStorage.WithPeers.</summary>
    public static RaftNetwork Create(int voters, NodeOptions? options = null, ulong seed = 1, IReadOnlyList<ulong>? learners = null)
    {
        var network = new RaftNetwork(seed);
        ulong[] voterIds = Enumerable.Range(1, voters).Select(i => (ulong)i).ToArray();
        ulong[] learnerIds = learners?.ToArray() ?? [];
        foreach (ulong id in voterIds.Concat(learnerIds))
            network.AddNode(id, MemoryStorage.WithPeers(voterIds, learnerIds), options);
        return network;
    }

    public TestNode this[ulong id] => _nodes[id];

    public IEnumerable<TestNode> Nodes => _nodes.Values;

    public IEnumerable<TestNode> RunningNodes => _nodes.Values.Where(n => n.Running);

    /// <summary>Every message a node handed out in a Ready, in order (delivered or not).</summary>
    public List<Message> Sent { get; } = new();

    /// <summary>Messages a filter dropped.</summary>
    public List<Message> Dropped { get; } = new();

    /// <summary>Messages sent but not yet delivered.</summary>
    public IReadOnlyCollection<Message> InFlight => _inFlight;

    /// <summary>The nodes' most recent log lines, for failure messages.</summary>
    public IReadOnlyList<string> RecentLog => _logger.Lines;

    /// <summary>Adds a member (a new one joining, or one created with a custom storage).</summary>
    public TestNode AddNode(ulong id, MemoryStorage storage, NodeOptions? options = null)
    {
        var node = new TestNode(id, storage, options ?? NodeOptions.Default, _seed * 1000 + id, _logger.For(id));
        _nodes.Add(id, node);
        return node;
    }

    /// <summary>Crashes a member: it keeps its storage but stops ticking and receiving.</summary>
    public void Stop(ulong id) => _nodes[id].Running = false;

    /// <summary>Restarts a member from its storage (a new RawNode; unapplied volatile state is lost).</summary>
    public TestNode Restart(ulong id)
    {
        TestNode node = _nodes[id];
        node.Restart();
        node.Running = true;
        return node;
    }

    // ---- filters --------------------------------------------------------------------------

    public MessageFilter Drop(string name, Func<Message, bool> matches)
    {
        var filter = new MessageFilter(this, name, matches, captured: null);
        _filters.Add(filter);
        return filter;
    }

    /// <summary>Holds back matching messages in filter.Captured instead of delivering them.</summary>
    public MessageFilter Intercept(string name, Func<Message, bool> matches)
    {
        var filter = new MessageFilter(this, name, matches, new List<Message>());
        _filters.Add(filter);
        return filter;
    }

    public MessageFilter Intercept(MessageType type) => Intercept($"intercept {type}", m => m.Type == type);

    public MessageFilter DropType(MessageType type) => Drop($"drop {type}", m => m.Type == type);

    /// <summary>Drops everything to and from the node.</summary>
    public MessageFilter Isolate(ulong id) => Drop($"isolate {id}", m => m.From == id || m.To == id);

    /// <summary>Drops messages between a and b, both ways.</summary>
    public MessageFilter Cut(ulong a, ulong b) =>
        Drop($"cut {a}-{b}", m => (m.From == a && m.To == b) || (m.From == b && m.To == a));

    public MessageFilter CutOneWay(ulong from, ulong to) => Drop($"cut {from}->{to}", m => m.From == from && m.To == to);

    /// <summary>Only members of the same group can talk; a node in no group is isolated.</summary>
    public MessageFilter Partition(params ulong[][] groups)
    {
        int GroupOf(ulong id)
        {
            for (int g = 0; g < groups.Length; g++)
                if (groups[g].Contains(id)) return g;
            return -1;
        }
        string name = "partition " + string.Join(" | ", groups.Select(g => string.Join(",", g)));
        return Drop(name, m => GroupOf(m.From) < 0 || GroupOf(m.From) != GroupOf(m.To));
    }

    /// <summary>Removes every filter.</summary>
    public void Heal() => _filters.Clear();

    internal void RemoveFilter(MessageFilter filter) => _filters.Remove(filter);

    // ---- running --------------------------------------------------------------------------

    /// <summary>Runs one Ready cycle on the node and queues its messages. Returns the messages it sent.</summary>
    public IReadOnlyList<Message> Process(ulong id)
    {
        TestNode node = _nodes[id];
        if (!node.Running) return Array.Empty<Message>();
        IReadOnlyList<Message> messages = node.HandleReady();
        foreach (Message m in messages)
        {
            Sent.Add(m);
            _inFlight.Enqueue(m);
        }
        return messages;
    }

    /// <summary>Runs a Ready cycle on every running node that has one. Returns whether any had.</summary>
    public bool ProcessAll()
    {
        bool any = false;
        foreach (TestNode node in _nodes.Values)
        {
            if (!node.Running || !node.Raw.HasReady()) continue;
            Process(node.Id);
            any = true;
        }
        return any;
    }

    /// <summary>Delivers the messages queued right now (not the ones their handling produces).</summary>
    public void DeliverInFlight()
    {
        int count = _inFlight.Count;
        for (int i = 0; i < count; i++) Deliver(_inFlight.Dequeue());
    }

    /// <summary>Removes and returns the queued messages that match, without delivering them.</summary>
    public List<Message> TakeInFlight(Func<Message, bool> matches)
    {
        var taken = new List<Message>();
        int count = _inFlight.Count;
        for (int i = 0; i < count; i++)
        {
            Message m = _inFlight.Dequeue();
            if (matches(m)) taken.Add(m);
            else _inFlight.Enqueue(m);
        }
        return taken;
    }

    /// <summary>Delivers one message through the filters, as the transport would.</summary>
    public void Deliver(Message m)
    {
        foreach (MessageFilter filter in _filters)
        {
            if (!filter.Matches(m)) continue;
            if (filter.Captured is not null)
            {
                filter.Captured.Add(m);
                return;
            }
            Dropped.Add(m);
            // The sender's transport could not stream the snapshot; its host reports so.
            if (m.Type == MessageType.MsgSnap) ReportSnapshot(m, SnapshotStatus.Failure);
            return;
        }
        DeliverUnfiltered(m);
    }

    /// <summary>Hands a message to its receiver, ignoring filters (to release intercepted messages).</summary>
    public void DeliverUnfiltered(Message m)
    {
        if (!_nodes.TryGetValue(m.To, out TestNode? to) || !to.Running)
        {
            Dropped.Add(m);
            return;
        }
        _logger.Add($"deliver {m}");
        to.Raw.Step(m); // StepPeerNotFound (a response from a removed member) is ignored, as a host does.
        // The sender's host learns the snapshot was streamed, as etcd's transport reports it.
        if (m.Type == MessageType.MsgSnap) ReportSnapshot(m, SnapshotStatus.Finish);
    }

    private void ReportSnapshot(Message m, SnapshotStatus status)
    {
        if (_nodes.TryGetValue(m.From, out TestNode? from) && from.Running) from.Raw.ReportSnapshot(m.To, status);
    }

    /// <summary>Runs Ready cycles and deliveries until no node has work and no message is in flight.</summary>
    public void Stabilize()
    {
        for (int round = 0; round < MaxStabilizeRounds; round++)
        {
            bool any = ProcessAll();
            if (!any && _inFlight.Count == 0) return;
            DeliverInFlight();
        }
        throw new InvalidOperationException($"network did not stabilize in {MaxStabilizeRounds} rounds\n{Describe()}");
    }

    /// <summary>Ticks one node n times without processing its Readies.</summary>
    public void Tick(ulong id, int n = 1)
    {
        for (int i = 0; i < n; i++) _nodes[id].Raw.Tick();
    }

    /// <summary>Each round ticks the given nodes (default: all running) once, then stabilizes.</summary>
    public void TickAndStabilize(int rounds, params ulong[] ids)
    {
        for (int r = 0; r < rounds; r++)
        {
            foreach (TestNode node in ids.Length == 0 ? RunningNodes.ToList() : ids.Select(id => _nodes[id]).ToList())
                if (node.Running) node.Raw.Tick();
            Stabilize();
        }
    }

    /// <summary>Ticks every running node (one round at a time) until the condition holds; false if it never did.</summary>
    public bool TickUntil(Func<bool> condition, int maxRounds)
    {
        for (int r = 0; r < maxRounds; r++)
        {
            if (condition()) return true;
            TickAndStabilize(1);
        }
        return condition();
    }

    /// <summary>Campaigns with the node until it leads (each attempt: Campaign, stabilize).</summary>
    public TestNode Elect(ulong id, int maxAttempts = 5)
    {
        TestNode node = _nodes[id];
        for (int attempt = 0; attempt < maxAttempts; attempt++)
        {
            if (node.Role == StateType.Leader) return node;
            node.Raw.Campaign();
            Stabilize();
        }
        if (node.Role != StateType.Leader)
            throw new InvalidOperationException($"node {id} could not be elected\n{Describe()}");
        return node;
    }

    public RaftError Propose(ulong id, string data) => _nodes[id].Raw.Propose(Encoding.UTF8.GetBytes(data));

    /// <summary>Proposes on the node and stabilizes; returns the proposal's outcome.</summary>
    public RaftError ProposeAndStabilize(ulong id, string data)
    {
        RaftError err = Propose(id, data);
        Stabilize();
        return err;
    }

    public RaftError ProposeConfChangeAndStabilize(ulong id, IConfChange cc)
    {
        RaftError err = _nodes[id].Raw.ProposeConfChange(cc);
        Stabilize();
        return err;
    }

    /// <summary>The running node that believes it leads at the highest term, or null.</summary>
    public TestNode? Leader() =>
        RunningNodes.Where(n => n.Role == StateType.Leader).OrderByDescending(n => n.Term).FirstOrDefault();

    /// <summary>Throws unless every two state machines agree on their common prefix (State Machine Safety).</summary>
    public void AssertStateMachinesAgree()
    {
        TestNode[] nodes = _nodes.Values.ToArray();
        for (int i = 0; i < nodes.Length; i++)
        for (int j = i + 1; j < nodes.Length; j++)
        {
            List<string> a = nodes[i].State, b = nodes[j].State;
            int n = Math.Min(a.Count, b.Count);
            for (int k = 0; k < n; k++)
                if (a[k] != b[k])
                    throw new InvalidOperationException(
                        $"state machines of {nodes[i].Id} and {nodes[j].Id} differ at position {k}: '{a[k]}' vs '{b[k]}'\n{Describe()}");
        }
    }

    /// <summary>Throws unless the persisted logs satisfy the Log Matching property pairwise.</summary>
    public void AssertLogMatching()
    {
        TestNode[] nodes = _nodes.Values.ToArray();
        for (int i = 0; i < nodes.Length; i++)
        for (int j = i + 1; j < nodes.Length; j++)
        {
            Dictionary<ulong, Entry> a = nodes[i].PersistedLog().ToDictionary(e => e.Index);
            Entry[] b = nodes[j].PersistedLog().ToArray();
            // Find the highest index where both hold an entry of the same term; everything
            // both still hold below it must be identical.
            ulong agreed = 0;
            foreach (Entry e in b)
                if (a.TryGetValue(e.Index, out Entry other) && other.Term == e.Term) agreed = e.Index;
            foreach (Entry e in b)
            {
                if (e.Index > agreed || !a.TryGetValue(e.Index, out Entry other)) continue;
                if (other.Term != e.Term || !other.Data.Span.SequenceEqual(e.Data.Span))
                    throw new InvalidOperationException(
                        $"logs of {nodes[i].Id} and {nodes[j].Id} agree at {agreed} but differ at {e.Index}: {other} vs {e}\n{Describe()}");
            }
        }
    }

    public string Describe() =>
        string.Join("\n", _nodes.Values.Select(n => n.ToString())) +
        (_filters.Count == 0 ? "" : "\nfilters: " + string.Join("; ", _filters)) +
        "\nrecent:\n  " + string.Join("\n  ", _logger.Lines.TakeLast(40));

    /// <summary>Keeps the last lines the nodes logged and the harness delivered, for failure messages.</summary>
    private sealed class RecordingLogger
    {
        private const int Keep = 400;
        private readonly Queue<string> _lines = new();

        public IReadOnlyList<string> Lines => _lines.ToArray();

        public void Add(string line)
        {
            _lines.Enqueue(line);
            if (_lines.Count > Keep) _lines.Dequeue();
        }

        public IRaftLogger For(ulong id) => new NodeLogger(this, id);

        private sealed class NodeLogger(RecordingLogger owner, ulong id) : IRaftLogger
        {
            public bool IsEnabled(RaftLogLevel level) => level >= RaftLogLevel.Info;

            public void Log(RaftLogLevel level, string message) => owner.Add($"[{id}] {message}");
        }
    }
}
