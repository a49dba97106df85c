namespace Dotcd.Grpc;

/// <summary>
/// Sees every call to a registered method, for metrics such as grpc_server_handled_total.
/// Called on the request path: implementations must be cheap and thread-safe.
/// </summary>
public interface IGrpcCallObserver
{
    void OnCallStarted(GrpcMethod method);

    void OnMessageReceived(GrpcMethod method);

    void OnMessageSent(GrpcMethod method);

    void OnCallCompleted(GrpcMethod method, StatusCode code, TimeSpan elapsed);
}
