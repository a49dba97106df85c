using System.Text;

namespace Dotcd.Raft.Tests.InteractionHarness;

/// <summary>One member of the environment: its node, its storage and its state machine's history.</summary>
internal sealed class InteractionNode
{
    public required ulong Id { get; init; }
    public required RawNode RawNode { get; init; }
    public required MemoryStorage Storage { get; init; }
    public required RaftConfig Config { get; init; }

    // The state machine appends each applied entry's data (a conf change's context) to the previous
    // state; History[^1] is the state at the last applied index and is what the node sends as a snapshot.
    // Invariant: never empty; indexes strictly increase.
    public required List<Snapshot> History { get; init; }
}

/// <summary>
/// MemoryStorage, except that Snapshot answers the state machine's latest state (as etcd's
/// interaction tests do), so a leader can send a snapshot once its log is compacted.
/// </summary>
internal sealed class LatestStateStorage(MemoryStorage inner, List<Snapshot> history) : IRaftStorage
{
    public RaftInitialState InitialState() => inner.InitialState();

    public StorageError TryGetEntries(ulong low, ulong high, ulong maxSizeBytes, out IReadOnlyList<Entry> entries) =>
        inner.TryGetEntries(low, high, maxSizeBytes, out entries);

    public StorageError TryGetTerm(ulong index, out ulong term) => inner.TryGetTerm(index, out term);

    public ulong LastIndex() => inner.LastIndex();

    public ulong FirstIndex() => inner.FirstIndex();

    public StorageError TryGetSnapshot(out Snapshot snapshot)
    {
        snapshot = history[^1];
        return StorageError.None;
    }
}

/// <summary>Captures the core's log lines into the command's output as "INFO 1 became leader at term 1".</summary>
internal sealed class InteractionLogger(InteractionEnv env) : IRaftLogger
{
    public bool IsEnabled(RaftLogLevel level) => (int)level >= (int)env.Verbosity;

    public void Log(RaftLogLevel level, string message)
    {
        if (!IsEnabled(level)) return;
        string name = level switch
        {
            RaftLogLevel.Debug => "DEBUG",
            RaftLogLevel.Info => "INFO",
            RaftLogLevel.Warning => "WARN",
            _ => "ERROR",
        };
        env.WriteLine($"{name} {message.TrimEnd('\n')}");
    }
}

public sealed partial class InteractionEnv
{
    private const int ElectionTick = 3;
    private const int HeartbeatTick = 1;

    private void HandleAddNodes(Directive d)
    {
        int count = d.Args.Count > 0 ? checked((int)ParseId(d.Args[0].Key)) : throw new ArgumentException("usage: add-nodes <count> ...");
        var voters = new List<ulong>();
        var learners = new List<ulong>();
        var peers = new List<ulong>();
        ulong index = 0;
        byte[] content = [];
        bool hasSnapshot = false;
        var options = new NodeOptions();
        foreach (DirectiveArg arg in d.Args.Skip(1))
        {
            switch (arg.Key)
            {
                case "voters": voters.AddRange(ValueIds(arg)); hasSnapshot = true; break;
                case "learners": learners.AddRange(ValueIds(arg)); hasSnapshot = true; break;
                case "index": index = ParseId(Single(arg)); hasSnapshot = true; break;
                case "content": content = Encoding.UTF8.GetBytes(Single(arg)); hasSnapshot = true; break;
                case "peers": peers.AddRange(ValueIds(arg)); break;
                case "prevote": options.PreVote = ParseBool(arg); break;
                case "checkquorum": options.CheckQuorum = ParseBool(arg); break;
                case "read-only":
                    options.ReadOnly = Single(arg) switch
                    {
                        "safe" => ReadOnlyOption.Safe,
                        "lease-based" => ReadOnlyOption.LeaseBased,
                        string other => throw new ArgumentException($"read-only={other}: want safe or lease-based"),
                    };
                    break;
                case "disable-proposal-forwarding": options.DisableProposalForwarding = ParseBool(arg); break;
                case "max-size-per-msg": options.MaxSizePerMsg = ParseId(Single(arg)); break;
                case "max-committed-size-per-ready": options.MaxCommittedSizePerReady = ParseId(Single(arg)); break;
                case "max-uncommitted-size": options.MaxUncommittedEntriesSize = ParseId(Single(arg)); break;
                case "max-inflight": options.MaxInflightMsgs = checked((int)ParseId(Single(arg))); break;
                default: throw new ArgumentException($"unknown add-nodes argument {arg}");
            }
        }
        if (hasSnapshot && peers.Count > 0)
            throw new ArgumentException("add-nodes takes either a snapshot (voters, learners, index, content) or peers to bootstrap, not both");

        // Nodes start either from a snapshot at term 1 (etcd's way for these tests), from
        // RawNode.Bootstrap with the given peers, or empty (they learn the configuration from a snapshot).
        Snapshot snap = Snapshot.Empty;
        if (hasSnapshot)
        {
            // MemoryStorage keeps a dummy entry at the snapshot index; index 1 would collide with the first real entry.
            if (index <= 1) throw new ArgumentException("index must be specified as > 1 due to bootstrap");
            var cs = new ConfState { Voters = voters, Learners = learners };
            snap = new Snapshot(content, new SnapshotMetadata(cs, index, 1));
        }

        for (int n = 0; n < count; n++)
        {
            ulong id = (ulong)_nodes.Count + 1;
            var storage = new MemoryStorage();
            if (hasSnapshot)
            {
                StorageError err = storage.ApplySnapshot(snap);
                if (err != StorageError.None) throw new InvalidOperationException($"node {id}: applying the initial snapshot: {ErrorText(err)}");
                if (storage.FirstIndex() != index + 1)
                    throw new InvalidOperationException($"node {id}: failed to establish first index {index + 1}; got {storage.FirstIndex()}");
            }
            var history = new List<Snapshot> { snap };
            var config = new RaftConfig
            {
                Id = id,
                ElectionTick = ElectionTick,
                HeartbeatTick = HeartbeatTick,
                Storage = new LatestStateStorage(storage, history),
                Applied = snap.Metadata.Index,
                MaxSizePerMsg = options.MaxSizePerMsg,
                MaxCommittedSizePerReady = options.MaxCommittedSizePerReady,
                MaxUncommittedEntriesSize = options.MaxUncommittedEntriesSize,
                MaxInflightMsgs = options.MaxInflightMsgs,
                CheckQuorum = options.CheckQuorum,
                PreVote = options.PreVote,
                ReadOnlyOption = options.ReadOnly,
                DisableProposalForwarding = options.DisableProposalForwarding,
                // A fixed seed per node: the same script always draws the same election timeouts.
                Random = new SeededRaftRandom(id),
                Logger = new InteractionLogger(this),
            };
            var rawNode = new RawNode(config);
            if (peers.Count > 0) rawNode.Bootstrap(peers.Select(p => new Peer(p)).ToList());
            _nodes.Add(new InteractionNode { Id = id, RawNode = rawNode, Storage = storage, Config = config, History = history });
        }
    }

    private void HandleProcessReady(Directive d)
    {
        List<ulong> ids = Ids(d);
        if (ids.Count == 1)
        {
            ProcessReady(Node(ids[0]));
            return;
        }
        foreach (ulong id in ids) Indented($"> {id} handling Ready", () => ProcessReady(Node(id)));
    }

    /// <summary>Does what a host does with a Ready, in the contract's order, and prints it.</summary>
    private void ProcessReady(InteractionNode node)
    {
        RawNode rn = node.RawNode;
        Ready rd = rn.Ready();
        Write(RaftDescribe.Ready(rd));

        // 1. Persist: snapshot before entries, since a snapshot replaces the whole stored log.
        if (!rd.HardState.IsEmpty) node.Storage.SetHardState(rd.HardState);
        if (rd.Snapshot is { IsEmpty: false } snap)
        {
            StorageError err = node.Storage.ApplySnapshot(snap);
            if (err != StorageError.None) WriteError($"applying snapshot {snap.Metadata.Index}: {ErrorText(err)}");
            else node.History.Add(snap);
        }
        node.Storage.Append(rd.Entries);

        // 2. Apply committed entries to the appending state machine.
        foreach (Entry e in rd.CommittedEntries)
        {
            ReadOnlyMemory<byte> update = e.Data;
            ConfState? cs = null;
            if (e.Type is EntryType.ConfChange or EntryType.ConfChangeV2)
            {
                IConfChange cc = ConfChangeCodec.Decode(e.Type, e.Data.Span);
                cs = rn.ApplyConfChange(cc);
                update = cc.AsV2().Context;
            }
            Snapshot last = node.History[^1];
            if (e.Index <= last.Metadata.Index)
            {
                // Committed entries come once, in order, after any snapshot: anything else is a core bug to show.
                WriteError($"entry {e.Index} handed out for applying again (the state machine is at {last.Metadata.Index})");
                continue;
            }
            byte[] data = new byte[last.Data.Length + update.Length];
            last.Data.CopyTo(data);
            update.CopyTo(data.AsMemory(last.Data.Length));
            node.History.Add(new Snapshot(data, new SnapshotMetadata(cs ?? last.Metadata.ConfState, e.Index, e.Term)));
        }

        // 3. Send: messages join the in-flight queue.
        _messages.AddRange(rd.Messages);
        rn.Advance();
    }

    private void HandleDeliverMsgs(Directive d)
    {
        var recipients = new List<(ulong Id, bool Drop)>();
        foreach (DirectiveArg arg in d.Args)
        {
            if (arg.Values.Count == 0)
            {
                recipients.Add((ParseId(arg.Key), false));
            }
            else if (arg.Key == "drop")
            {
                foreach (ulong id in ValueIds(arg))
                {
                    if (recipients.Contains((id, false))) throw new ArgumentException($"can't both deliver and drop msgs to {id}");
                    recipients.Add((id, true));
                }
            }
            else
            {
                throw new ArgumentException($"unknown deliver-msgs argument {arg}");
            }
        }
        if (DeliverMsgs(recipients) == 0) WriteLine("no messages");
    }

    /// <summary>Delivers (or drops) the queued messages to each recipient, keeping their order.</summary>
    private int DeliverMsgs(IEnumerable<(ulong Id, bool Drop)> recipients)
    {
        int delivered = 0;
        foreach ((ulong id, bool drop) in recipients)
        {
            List<Message> msgs = TakeMessages(id);
            delivered += msgs.Count;
            foreach (Message m in msgs)
            {
                if (drop)
                {
                    // Dropping to a node that does not exist yet is fine: nothing steps it.
                    WriteLine("dropped: " + RaftDescribe.Message(m));
                    continue;
                }
                WriteLine(RaftDescribe.Message(m));
                WriteError(Node(m.To).RawNode.Step(m));
            }
        }
        return delivered;
    }

    private List<Message> TakeMessages(ulong to)
    {
        List<Message> taken = _messages.FindAll(m => m.To == to);
        _messages.RemoveAll(m => m.To == to);
        return taken;
    }

    /// <summary>
    /// Rounds of: every node with a Ready handles it; then every node with queued messages receives
    /// them. Ends after a round in which nothing happened.
    /// </summary>
    private void Stabilize(IReadOnlyList<ulong> ids)
    {
        List<InteractionNode> nodes = ids.Select(Node).ToList();
        while (true)
        {
            bool done = true;
            foreach (InteractionNode node in nodes)
            {
                if (!node.RawNode.HasReady()) continue;
                done = false;
                Indented($"> {node.Id} handling Ready", () => ProcessReady(node));
            }
            foreach (InteractionNode node in nodes)
            {
                if (!_messages.Exists(m => m.To == node.Id)) continue;
                done = false;
                Indented($"> {node.Id} receiving messages", () => DeliverMsgs([(node.Id, false)]));
            }
            if (done) return;
        }
    }

    // Writes the header, then what the action writes (log lines included) indented by two spaces.
    private void Indented(string header, Action action)
    {
        WriteLine(header);
        StringBuilder outer = _output;
        _output = new StringBuilder();
        try
        {
            action();
        }
        finally
        {
            string inner = _output.ToString();
            _output = outer;
            foreach (string line in inner.Split('\n'))
            {
                if (line.Length > 0) _output.Append("  ").Append(line).Append('\n');
            }
        }
    }

    private sealed class NodeOptions
    {
        public bool PreVote;
        public bool CheckQuorum;
        public ReadOnlyOption ReadOnly = ReadOnlyOption.Safe;
        public bool DisableProposalForwarding;
        public ulong MaxSizePerMsg = ulong.MaxValue;   // etcd's interaction tests: no limit, every entry in one MsgApp.
        public ulong MaxCommittedSizePerReady;
        public ulong MaxUncommittedEntriesSize;
        public int MaxInflightMsgs = 256;              // etcd uses MaxInt32; 256 keeps a preallocated window small.
    }
}
