using Dotcd.Grpc;
using Dotcd.Mvcc;

namespace Dotcd.Server.Apply;

/// <summary>An error a client sees: etcd's gRPC status code and exact message (clients match the text).</summary>
public sealed class EtcdError
{
    internal EtcdError(StatusCode code, string message)
    {
        Code = code;
        Message = message;
    }

    public StatusCode Code { get; }
    public string Message { get; }

    public GrpcStatus ToStatus() => new(Code, Message);

    public GrpcStatusException ToException() => new(Code, Message);

    public override string ToString() => $"{Code}: {Message}";
}

/// <summary>etcd's client-facing errors (etcdserver/api/v3rpc/rpctypes), one table for every service.</summary>
public static class EtcdErrors
{
    private static EtcdError E(StatusCode code, string message) => new(code, message);

    public static readonly EtcdError EmptyKey = E(StatusCode.InvalidArgument, "etcdserver: key is not provided");
    public static readonly EtcdError KeyNotFound = E(StatusCode.InvalidArgument, "etcdserver: key not found");
    public static readonly EtcdError ValueProvided = E(StatusCode.InvalidArgument, "etcdserver: value is provided");
    public static readonly EtcdError LeaseProvided = E(StatusCode.InvalidArgument, "etcdserver: lease is provided");
    public static readonly EtcdError TooManyOps = E(StatusCode.InvalidArgument, "etcdserver: too many operations in txn request");
    public static readonly EtcdError DuplicateKey = E(StatusCode.InvalidArgument, "etcdserver: duplicate key given in txn request");
    public static readonly EtcdError Compacted = E(StatusCode.OutOfRange, "etcdserver: mvcc: required revision has been compacted");
    public static readonly EtcdError FutureRevision = E(StatusCode.OutOfRange, "etcdserver: mvcc: required revision is a future revision");
    public static readonly EtcdError NoSpace = E(StatusCode.ResourceExhausted, "etcdserver: mvcc: database space exceeded");

    public static readonly EtcdError LeaseNotFound = E(StatusCode.NotFound, "etcdserver: requested lease not found");
    public static readonly EtcdError LeaseExists = E(StatusCode.FailedPrecondition, "etcdserver: lease already exists");
    public static readonly EtcdError LeaseTtlTooLarge = E(StatusCode.OutOfRange, "etcdserver: too large lease TTL");

    public static readonly EtcdError WatchCanceled = E(StatusCode.Cancelled, "etcdserver: watch canceled");

    public static readonly EtcdError MemberExists = E(StatusCode.FailedPrecondition, "etcdserver: member ID already exist");
    public static readonly EtcdError PeerUrlExists = E(StatusCode.FailedPrecondition, "etcdserver: Peer URLs already exists");
    public static readonly EtcdError MemberNotEnoughStarted = E(StatusCode.FailedPrecondition, "etcdserver: re-configuration failed due to not enough started members");
    public static readonly EtcdError MemberBadUrls = E(StatusCode.InvalidArgument, "etcdserver: given member URLs are invalid");
    public static readonly EtcdError MemberNotFound = E(StatusCode.NotFound, "etcdserver: member not found");
    public static readonly EtcdError MemberNotLearner = E(StatusCode.FailedPrecondition, "etcdserver: can only promote a learner member");
    public static readonly EtcdError LearnerNotReady = E(StatusCode.FailedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader");
    public static readonly EtcdError TooManyLearners = E(StatusCode.FailedPrecondition, "etcdserver: too many learner members in cluster");

    public static readonly EtcdError RequestTooLarge = E(StatusCode.InvalidArgument, "etcdserver: request is too large");
    public static readonly EtcdError TooManyRequests = E(StatusCode.ResourceExhausted, "etcdserver: too many requests");

    public static readonly EtcdError RootUserNotExist = E(StatusCode.FailedPrecondition, "etcdserver: root user does not exist");
    public static readonly EtcdError RootRoleNotExist = E(StatusCode.FailedPrecondition, "etcdserver: root user does not have root role");
    public static readonly EtcdError UserAlreadyExist = E(StatusCode.FailedPrecondition, "etcdserver: user name already exists");
    public static readonly EtcdError UserEmpty = E(StatusCode.InvalidArgument, "etcdserver: user name is empty");
    public static readonly EtcdError UserNotFound = E(StatusCode.FailedPrecondition, "etcdserver: user name not found");
    public static readonly EtcdError RoleAlreadyExist = E(StatusCode.FailedPrecondition, "etcdserver: role name already exists");
    public static readonly EtcdError RoleNotFound = E(StatusCode.FailedPrecondition, "etcdserver: role name not found");
    public static readonly EtcdError RoleEmpty = E(StatusCode.InvalidArgument, "etcdserver: role name is empty");
    public static readonly EtcdError AuthFailed = E(StatusCode.InvalidArgument, "etcdserver: authentication failed, invalid user ID or password");
    public static readonly EtcdError PermissionDenied = E(StatusCode.PermissionDenied, "etcdserver: permission denied");
    public static readonly EtcdError RoleNotGranted = E(StatusCode.FailedPrecondition, "etcdserver: role is not granted to the user");
    public static readonly EtcdError PermissionNotGranted = E(StatusCode.FailedPrecondition, "etcdserver: permission is not granted to the role");
    public static readonly EtcdError AuthNotEnabled = E(StatusCode.FailedPrecondition, "etcdserver: authentication is not enabled");
    public static readonly EtcdError InvalidAuthToken = E(StatusCode.Unauthenticated, "etcdserver: invalid auth token");
    public static readonly EtcdError InvalidAuthManagement = E(StatusCode.InvalidArgument, "etcdserver: invalid auth management");
    public static readonly EtcdError AuthOldRevision = E(StatusCode.InvalidArgument, "etcdserver: revision of auth store is old");

    public static readonly EtcdError NoLeader = E(StatusCode.Unavailable, "etcdserver: no leader");
    public static readonly EtcdError NotLeader = E(StatusCode.FailedPrecondition, "etcdserver: not leader");
    public static readonly EtcdError LeaderChanged = E(StatusCode.Unavailable, "etcdserver: leader changed");
    public static readonly EtcdError NotCapable = E(StatusCode.Unavailable, "etcdserver: not capable");
    public static readonly EtcdError Stopped = E(StatusCode.Unavailable, "etcdserver: server stopped");
    public static readonly EtcdError Timeout = E(StatusCode.Unavailable, "etcdserver: request timed out");
    public static readonly EtcdError TimeoutDueToLeaderFail = E(StatusCode.Unavailable, "etcdserver: request timed out, possibly due to previous leader failure");
    public static readonly EtcdError TimeoutDueToConnectionLost = E(StatusCode.Unavailable, "etcdserver: request timed out, possibly due to connection lost");
    public static readonly EtcdError TimeoutWaitAppliedIndex = E(StatusCode.Unavailable, "etcdserver: request timed out, waiting for the applied index took too long");
    public static readonly EtcdError Unhealthy = E(StatusCode.Unavailable, "etcdserver: unhealthy cluster");
    public static readonly EtcdError Corrupt = E(StatusCode.DataLoss, "etcdserver: corrupt cluster");
    public static readonly EtcdError NotSupportedForLearner = E(StatusCode.Unavailable, "etcdserver: rpc not supported for learner");
    public static readonly EtcdError BadLeaderTransferee = E(StatusCode.FailedPrecondition, "etcdserver: bad leader transferee");

    /// <summary>The client error for an MVCC outcome; null when Ok.</summary>
    public static EtcdError? FromMvcc(MvccStatus status) => status switch
    {
        MvccStatus.Ok => null,
        MvccStatus.Compacted => Compacted,
        MvccStatus.FutureRevision => FutureRevision,
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };
}
