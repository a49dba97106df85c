using Dotcd.Grpc;
using Dotcd.Server.Apply;

namespace Dotcd.Server.RaftLoop;

/// <summary>
/// An error the consensus engine reports to a client, with etcd's exact gRPC code and message
/// (etcdserver/errors.go mapped through v3rpc's table): clients match on the message text.
/// </summary>
/// <remarks>
/// The codes and texts come from the one table, Apply/EtcdErrors; only the two etcd errors that
/// table lacks are spelled here. The gRPC layer turns it into a status with <see cref="ToGrpcStatus"/>.
/// </remarks>
public sealed record EtcdServerError(StatusCode Code, string Message)
{
    public static readonly EtcdServerError Stopped = From(EtcdErrors.Stopped);
    public static readonly EtcdServerError Timeout = From(EtcdErrors.Timeout);
    public static readonly EtcdServerError TimeoutDueToLeaderFail = From(EtcdErrors.TimeoutDueToLeaderFail);
    public static readonly EtcdServerError TimeoutDueToConnectionLost = From(EtcdErrors.TimeoutDueToConnectionLost);
    public static readonly EtcdServerError LeaderChanged = From(EtcdErrors.LeaderChanged);
    public static readonly EtcdServerError NoLeader = From(EtcdErrors.NoLeader);
    public static readonly EtcdServerError NotLeader = From(EtcdErrors.NotLeader);
    public static readonly EtcdServerError TooManyRequests = From(EtcdErrors.TooManyRequests);
    public static readonly EtcdServerError RequestTooLarge = From(EtcdErrors.RequestTooLarge);
    public static readonly EtcdServerError BadLeaderTransferee = From(EtcdErrors.BadLeaderTransferee);

    /// <summary>etcd's ErrTimeoutLeaderTransfer (MoveLeader).</summary>
    public static readonly EtcdServerError TimeoutLeaderTransfer =
        new(StatusCode.Unavailable, "etcdserver: request timed out, leader transfer took too long");

    /// <summary>
    /// raft.ErrProposalDropped (leader transfer in progress, forwarding disabled, uncommitted-size
    /// limit): etcd 3.4 has no table entry for it, so clients see code Unknown with raft's text.
    /// </summary>
    public static readonly EtcdServerError ProposalDropped = new(StatusCode.Unknown, "raft proposal dropped");

    public GrpcStatus ToGrpcStatus() => new(Code, Message);

    public EtcdServerException ToException() => new(this);

    public override string ToString() => Message;

    private static EtcdServerError From(EtcdError error) => new(error.Code, error.Message);
}

/// <summary>Carries an <see cref="EtcdServerError"/> out of a Task-returning call.</summary>
public sealed class EtcdServerException(EtcdServerError error) : Exception(error.Message)
{
    public EtcdServerError Error { get; } = error;
}
