using Dotcd.Grpc;
using Dotcd.Server.Apply;
using Dotcd.Server.RaftLoop;

namespace Dotcd.Server.Services;

/// <summary>
/// The etcd errors the service layer answers that Apply/EtcdErrors.cs lacks (etcd 3.5/3.6 texts),
/// and the mapping of everything the layers below throw to a gRPC status.
/// </summary>
public static class RpcErrors
{
    // The table itself is the Apply layer's (EtcdErrors); these are the few it lacks.

    /// <summary>etcd 3.5+'s answer to an unknown sort order or target in a Range.</summary>
    public static readonly GrpcStatus InvalidSortOption = new(StatusCode.InvalidArgument, "etcdserver: invalid sort option");
    public static readonly GrpcStatus WrongDowngradeVersionFormat =
        new(StatusCode.InvalidArgument, "etcdserver: wrong downgrade target version format");
    public static readonly GrpcStatus InvalidDowngradeTargetVersion =
        new(StatusCode.InvalidArgument, "etcdserver: invalid downgrade target version");
    public static readonly GrpcStatus NoInflightDowngrade = new(StatusCode.FailedPrecondition, "etcdserver: no inflight downgrade job");

    /// <summary>
    /// The status a failure becomes (etcd's togRPCError): gRPC statuses pass through, the raft
    /// loop's etcd errors carry their own, and anything else is Unknown with its message, as
    /// grpc-go reports a plain Go error.
    /// </summary>
    public static GrpcStatus ToStatus(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return TryMap(error, out GrpcStatus status) ? status : new GrpcStatus(StatusCode.Unknown, error.Message);
    }

    /// <summary>True for the error types of the layers below that carry an etcd status.</summary>
    public static bool TryMap(Exception error, out GrpcStatus status)
    {
        switch (error)
        {
            case GrpcStatusException e:
                status = e.Status;
                return true;
            case EtcdServerException e:
                status = e.Error.ToGrpcStatus();
                return true;
            case AggregateException { InnerExceptions.Count: 1 } e:
                return TryMap(e.InnerExceptions[0], out status);
            default:
                status = default;
                return false;
        }
    }

    /// <summary>The exception a handler throws for a failure from below (see <see cref="ToStatus"/>).</summary>
    public static GrpcStatusException ToException(Exception error) =>
        error as GrpcStatusException ?? new GrpcStatusException(ToStatus(error), innerException: error);

    public static GrpcStatusException Exception(GrpcStatus status) => new(status);
}
