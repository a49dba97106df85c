using Dotcd.Grpc;

namespace Dotcd.Client;

/// <summary>
/// A call failed: the gRPC code and etcd's message, recognised as an <see cref="EtcdError"/> where it
/// is one of etcd's well-known errors. <see cref="Exception.Message"/> is etcd's text alone, as
/// clientv3 prints it, when the error is recognised.
/// </summary>
public sealed class EtcdException : Exception
{
    public EtcdException(StatusCode code, string detail, string? endpoint = null, bool requestMayHaveBeenSent = true, Exception? innerException = null)
        : base(FormatMessage(code, detail), innerException)
    {
        Code = code;
        Detail = detail;
        Error = EtcdErrors.FromMessage(detail);
        Endpoint = endpoint;
        RequestMayHaveBeenSent = requestMayHaveBeenSent;
    }

    // Dotcd.Grpc reports SocketsHttpHandler's connect timeout as Internal; to a caller it is an
    // endpoint that could not be reached, which grpc-go reports as Unavailable.
    internal EtcdException(GrpcStatusException inner, string? endpoint, bool requestMayHaveBeenSent)
        : this(!requestMayHaveBeenSent && inner.StatusCode == StatusCode.Internal ? StatusCode.Unavailable : inner.StatusCode,
            inner.Detail, endpoint, requestMayHaveBeenSent, inner)
    {
    }

    public StatusCode Code { get; }

    /// <summary>The status message as the server (or the client, for transport failures) gave it.</summary>
    public string Detail { get; }

    public EtcdError Error { get; }

    /// <summary>The endpoint of the last attempt, when the call reached one.</summary>
    public string? Endpoint { get; }

    /// <summary>
    /// False only when the client knows no server received the request (the connection was never
    /// made). When true, a write may or may not have been applied: read before writing again.
    /// </summary>
    public bool RequestMayHaveBeenSent { get; }

    public bool IsCompacted => Error == EtcdError.Compacted;

    public bool IsFutureRevision => Error == EtcdError.FutureRevision;

    public bool IsNoSpace => Error == EtcdError.NoSpace;

    public bool IsNoLeader => Error == EtcdError.NoLeader;

    public bool IsDeadlineExceeded => Code == StatusCode.DeadlineExceeded;

    /// <summary>etcd's request timeouts: the request may still be applied later.</summary>
    public bool IsServerTimeout => Error is EtcdError.Timeout or EtcdError.TimeoutDueToLeaderFail
        or EtcdError.TimeoutDueToConnectionLost or EtcdError.TimeoutWaitAppliedIndex;

    private static string FormatMessage(StatusCode code, string detail) =>
        EtcdErrors.FromMessage(detail) != EtcdError.Unrecognized ? detail : $"rpc error: code = {code} desc = {detail}";
}
