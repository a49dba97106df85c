using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Dotcd.Grpc;

/// <summary>Collects listen URLs, gRPC methods and HTTP handlers for a <see cref="GrpcServerHost"/>.</summary>
public sealed class GrpcServerHostBuilder
{
    private readonly List<ListenSpec> _listeners = [];
    private readonly Dictionary<string, RequestDelegate> _httpRoutes = new(StringComparer.Ordinal);
    private readonly List<Action<KestrelServerOptions>> _kestrelCallbacks = [];
    private RequestDelegate? _httpFallback;

    internal GrpcServerHostBuilder()
    {
    }

    public GrpcServerOptions Options { get; } = new();

    public GrpcMethodRegistry Methods { get; } = new();

    /// <summary>
    /// Listens on a URL such as "http://127.0.0.1:2379" (h2c and HTTP/1.1 on one port),
    /// "https://0.0.0.0:2379" (ALPN picks h2 or http/1.1; needs <paramref name="tls"/>) or
    /// "http://localhost:0" (an ephemeral port; read it from <see cref="GrpcServerHost.Urls"/>).
    /// As in etcd, the host must be an IP address or "localhost" (meaning 127.0.0.1).
    /// </summary>
    public GrpcServerHostBuilder Listen(string url, GrpcTlsOptions? tls = null)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || uri.Port < 0)
        {
            throw new ArgumentException($"\"{url}\" is not a URL with a port.", nameof(url));
        }

        bool https = uri.Scheme switch
        {
            "http" => false,
            "https" => true,
            _ => throw new ArgumentException($"Unsupported scheme in \"{url}\": use http or https.", nameof(url)),
        };
        if (https && tls is null)
        {
            throw new ArgumentException($"\"{url}\" is https: pass GrpcTlsOptions.", nameof(tls));
        }

        IPAddress address;
        if (string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
        }
        else if (!IPAddress.TryParse(uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host, out address!))
        {
            throw new ArgumentException($"The host in \"{url}\" must be an IP address or localhost.", nameof(url));
        }

        return Listen(new IPEndPoint(address, uri.Port), https ? tls : null);
    }

    /// <summary>Listens on an endpoint: cleartext (h2c and HTTP/1.1) without <paramref name="tls"/>, TLS with it.</summary>
    public GrpcServerHostBuilder Listen(IPEndPoint endpoint, GrpcTlsOptions? tls = null)
    {
        _listeners.Add(new ListenSpec(endpoint, tls));
        return this;
    }

    public GrpcServerHostBuilder AddUnary(string path, GrpcMethodHandler handler)
    {
        Methods.AddUnary(path, handler);
        return this;
    }

    public GrpcServerHostBuilder AddClientStreaming(string path, GrpcMethodHandler handler)
    {
        Methods.AddClientStreaming(path, handler);
        return this;
    }

    public GrpcServerHostBuilder AddServerStreaming(string path, GrpcMethodHandler handler)
    {
        Methods.AddServerStreaming(path, handler);
        return this;
    }

    public GrpcServerHostBuilder AddDuplexStreaming(string path, GrpcMethodHandler handler)
    {
        Methods.AddDuplexStreaming(path, handler);
        return this;
    }

    /// <summary>Serves a non-gRPC path (any method, HTTP/1.1 or HTTP/2), for example "/health".</summary>
    public GrpcServerHostBuilder MapHttp(string path, RequestDelegate handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (!path.StartsWith('/'))
        {
            throw new ArgumentException("An HTTP path starts with '/'.", nameof(path));
        }

        _httpRoutes[path] = handler;
        return this;
    }

    /// <summary>Serves every non-gRPC request no <see cref="MapHttp"/> route matched (default: 404).</summary>
    public GrpcServerHostBuilder UseHttpFallback(RequestDelegate handler)
    {
        _httpFallback = handler;
        return this;
    }

    /// <summary>Adjusts Kestrel directly, after this builder applied its own settings.</summary>
    public GrpcServerHostBuilder ConfigureKestrel(Action<KestrelServerOptions> configure)
    {
        _kestrelCallbacks.Add(configure);
        return this;
    }

    public GrpcServerHost Build()
    {
        if (_listeners.Count == 0)
        {
            throw new InvalidOperationException("Call Listen at least once.");
        }

        return new GrpcServerHost(Options, Methods, _listeners.ToArray(),
            new Dictionary<string, RequestDelegate>(_httpRoutes), _httpFallback, _kestrelCallbacks.ToArray());
    }

    internal sealed record ListenSpec(IPEndPoint EndPoint, GrpcTlsOptions? Tls);
}
