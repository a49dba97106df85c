using System.Text;

namespace Dotcd.Raft;

/// <summary>
/// The leader's queue of ReadIndex requests waiting for a heartbeat round to confirm it still
/// leads (etcd's readOnly). A request is keyed by its context bytes; acks for a later request
/// confirm every earlier one too, since the heartbeat carrying it went out after theirs.
/// </summary>
internal sealed class ReadOnly(ReadOnlyOption option)
{
    internal sealed class ReadIndexStatus(Message request, ulong index)
    {
        public Message Request { get; } = request;

        /// <summary>The commit index when the request arrived: the read may be served once applied reaches it.</summary>
        public ulong Index { get; } = index;

        public Dictionary<ulong, bool> Acks { get; } = [];
    }

    // Contexts are compared by content; Latin-1 maps each byte to one char, so the string is a
    // faithful key. Invariant: _queue holds exactly the keys of _pending, in arrival order.
    private readonly Dictionary<string, ReadIndexStatus> _pending = [];
    private readonly List<string> _queue = [];

    public ReadOnlyOption Option { get; } = option;

    public int PendingCount => _queue.Count;

    private static string Key(ReadOnlySpan<byte> context) => Encoding.Latin1.GetString(context);

    /// <summary>Queues a request (its context is Entries[0].Data) read at commit index; a duplicate context is ignored.</summary>
    public void AddRequest(ulong index, Message request)
    {
        string key = Key(request.Entries[0].Data.Span);
        if (_pending.ContainsKey(key)) return;
        _pending[key] = new ReadIndexStatus(request, index);
        _queue.Add(key);
    }

    /// <summary>Records a heartbeat ack for the request with this context; null when no such request is pending.</summary>
    public IReadOnlyDictionary<ulong, bool>? RecvAck(ulong id, ReadOnlySpan<byte> context)
    {
        if (!_pending.TryGetValue(Key(context), out ReadIndexStatus? status)) return null;
        status.Acks[id] = true;
        return status.Acks;
    }

    /// <summary>Dequeues the request with this context and every request queued before it.</summary>
    public List<ReadIndexStatus> Advance(ReadOnlySpan<byte> context)
    {
        string key = Key(context);
        int found = _queue.IndexOf(key);
        if (found < 0) return [];

        var released = new List<ReadIndexStatus>(found + 1);
        for (int i = 0; i <= found; i++)
        {
            if (!_pending.Remove(_queue[i], out ReadIndexStatus? status))
                throw new RaftInvariantException("cannot find corresponding read state from pending map");
            released.Add(status);
        }
        _queue.RemoveRange(0, found + 1);
        return released;
    }

    /// <summary>The newest pending context (heartbeats carry it so that their acks confirm every pending read), or null.</summary>
    public byte[]? LastPendingRequestContext() =>
        _queue.Count == 0 ? null : Encoding.Latin1.GetBytes(_queue[^1]);
}
