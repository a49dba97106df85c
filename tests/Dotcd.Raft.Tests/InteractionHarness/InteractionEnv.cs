using System.Globalization;
using System.Text;

namespace Dotcd.Raft.Tests.InteractionHarness;

/// <summary>
/// A cluster of RawNodes over MemoryStorage driven by script commands, after etcd's
/// rafttest.InteractionEnv. Nothing happens unless a command says so: messages wait in one queue
/// until delivered, Readies wait until processed, time moves only by ticks.
/// </summary>
public sealed partial class InteractionEnv
{
    // Output of the command being handled; stabilize swaps in a fresh builder to indent a section.
    private StringBuilder _output = new();
    private readonly List<string> _errors = new();

    private readonly List<InteractionNode> _nodes = new();   // Invariant: _nodes[i].Id == i + 1.
    private readonly List<Message> _messages = new();        // In flight, in the order the Readies emitted them.

    /// <summary>Log lines below this level are not captured; None also hides handler output.</summary>
    internal LogVerbosity Verbosity { get; private set; } = LogVerbosity.Debug;

    /// <summary>Runs one directive and returns what the script expects to see.</summary>
    public string Handle(Directive d)
    {
        _output = new StringBuilder();
        _errors.Clear();
        switch (d.Command)
        {
            case "_breakpoint":
                // A place to attach a debugger: put "_breakpoint" with "----" and "ok" before the interesting part.
                break;
            case "add-nodes":
                // add-nodes <count> [voters=(1,2,3) learners=(4) index=2 content=foo] [peers=(1,2,3)] [prevote=true ...]
                HandleAddNodes(d);
                break;
            case "campaign":
                // campaign <id>
                Node(FirstId(d)).RawNode.Campaign();
                break;
            case "propose":
                // propose <id> <data>
                HandlePropose(d);
                break;
            case "propose-conf-change":
                // propose-conf-change <id> [v1=true] [transition=auto|implicit|explicit], input: v2 l3 r4 u5
                HandleProposeConfChange(d);
                break;
            case "process-ready":
                // process-ready <id>...
                HandleProcessReady(d);
                break;
            case "deliver-msgs":
                // deliver-msgs <id>... [drop=(<id>...)]
                HandleDeliverMsgs(d);
                break;
            case "stabilize":
                // stabilize [<id>...]: process Readies and deliver messages among these nodes until quiet.
                Stabilize(d.Args.Count == 0 ? _nodes.Select(n => n.Id).ToList() : Ids(d));
                break;
            case "status":
                // status <id>: the leader's progress of each member.
                HandleStatus(d);
                break;
            case "raft-state":
                // raft-state: role, term and leader of every node.
                HandleRaftState();
                break;
            case "raft-log":
                // raft-log <id>: the entries in the node's storage.
                RaftLog(Node(FirstId(d)));
                break;
            case "tick-heartbeat":
                // tick-heartbeat <id>...: HeartbeatTick ticks on each node.
                foreach (ulong id in Ids(d)) Tick(Node(id), Node(id).Config.HeartbeatTick);
                break;
            case "tick-election":
                // tick-election <id>...: ElectionTick ticks on each node.
                foreach (ulong id in Ids(d)) Tick(Node(id), Node(id).Config.ElectionTick);
                break;
            case "log-level":
                // log-level debug|info|warn|error|fatal|none
                HandleLogLevel(d);
                break;
            case "compact":
                // compact <id> <index>: discard the node's stored entries up to index, then print its log.
                HandleCompact(d);
                break;
            case "transfer-leadership":
                // transfer-leadership from=<leader> to=<transferee>
                Node(ArgId(d, "from")).RawNode.TransferLeader(ArgId(d, "to"));
                break;
            case "read-index":
                // read-index <id> <request-context>
                HandleReadIndex(d);
                break;
            case "report-unreachable":
                // report-unreachable <id> <unreachable-peer-id>
                Node(FirstId(d)).RawNode.ReportUnreachable(SecondId(d));
                break;
            default:
                WriteError($"unknown command {d.Command}");
                break;
        }

        if (_output.Length == 0) return "ok";
        if (Verbosity == LogVerbosity.None)
        {
            // Quiet mode hides everything but errors, so a noisy setup stays short.
            return _errors.Count > 0 ? string.Join("\n", _errors) : "ok (quiet)";
        }
        return _output.ToString();
    }

    internal void Write(string text) => _output.Append(text);

    internal void WriteLine(string line) => _output.Append(line).Append('\n');

    private void WriteError(string error)
    {
        _errors.Add(error);
        WriteLine(error);
    }

    private void WriteError(RaftError error)
    {
        if (error != RaftError.None) WriteError(ErrorText(error));
    }

    private InteractionNode Node(ulong id)
    {
        if (id == 0 || id > (ulong)_nodes.Count)
            throw new ArgumentException($"node {id} does not exist (there are {_nodes.Count} nodes)");
        return _nodes[(int)(id - 1)];
    }

    private void HandlePropose(Directive d)
    {
        if (d.Args.Count != 2) throw new ArgumentException("usage: propose <id> <data>");
        WriteError(Node(FirstId(d)).RawNode.Propose(Encoding.UTF8.GetBytes(d.Args[1].ToString())));
    }

    private void HandleProposeConfChange(Directive d)
    {
        ulong id = FirstId(d);
        bool v1 = false;
        ConfChangeTransition transition = ConfChangeTransition.Auto;
        foreach (DirectiveArg arg in d.Args.Skip(1))
        {
            switch (arg.Key)
            {
                case "v1":
                    v1 = ParseBool(arg);
                    break;
                case "transition":
                    transition = Single(arg) switch
                    {
                        "auto" => ConfChangeTransition.Auto,
                        "implicit" => ConfChangeTransition.JointImplicit,
                        "explicit" => ConfChangeTransition.JointExplicit,
                        string other => throw new ArgumentException($"unknown transition {other}"),
                    };
                    break;
                default:
                    throw new ArgumentException($"unknown argument {arg}");
            }
        }

        IReadOnlyList<ConfChangeSingle> changes = RaftDescribe.ParseConfChanges(d.Input);
        IConfChange cc;
        if (v1)
        {
            if (changes.Count != 1 || transition != ConfChangeTransition.Auto)
                throw new ArgumentException("v1 conf change can only have one operation and no transition");
            cc = new ConfChange(changes[0].Type, changes[0].NodeId);
        }
        else
        {
            cc = new ConfChangeV2 { Transition = transition, Changes = changes };
        }
        WriteError(Node(id).RawNode.ProposeConfChange(cc));
    }

    private void HandleStatus(Directive d)
    {
        Status st = Node(FirstId(d)).RawNode.Status();
        foreach (KeyValuePair<ulong, ProgressStatus> pr in st.Progress.OrderBy(p => p.Key))
            WriteLine($"{pr.Key}: {RaftDescribe.Progress(pr.Value)}");
    }

    // 1: StateLeader (Voter) Term:2 Lead:1
    private void HandleRaftState()
    {
        foreach (InteractionNode node in _nodes)
        {
            Status st = node.RawNode.Status();
            ConfState cs = st.Config;
            string membership =
                cs.Voters.Contains(node.Id) || cs.VotersOutgoing.Contains(node.Id) ? "Voter"
                : cs.Learners.Contains(node.Id) || cs.LearnersNext.Contains(node.Id) ? "Learner"
                : "Non-member";
            WriteLine($"{node.Id}: {RaftDescribe.StateName(st.RaftState)} ({membership}) Term:{st.Term} Lead:{st.Lead}");
        }
    }

    private void RaftLog(InteractionNode node)
    {
        MemoryStorage s = node.Storage;
        ulong first = s.FirstIndex(), last = s.LastIndex();
        if (last < first)
        {
            WriteLine($"log is empty: first index={first}, last index={last}");
            return;
        }
        StorageError err = s.TryGetEntries(first, last + 1, ulong.MaxValue, out IReadOnlyList<Entry> entries);
        if (err != StorageError.None)
        {
            WriteError(ErrorText(err));
            return;
        }
        Write(RaftDescribe.Entries(entries));
    }

    private static void Tick(InteractionNode node, int ticks)
    {
        for (int i = 0; i < ticks; i++) node.RawNode.Tick();
    }

    private void HandleLogLevel(Directive d)
    {
        string name = d.Args.Count == 1 ? d.Args[0].Key : throw new ArgumentException("usage: log-level <level>");
        Verbosity = name.ToLowerInvariant() switch
        {
            "debug" => LogVerbosity.Debug,
            "info" => LogVerbosity.Info,
            "warn" or "warning" => LogVerbosity.Warn,
            "error" => LogVerbosity.Error,
            "fatal" => LogVerbosity.Fatal,
            "none" => LogVerbosity.None,
            _ => throw new ArgumentException($"log levels must be one of debug, info, warn, error, fatal, none; got {name}"),
        };
    }

    private void HandleCompact(Directive d)
    {
        InteractionNode node = Node(FirstId(d));
        StorageError err = node.Storage.Compact(SecondId(d));
        if (err != StorageError.None)
        {
            WriteError(ErrorText(err));
            return;
        }
        RaftLog(node);
    }

    private void HandleReadIndex(Directive d)
    {
        if (d.Args.Count != 2) throw new ArgumentException("usage: read-index <id> <request-context>");
        Node(FirstId(d)).RawNode.ReadIndex(Encoding.UTF8.GetBytes(d.Args[1].ToString()));
    }

    // etcd's error texts, so that scripts read like etcd's.
    private static string ErrorText(RaftError error) => error switch
    {
        RaftError.ProposalDropped => "raft proposal dropped",
        RaftError.StepLocalMessage => "raft: cannot step raft local message",
        RaftError.StepPeerNotFound => "raft: cannot step as peer not found",
        _ => error.ToString(),
    };

    private static string ErrorText(StorageError error) => error switch
    {
        StorageError.Compacted => "requested index is unavailable due to compaction",
        StorageError.Unavailable => "requested entry at index is unavailable",
        StorageError.SnapshotOutOfDate => "requested index is older than the existing snapshot",
        StorageError.SnapshotTemporarilyUnavailable => "snapshot is temporarily unavailable",
        _ => error.ToString(),
    };

    // Argument helpers: bare numeric keys are ids; key=(a, b) or key=(a b) lists accept commas or spaces.

    private static ulong FirstId(Directive d) =>
        d.Args.Count > 0 ? ParseId(d.Args[0].Key) : throw new ArgumentException($"{d.Command} needs a node id");

    private static ulong SecondId(Directive d) =>
        d.Args.Count > 1 ? ParseId(d.Args[1].Key) : throw new ArgumentException($"{d.Command} needs a second number");

    private static List<ulong> Ids(Directive d) =>
        d.Args.Where(a => a.Values.Count == 0).Select(a => ParseId(a.Key)).ToList();

    private static ulong ArgId(Directive d, string key) =>
        d.Args.FirstOrDefault(a => a.Key == key) is { } arg ? ParseId(Single(arg)) : throw new ArgumentException($"{d.Command} needs {key}=<id>");

    internal static List<ulong> ValueIds(DirectiveArg arg) =>
        arg.Values.SelectMany(v => v.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries)).Select(ParseId).ToList();

    internal static string Single(DirectiveArg arg) =>
        arg.Values.Count == 1 ? arg.Values[0] : throw new ArgumentException($"{arg.Key} needs exactly one value");

    internal static ulong ParseId(string text) =>
        ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v : throw new ArgumentException($"'{text}' is not a number");

    internal static bool ParseBool(DirectiveArg arg) =>
        Single(arg) switch
        {
            "true" => true,
            "false" => false,
            string other => throw new ArgumentException($"{arg.Key}={other} is not true or false"),
        };
}

/// <summary>etcd's interaction log levels; Fatal and None capture no core log lines.</summary>
internal enum LogVerbosity
{
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
    Fatal = 4,
    None = 5,
}
