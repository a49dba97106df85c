namespace Dotcd.Grpc;

/// <summary>A gRPC status: a code and a human-readable message (clients match etcd's messages exactly).</summary>
public readonly record struct GrpcStatus(StatusCode Code, string Message)
{
    /// <summary>The OK status with an empty message.</summary>
    public static GrpcStatus Ok => new(StatusCode.OK, "");

    public bool IsOk => Code == StatusCode.OK;

    // grpc-go prints "rpc error: code = NotFound desc = ..."; keep the same shape for logs.
    public override string ToString() => $"code = {Code} desc = {Message}";
}
