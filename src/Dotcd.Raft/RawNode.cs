namespace Dotcd.Raft;

/// <summary>
/// The thread-unsafe Raft node the host drives: inputs go in (Tick, Step, Propose, ...), a Ready
/// comes out, the host does the IO and calls Advance. See Ready for the host's contract.
/// </summary>
public sealed partial class RawNode
{
    // API CONTRACT (bodies are filled in by the core implementation):
    //   public RawNode(RaftConfig config)                 validates config, restores from config.Storage
    //   public void Bootstrap(IReadOnlyList<Peer> peers)  fresh cluster: appends ConfChange AddNode entries (etcd's RawNode.Bootstrap)
    //   public void Tick()
    //   public void Campaign()                            becomes (pre)candidate now
    //   public RaftError Propose(ReadOnlyMemory<byte> data)
    //   public RaftError ProposeConfChange(IConfChange cc)  encodes cc with ConfChangeCodec into an entry of type ConfChange/ConfChangeV2
    //   public ConfState ApplyConfChange(IConfChange cc)    after the entry is committed and applied
    //   public RaftError Step(Message m)                    messages from peers; local types give StepLocalMessage
    //   public void ReadIndex(ReadOnlyMemory<byte> requestContext)
    //   public void TransferLeader(ulong transferee)
    //   public void ReportUnreachable(ulong id)
    //   public void ReportSnapshot(ulong id, SnapshotStatus status)
    //   public bool HasReady()
    //   public Ready Ready()                                 at most one Ready outstanding until Advance
    //   public void Advance()
    //   public Status Status()
}
