using Dotcd.Raft;

namespace Dotcd.Server.RaftLoop;

/// <summary>
/// Carries raft messages to the other members (etcd's rafthttp.Transporter, sending side).
/// Inbound messages come back through RaftNodeHost.StepAsync, ReportUnreachable and ReportSnapshot.
/// </summary>
public interface IPeerTransport
{
    /// <summary>
    /// Sends messages; called on the raft thread after the Ready they came in is durable. Must not
    /// block: queue or drop (raft retransmits, clients time out and retry).
    /// </summary>
    void Send(IReadOnlyList<Message> messages);
}

/// <summary>The transport of a member alone in its cluster: raft never addresses anyone else.</summary>
public sealed class NoPeerTransport : IPeerTransport
{
    public static readonly NoPeerTransport Instance = new();

    private NoPeerTransport()
    {
    }

    public void Send(IReadOnlyList<Message> messages)
    {
        if (messages.Count > 0)
            throw new InvalidOperationException($"a single member has no peer to send {messages[0]} to");
    }
}
