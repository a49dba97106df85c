using Dotcd.Raft;

namespace Dotcd.Benchmarks.Raft;

/// <summary>
/// Three (or more) RawNodes wired in memory, driven the way a host must drive them: persist each
/// Ready into the node's MemoryStorage, then hand its messages to the peers, then apply, then Advance.
/// No IO or threads, so the benchmark measures the consensus core alone.
/// </summary>
public sealed class InMemoryCluster
{
    private readonly RawNode[] _nodes;
    private readonly MemoryStorage[] _storages;
    private readonly Queue<Message> _inflight = new();
    private ulong _appliedOnLeader;

    public InMemoryCluster(int members, ulong maxSizePerMsg = 1024 * 1024, int maxInflightMsgs = 256)
    {
        var ids = new ulong[members];
        for (int i = 0; i < members; i++) ids[i] = (ulong)(i + 1);
        _nodes = new RawNode[members];
        _storages = new MemoryStorage[members];
        for (int i = 0; i < members; i++)
        {
            _storages[i] = MemoryStorage.WithPeers(ids);
            _nodes[i] = new RawNode(new RaftConfig
            {
                Id = ids[i],
                ElectionTick = 10,
                HeartbeatTick = 1,
                Storage = _storages[i],
                MaxSizePerMsg = maxSizePerMsg,
                MaxInflightMsgs = maxInflightMsgs,
                Random = new SeededRaftRandom((ulong)i + 1),
            });
        }
        _nodes[0].Campaign();
        Stabilize();
        if (_nodes[0].Status().RaftState != StateType.Leader)
            throw new InvalidOperationException("node 1 did not become leader");
    }

    public RawNode Leader => _nodes[0];

    /// <summary>Committed and applied entries on the leader so far.</summary>
    public ulong AppliedOnLeader => _appliedOnLeader;

    /// <summary>Runs Ready loops and delivers messages until nothing is left to do.</summary>
    public void Stabilize()
    {
        bool progressed = true;
        while (progressed)
        {
            progressed = false;
            for (int i = 0; i < _nodes.Length; i++)
            {
                while (_nodes[i].HasReady())
                {
                    HandleReady(i, _nodes[i].Ready());
                    progressed = true;
                }
            }
            while (_inflight.TryDequeue(out Message? m))
            {
                _nodes[(int)m.To - 1].Step(m);
                progressed = true;
            }
        }
    }

    private void HandleReady(int i, Ready rd)
    {
        MemoryStorage storage = _storages[i];
        if (rd.Snapshot is not null) storage.ApplySnapshot(rd.Snapshot);
        if (!rd.HardState.IsEmpty) storage.SetHardState(rd.HardState);
        if (rd.Entries.Count > 0) storage.Append(rd.Entries);
        foreach (Message m in rd.Messages) _inflight.Enqueue(m);
        foreach (Entry e in rd.CommittedEntries)
        {
            if (e.Type != EntryType.Normal) _nodes[i].ApplyConfChange(ConfChangeCodec.Decode(e.Type, e.Data.Span));
            if (i == 0) _appliedOnLeader = e.Index;
        }
        _nodes[i].Advance();
    }
}
