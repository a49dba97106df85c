using System.Buffers;

namespace Dotcd.Grpc;

/// <summary>The four gRPC call shapes.</summary>
public enum MethodType
{
    /// <summary>One request, one response.</summary>
    Unary,

    /// <summary>A stream of requests, one response.</summary>
    ClientStreaming,

    /// <summary>One request, a stream of responses.</summary>
    ServerStreaming,

    /// <summary>Both sides stream independently (Watch, LeaseKeepAlive).</summary>
    DuplexStreaming,
}

/// <summary>
/// Handles one call. For unary and server-streaming methods the single request is already read
/// and sits in <see cref="ServerCallContext.Request"/>; streaming-request methods read with
/// <see cref="ServerCallContext.ReadRequestAsync"/>. The call ends when the returned task does,
/// with <see cref="ServerCallContext.Status"/> or the status of a thrown <see cref="GrpcStatusException"/>.
/// </summary>
public delegate ValueTask GrpcMethodHandler(ServerCallContext call);

/// <summary>Writes one message whose size the caller already knows (for example a protobuf's CalculateSize()).</summary>
public delegate void MessageSerializer<in TState>(TState state, IBufferWriter<byte> writer);

/// <summary>A registered method: its wire path "/package.Service/Method", shape and handler.</summary>
public sealed class GrpcMethod
{
    internal GrpcMethod(string serviceName, string name, MethodType type, GrpcMethodHandler handler)
    {
        ServiceName = serviceName;
        Name = name;
        Type = type;
        Handler = handler;
        Path = "/" + serviceName + "/" + name;
    }

    /// <summary>The fully qualified service, for example "etcdserverpb.KV".</summary>
    public string ServiceName { get; }

    /// <summary>The method alone, for example "Range".</summary>
    public string Name { get; }

    /// <summary>The HTTP/2 :path, for example "/etcdserverpb.KV/Range".</summary>
    public string Path { get; }

    public MethodType Type { get; }

    public GrpcMethodHandler Handler { get; }

    /// <summary>True when the client streams requests, so the handler reads them itself.</summary>
    public bool HasStreamingRequest => Type is MethodType.ClientStreaming or MethodType.DuplexStreaming;

    /// <summary>True when each response message must be flushed as it is written.</summary>
    public bool HasStreamingResponse => Type is MethodType.ServerStreaming or MethodType.DuplexStreaming;

    public override string ToString() => Path;
}
