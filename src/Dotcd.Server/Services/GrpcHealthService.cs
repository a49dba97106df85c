using System.Buffers;
using Dotcd.Grpc;
using Google.Protobuf;

namespace Dotcd.Server.Services;

/// <summary>
/// grpc.health.v1.Health, which etcd registers with the server-wide service "" SERVING
/// (probes such as grpc_health_probe use it). The two messages are tiny and not among our
/// generated ones, so they are read and written by hand:
/// <code>
/// HealthCheckRequest  { string service = 1; }   tag 0x0A, length, UTF-8
/// HealthCheckResponse { ServingStatus status = 1; }   tag 0x08, varint: 1 SERVING, 2 NOT_SERVING
/// </code>
/// </summary>
internal static class GrpcHealthService
{
    public const string CheckPath = "/grpc.health.v1.Health/Check";
    public const string WatchPath = "/grpc.health.v1.Health/Watch";

    private static readonly byte[] s_serving = [0x08, 0x01];

    public static void Register(GrpcMethodRegistry methods, Func<bool> serving)
    {
        methods.AddUnary(CheckPath, async call =>
        {
            if (ReadService(call) != "")
            {
                throw new GrpcStatusException(StatusCode.NotFound, "unknown service"); // grpc-go's health server says so.
            }

            await call.WriteResponseAsync(Response(serving())).ConfigureAwait(false);
        });
        methods.AddServerStreaming(WatchPath, async call =>
        {
            // grpc-go answers an unknown service with SERVICE_UNKNOWN (3) and keeps the stream open.
            bool known = ReadService(call) == "";
            await call.WriteResponseAsync(known ? Response(serving()) : new byte[] { 0x08, 0x03 }).ConfigureAwait(false);
            await Task.Delay(Timeout.Infinite, call.CancellationToken).ConfigureAwait(false);
        });
    }

    private static byte[] Response(bool serving) => serving ? s_serving : [0x08, 0x02];

    private static string ReadService(ServerCallContext call)
    {
        try
        {
            var input = new CodedInputStream(call.Request.ToArray());
            string service = "";
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                if (tag == 0x0A)
                {
                    service = input.ReadString();
                }
                else
                {
                    input.SkipLastField();
                }
            }

            return service;
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new GrpcStatusException(StatusCode.Internal, "grpc: error unmarshalling request: " + e.Message);
        }
    }
}
