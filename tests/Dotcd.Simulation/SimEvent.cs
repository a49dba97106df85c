using Dotcd.Raft;

namespace Dotcd.Simulation;

/// <summary>Something that happens at a point of simulated time.</summary>
internal abstract record SimEvent;

internal sealed record TickEvent(ulong Node, int Incarnation) : SimEvent;

internal sealed record DeliverEvent(Message Message, int SenderIncarnation) : SimEvent;

internal sealed record RestartEvent(ulong Node) : SimEvent;

internal sealed record ClientWakeEvent(int Client, long OpId) : SimEvent;

internal sealed record ClientTimeoutEvent(int Client, long OpId) : SimEvent;

internal sealed record ClientRequestEvent(ulong Node, ClientRequest Request) : SimEvent;

internal sealed record ClientReplyEvent(int Client, ClientReply Reply) : SimEvent;

internal sealed record NemesisEvent : SimEvent;

internal sealed record HealEvent : SimEvent;

internal sealed record ProbeEvent : SimEvent;

internal sealed record MembershipEvent : SimEvent;

internal sealed record CheckEvent : SimEvent;

/// <summary>A client's call as it travels to a member.</summary>
internal sealed record ClientRequest(int Client, long OpId, KvCommand? Write, string? ReadKey);

internal enum ReplyStatus : byte
{
    Ok,
    Rejected, // The member refused before proposing (no leader): the call had no effect.
}

/// <summary>A member's answer to a client; LeaderHint tells the client where to go next.</summary>
internal sealed record ClientReply(long OpId, ReplyStatus Status, Linearizability.KvOutput Output, ulong From, ulong LeaderHint);

/// <summary>Orders events by time, then by the order they were scheduled in: a total order, so a seed replays exactly.</summary>
internal sealed class EventQueue
{
    private readonly PriorityQueue<SimEvent, (long Time, long Seq)> _queue = new();
    private long _seq;

    public int Count => _queue.Count;

    public void Schedule(long time, SimEvent e) => _queue.Enqueue(e, (time, _seq++));

    public bool TryNext(out SimEvent e, out long time)
    {
        if (_queue.TryDequeue(out e!, out var key))
        {
            time = key.Time;
            return true;
        }
        time = 0;
        return false;
    }

    public long PeekTime() => _queue.TryPeek(out _, out var key) ? key.Time : long.MaxValue;
}

internal sealed record ReconcileMembersEvent : SimEvent;
