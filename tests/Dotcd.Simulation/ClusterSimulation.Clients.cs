using System.Buffers.Binary;
using Dotcd.Raft;
using Dotcd.Simulation.Linearizability;

namespace Dotcd.Simulation;

// Clients: each runs one call at a time against the member it believes leads; writes are proposals
// (unknown outcome on timeout), reads are ReadIndex reads (dropped from the history on timeout).
public sealed partial class ClusterSimulation
{
    private const long ClientTimeoutMs = 30L * TickMs;
    private const int ClientMaxThinkMs = 150;

    private readonly List<SimClient> _clients = [];
    private long _nextOpId;
    private ulong _nextReadId;

    private sealed class SimClient(int id)
    {
        public int Id { get; } = id;
        public ulong Seq { get; set; }
        public ulong BelievedLeader { get; set; }
        public long OpId { get; set; } = -1;   // the call in flight, -1 when idle
        public int Handle { get; set; }
        public bool IsWrite { get; set; }
        public string? LastValueSeen { get; set; } // for Cas expectations
    }

    private void StartClients()
    {
        for (int i = 1; i <= Profile.Clients; i++)
        {
            var c = new SimClient(i);
            _clients.Add(c);
            _queue.Schedule(_now + _clientRandom.Range(1, 1000), new ClientWakeEvent(i, -1));
        }
    }

    private SimClient ClientOf(int id) => _clients[id - 1];

    private void OnClientWake(ClientWakeEvent e)
    {
        SimClient c = ClientOf(e.Client);
        if (c.OpId != -1 || _now >= _clientsStopTime) return;
        string key = "k" + _clientRandom.Next(Profile.Keys);
        long opId = ++_nextOpId;
        c.OpId = opId;
        int roll = _clientRandom.Next(100);
        ClientRequest request;
        KvInput input;
        if (roll < 40)
        {
            input = KvInput.Get(key);
            request = new ClientRequest(c.Id, opId, null, key);
            c.IsWrite = false;
            Stats.Reads++;
        }
        else
        {
            c.Seq++;
            string value = $"c{c.Id}.{c.Seq}";
            KvCommand cmd;
            if (roll < 75)
            {
                cmd = new KvCommand(KvCommandKind.Put, c.Id, c.Seq, key, value, null);
                input = KvInput.Put(key, value);
            }
            else if (roll < 85)
            {
                cmd = new KvCommand(KvCommandKind.Delete, c.Id, c.Seq, key, null, null);
                input = KvInput.Delete(key);
            }
            else
            {
                string? expected = _clientRandom.Chance(0.3) ? null : c.LastValueSeen;
                cmd = new KvCommand(KvCommandKind.Cas, c.Id, c.Seq, key, value, expected);
                input = KvInput.Cas(key, expected, value);
            }
            request = new ClientRequest(c.Id, opId, cmd, null);
            c.IsWrite = true;
            Stats.Writes++;
        }
        c.Handle = _history.Invoke(c.Id, input, _now);
        ulong target = c.BelievedLeader != 0 ? c.BelievedLeader : RandomMemberId(_clientRandom);
        _trace.Record(_now, TraceKind.ClientCall, (ulong)c.Id, (ulong)opId, target);
        if (_trace.Verbose) Line($"client {c.Id} calls node {target}: {KvModel.Instance.DescribeOperation(input, KvOutput.Unknown).Replace(" -> ? (never returned)", "")} (op {opId})");
        _queue.Schedule(_now + _clientRandom.Range(1, 5), new ClientRequestEvent(target, request));
        _queue.Schedule(_now + ClientTimeoutMs, new ClientTimeoutEvent(c.Id, opId));
    }

    private ulong RandomMemberId(SimRandom r)
    {
        var ids = _nodes.Values.Where(n => n.ShouldRun).Select(n => n.Id).ToList();
        return ids.Count == 0 ? 1 : r.Pick(ids);
    }

    private void OnClientRequest(ClientRequestEvent e)
    {
        SimNode node = _nodes[e.Node];
        ClientRequest q = e.Request;
        if (!node.Running) return; // lost; the client times out
        RawNode raft = node.Raft!;
        if (q.Write is { } cmd)
        {
            RaftError err = raft.Propose(cmd.Encode());
            _trace.Record(_now, TraceKind.Propose, node.Id, (ulong)q.Client, cmd.Seq, (ulong)err);
            if (err != RaftError.None)
            {
                ReplyToClient(node, q.Client, new ClientReply(q.OpId, ReplyStatus.Rejected, KvOutput.Unknown, node.Id, node.Lead));
                return;
            }
            node.Waiters[(q.Client, cmd.Seq)] = q.OpId;
        }
        else
        {
            ulong readId = ++_nextReadId;
            var ctx = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(ctx, readId);
            node.ReadsAwaitingIndex[readId] = new PendingRead(q.Client, q.OpId, q.ReadKey!, readId);
            _trace.Record(_now, TraceKind.ReadIndex, node.Id, (ulong)q.Client, readId);
            raft.ReadIndex(ctx);
        }
        Process(node);
    }

    /// <summary>Answers the reads whose read index the state machine has reached.</summary>
    private void ServeReads(SimNode node)
    {
        if (node.ReadsAwaitingApply.Count == 0 || node.StateMachine is null) return;
        KvStateMachine sm = node.StateMachine;
        for (int i = 0; i < node.ReadsAwaitingApply.Count; i++)
        {
            PendingRead read = node.ReadsAwaitingApply[i];
            if (sm.Applied < read.Index) continue;
            string? value = sm.Get(read.Key);
            _trace.Record(_now, TraceKind.ReadServed, node.Id, read.ReadId, read.Index, sm.Applied);
            if (_trace.Verbose) Line($"node {node.Id} serves read {read.ReadId} of {read.Key} at index {read.Index} (applied {sm.Applied}): {value ?? "<absent>"}");
            ReplyToClient(node, read.Client, new ClientReply(read.OpId, ReplyStatus.Ok, KvOutput.Read(value), node.Id, node.Lead));
            node.ReadsAwaitingApply.RemoveAt(i);
            i--;
        }
    }

    private void ReplyToClient(SimNode node, int client, ClientReply reply) =>
        _queue.Schedule(_now + _clientRandom.Range(1, 5), new ClientReplyEvent(client, reply));

    private void OnClientReply(ClientReplyEvent e)
    {
        SimClient c = ClientOf(e.Client);
        ClientReply r = e.Reply;
        if (c.OpId != r.OpId) return; // an answer to a call the client gave up on
        if (r.Status == ReplyStatus.Rejected)
        {
            // Refused before it was proposed: no effect, so the call leaves the history.
            _history.Forget(c.Handle);
            c.BelievedLeader = r.LeaderHint != 0 ? r.LeaderHint : RandomMemberId(_clientRandom);
            _trace.Record(_now, TraceKind.ClientReturn, (ulong)c.Id, (ulong)r.OpId, 0);
            Line($"client {c.Id}: op {r.OpId} refused by node {r.From} (leader hint {r.LeaderHint})");
        }
        else
        {
            _history.Return(c.Handle, r.Output, _now);
            if (c.IsWrite) Stats.WritesOk++; else Stats.ReadsOk++;
            if (!c.IsWrite) c.LastValueSeen = r.Output.Value.Exists ? StripQuotes(r.Output.Value.ToString()) : null;
            c.BelievedLeader = r.LeaderHint != 0 ? r.LeaderHint : r.From;
            _trace.Record(_now, TraceKind.ClientReturn, (ulong)c.Id, (ulong)r.OpId, 1);
            if (_trace.Verbose) Line($"client {c.Id}: op {r.OpId} returns from node {r.From}: {FormatOutput(r.Output)}");
        }
        Idle(c);
    }

    private void OnClientTimeout(ClientTimeoutEvent e)
    {
        SimClient c = ClientOf(e.Client);
        if (c.OpId != e.OpId) return;
        if (c.IsWrite) Stats.WritesUnknown++;
        else _history.Forget(c.Handle); // a read that never returned had no effect
        _trace.Record(_now, TraceKind.ClientTimeout, (ulong)c.Id, (ulong)e.OpId);
        Line($"client {c.Id}: op {e.OpId} timed out ({(c.IsWrite ? "outcome unknown" : "dropped")})");
        c.BelievedLeader = RandomMemberId(_clientRandom);
        Idle(c);
    }

    private void Idle(SimClient c)
    {
        c.OpId = -1;
        _queue.Schedule(_now + _clientRandom.Range(0, ClientMaxThinkMs), new ClientWakeEvent(c.Id, -1));
    }

    private static string StripQuotes(string s) => s.Length >= 2 && s[0] == '"' ? s[1..^1] : s;

    private static string FormatOutput(KvOutput o) =>
        o.Succeeded is { } b ? b.ToString() : o.Value.Exists ? o.Value.ToString() : "ok/<absent>";

    private void CheckLinearizability()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<Operation<KvInput, KvOutput>> history = _history.Build();
        CheckResult<KvInput, KvOutput> result = LinearizabilityChecker.Check(KvModel.Instance, history,
            new CheckOptions { MaxStepsPerPartition = 2_000_000 });
        Stats.Linearizability = result.Outcome.ToString();
        Stats.LinearizabilitySteps = result.Steps;
        Stats.CheckMs = clock.Elapsed.TotalMilliseconds;
        if (result.Outcome == CheckOutcome.Illegal)
            Fail("linearizability", $"client history of {history.Count} calls is not linearizable:\n{result.Explanation}");
    }
}
