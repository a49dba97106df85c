using System.Collections.Frozen;

namespace Dotcd.Grpc;

/// <summary>Maps "/package.Service/Method" paths to handlers. Filled before the server starts.</summary>
public sealed class GrpcMethodRegistry
{
    private readonly Dictionary<string, GrpcMethod> _methods = new(StringComparer.Ordinal);

    public int Count => _methods.Count;

    public IEnumerable<GrpcMethod> Methods => _methods.Values;

    /// <summary>Registers a method by its path, for example "/etcdserverpb.KV/Range".</summary>
    public GrpcMethod Add(string path, MethodType type, GrpcMethodHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        int slash = path.LastIndexOf('/');
        if (path.Length < 4 || path[0] != '/' || slash <= 1 || slash == path.Length - 1)
        {
            throw new ArgumentException($"A method path looks like \"/package.Service/Method\", not \"{path}\".", nameof(path));
        }

        var method = new GrpcMethod(path[1..slash], path[(slash + 1)..], type, handler);
        if (!_methods.TryAdd(method.Path, method))
        {
            throw new InvalidOperationException($"The method {path} is already registered.");
        }

        return method;
    }

    public GrpcMethod AddUnary(string path, GrpcMethodHandler handler) => Add(path, MethodType.Unary, handler);

    public GrpcMethod AddClientStreaming(string path, GrpcMethodHandler handler) => Add(path, MethodType.ClientStreaming, handler);

    public GrpcMethod AddServerStreaming(string path, GrpcMethodHandler handler) => Add(path, MethodType.ServerStreaming, handler);

    public GrpcMethod AddDuplexStreaming(string path, GrpcMethodHandler handler) => Add(path, MethodType.DuplexStreaming, handler);

    internal FrozenDictionary<string, GrpcMethod> Freeze() => _methods.ToFrozenDictionary(StringComparer.Ordinal);
}
