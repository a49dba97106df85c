using System.Collections.Frozen;
using Dotcd.Grpc;

namespace Dotcd.Client;

/// <summary>etcd's well-known errors (clientv3's rpctypes), recognised by their exact message text.</summary>
public enum EtcdError
{
    /// <summary>Not one of etcd's well-known messages: a transport failure, a deadline, or something new.</summary>
    Unrecognized = 0,
    EmptyKey,
    KeyNotFound,
    ValueProvided,
    LeaseProvided,
    TooManyOps,
    DuplicateKey,
    Compacted,
    FutureRevision,
    NoSpace,
    LeaseNotFound,
    LeaseExist,
    LeaseTtlTooLarge,
    WatchCanceled,
    MemberExist,
    PeerUrlExist,
    MemberNotEnoughStarted,
    MemberBadUrls,
    MemberNotFound,
    MemberNotLearner,
    LearnerNotReady,
    TooManyLearners,
    RequestTooLarge,
    TooManyRequests,
    RootUserNotExist,
    RootRoleNotExist,
    UserAlreadyExist,
    UserEmpty,
    UserNotFound,
    RoleAlreadyExist,
    RoleNotFound,
    RoleEmpty,
    AuthFailed,
    PermissionDenied,
    RoleNotGranted,
    PermissionNotGranted,
    AuthNotEnabled,
    InvalidAuthToken,
    InvalidAuthManagement,
    AuthOldRevision,
    NoLeader,
    NotLeader,
    LeaderChanged,
    NotCapable,
    Stopped,
    Timeout,
    TimeoutDueToLeaderFail,
    TimeoutDueToConnectionLost,
    TimeoutWaitAppliedIndex,
    Unhealthy,
    Corrupt,
    NotSupportedForLearner,
    BadLeaderTransferee,
}

/// <summary>The gRPC code and message etcd sends for each <see cref="EtcdError"/>.</summary>
public static class EtcdErrors
{
    // Clients match on these texts, so they are etcd's byte for byte (ETCD-CONTRACT.md section 1).
    private static readonly (EtcdError Error, StatusCode Code, string Message)[] s_table =
    [
        (EtcdError.EmptyKey, StatusCode.InvalidArgument, "etcdserver: key is not provided"),
        (EtcdError.KeyNotFound, StatusCode.InvalidArgument, "etcdserver: key not found"),
        (EtcdError.ValueProvided, StatusCode.InvalidArgument, "etcdserver: value is provided"),
        (EtcdError.LeaseProvided, StatusCode.InvalidArgument, "etcdserver: lease is provided"),
        (EtcdError.TooManyOps, StatusCode.InvalidArgument, "etcdserver: too many operations in txn request"),
        (EtcdError.DuplicateKey, StatusCode.InvalidArgument, "etcdserver: duplicate key given in txn request"),
        (EtcdError.Compacted, StatusCode.OutOfRange, "etcdserver: mvcc: required revision has been compacted"),
        (EtcdError.FutureRevision, StatusCode.OutOfRange, "etcdserver: mvcc: required revision is a future revision"),
        (EtcdError.NoSpace, StatusCode.ResourceExhausted, "etcdserver: mvcc: database space exceeded"),
        (EtcdError.LeaseNotFound, StatusCode.NotFound, "etcdserver: requested lease not found"),
        (EtcdError.LeaseExist, StatusCode.FailedPrecondition, "etcdserver: lease already exists"),
        (EtcdError.LeaseTtlTooLarge, StatusCode.OutOfRange, "etcdserver: too large lease TTL"),
        (EtcdError.WatchCanceled, StatusCode.Cancelled, "etcdserver: watch canceled"),
        (EtcdError.MemberExist, StatusCode.FailedPrecondition, "etcdserver: member ID already exist"),
        (EtcdError.PeerUrlExist, StatusCode.FailedPrecondition, "etcdserver: Peer URLs already exists"),
        (EtcdError.MemberNotEnoughStarted, StatusCode.FailedPrecondition, "etcdserver: re-configuration failed due to not enough started members"),
        (EtcdError.MemberBadUrls, StatusCode.InvalidArgument, "etcdserver: given member URLs are invalid"),
        (EtcdError.MemberNotFound, StatusCode.NotFound, "etcdserver: member not found"),
        (EtcdError.MemberNotLearner, StatusCode.FailedPrecondition, "etcdserver: can only promote a learner member"),
        (EtcdError.LearnerNotReady, StatusCode.FailedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader"),
        (EtcdError.TooManyLearners, StatusCode.FailedPrecondition, "etcdserver: too many learner members in cluster"),
        (EtcdError.RequestTooLarge, StatusCode.InvalidArgument, "etcdserver: request is too large"),
        (EtcdError.TooManyRequests, StatusCode.ResourceExhausted, "etcdserver: too many requests"),
        (EtcdError.RootUserNotExist, StatusCode.FailedPrecondition, "etcdserver: root user does not exist"),
        (EtcdError.RootRoleNotExist, StatusCode.FailedPrecondition, "etcdserver: root user does not have root role"),
        (EtcdError.UserAlreadyExist, StatusCode.FailedPrecondition, "etcdserver: user name already exists"),
        (EtcdError.UserEmpty, StatusCode.InvalidArgument, "etcdserver: user name is empty"),
        (EtcdError.UserNotFound, StatusCode.FailedPrecondition, "etcdserver: user name not found"),
        (EtcdError.RoleAlreadyExist, StatusCode.FailedPrecondition, "etcdserver: role name already exists"),
        (EtcdError.RoleNotFound, StatusCode.FailedPrecondition, "etcdserver: role name not found"),
        (EtcdError.RoleEmpty, StatusCode.InvalidArgument, "etcdserver: role name is empty"),
        (EtcdError.AuthFailed, StatusCode.InvalidArgument, "etcdserver: authentication failed, invalid user ID or password"),
        (EtcdError.PermissionDenied, StatusCode.PermissionDenied, "etcdserver: permission denied"),
        (EtcdError.RoleNotGranted, StatusCode.FailedPrecondition, "etcdserver: role is not granted to the user"),
        (EtcdError.PermissionNotGranted, StatusCode.FailedPrecondition, "etcdserver: permission is not granted to the role"),
        (EtcdError.AuthNotEnabled, StatusCode.FailedPrecondition, "etcdserver: authentication is not enabled"),
        (EtcdError.InvalidAuthToken, StatusCode.Unauthenticated, "etcdserver: invalid auth token"),
        (EtcdError.InvalidAuthManagement, StatusCode.InvalidArgument, "etcdserver: invalid auth management"),
        (EtcdError.AuthOldRevision, StatusCode.InvalidArgument, "etcdserver: revision of auth store is old"),
        (EtcdError.NoLeader, StatusCode.Unavailable, "etcdserver: no leader"),
        (EtcdError.NotLeader, StatusCode.FailedPrecondition, "etcdserver: not leader"),
        (EtcdError.LeaderChanged, StatusCode.Unavailable, "etcdserver: leader changed"),
        (EtcdError.NotCapable, StatusCode.Unavailable, "etcdserver: not capable"),
        (EtcdError.Stopped, StatusCode.Unavailable, "etcdserver: server stopped"),
        (EtcdError.Timeout, StatusCode.Unavailable, "etcdserver: request timed out"),
        (EtcdError.TimeoutDueToLeaderFail, StatusCode.Unavailable, "etcdserver: request timed out, possibly due to previous leader failure"),
        (EtcdError.TimeoutDueToConnectionLost, StatusCode.Unavailable, "etcdserver: request timed out, possibly due to connection lost"),
        (EtcdError.TimeoutWaitAppliedIndex, StatusCode.Unavailable, "etcdserver: request timed out, waiting for the applied index took too long"),
        (EtcdError.Unhealthy, StatusCode.Unavailable, "etcdserver: unhealthy cluster"),
        (EtcdError.Corrupt, StatusCode.DataLoss, "etcdserver: corrupt cluster"),
        (EtcdError.NotSupportedForLearner, StatusCode.Unavailable, "etcdserver: rpc not supported for learner"),
        (EtcdError.BadLeaderTransferee, StatusCode.FailedPrecondition, "etcdserver: bad leader transferee"),
    ];

    private static readonly FrozenDictionary<string, EtcdError> s_byMessage =
        s_table.ToFrozenDictionary(entry => entry.Message, entry => entry.Error, StringComparer.Ordinal);

    private static readonly FrozenDictionary<EtcdError, (StatusCode Code, string Message)> s_byError =
        s_table.ToFrozenDictionary(entry => entry.Error, entry => (entry.Code, entry.Message));

    /// <summary>Recognises a status message as clientv3 does: by its exact text, whatever the code.</summary>
    public static EtcdError FromMessage(string message) =>
        s_byMessage.TryGetValue(message, out EtcdError error) ? error : EtcdError.Unrecognized;

    /// <summary>The message etcd sends for an error.</summary>
    public static string Message(EtcdError error) => Lookup(error).Message;

    /// <summary>The gRPC code etcd sends for an error.</summary>
    public static StatusCode Code(EtcdError error) => Lookup(error).Code;

    private static (StatusCode Code, string Message) Lookup(EtcdError error) =>
        s_byError.TryGetValue(error, out (StatusCode, string) entry)
            ? entry
            : throw new ArgumentOutOfRangeException(nameof(error), error, "Not one of etcd's well-known errors.");
}
