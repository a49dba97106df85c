using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Dotcd.Grpc;

/// <summary>
/// A gRPC client for one server address on SocketsHttpHandler: h2c with prior knowledge for
/// http:// (as grpc-go dials), TLS with ALPN h2 for https://. Thread-safe; share one per address.
/// Messages are bytes: the caller serializes requests and parses responses.
/// </summary>
public sealed class GrpcChannel : IDisposable
{
    internal static readonly MediaTypeHeaderValue GrpcContentType = new(GrpcHeaders.ContentType);

    private readonly HttpMessageInvoker _invoker;
    private readonly ConcurrentDictionary<string, Uri> _methodUris = new(StringComparer.Ordinal);

    private GrpcChannel(Uri address, GrpcChannelOptions options)
    {
        Address = address;
        Options = options;
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = options.EnableMultipleHttp2Connections,
            KeepAlivePingDelay = options.KeepAlivePingDelay,
            KeepAlivePingTimeout = options.KeepAlivePingTimeout,
            KeepAlivePingPolicy = options.KeepAlivePingPolicy,
            ConnectTimeout = options.ConnectTimeout,
            UseProxy = false, // h2c with prior knowledge cannot pass an HTTP proxy.
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
        };
        if (address.Scheme == Uri.UriSchemeHttps)
        {
            handler.SslOptions = CreateTlsOptions(options);
        }

        _invoker = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    /// <summary>The server's base address, for example "http://127.0.0.1:2379".</summary>
    public Uri Address { get; }

    public GrpcChannelOptions Options { get; }

    internal HttpMessageInvoker Invoker => _invoker;

    public static GrpcChannel Create(string address, GrpcChannelOptions? options = null)
    {
        if (!Uri.TryCreate(address, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"\"{address}\" is not an http:// or https:// address.", nameof(address));
        }

        return new GrpcChannel(uri, options ?? new GrpcChannelOptions());
    }

    /// <summary>Calls a unary method and returns the response message.</summary>
    public async Task<byte[]> UnaryAsync(string method, ReadOnlyMemory<byte> request, CallOptions options = default)
    {
        using GrpcClientCall call = StartUnary(method, request, options);
        return await call.ReadSingleResponseAsync().ConfigureAwait(false);
    }

    /// <summary>Starts a unary call, for callers that also want the response headers or trailers.</summary>
    public GrpcClientCall StartUnary(string method, ReadOnlyMemory<byte> request, CallOptions options = default) =>
        new(this, method, MethodType.Unary, new SingleMessageContent(request.Span), null, options);

    /// <summary>Starts a server-streaming call; read responses with <see cref="GrpcClientCall.MoveNextAsync"/>.</summary>
    public GrpcClientCall StartServerStreaming(string method, ReadOnlyMemory<byte> request, CallOptions options = default) =>
        new(this, method, MethodType.ServerStreaming, new SingleMessageContent(request.Span), null, options);

    /// <summary>Starts a client-streaming call: write requests, complete, then read the single response.</summary>
    public GrpcClientCall StartClientStreaming(string method, CallOptions options = default)
    {
        var content = new StreamingContent();
        return new GrpcClientCall(this, method, MethodType.ClientStreaming, content, content, options);
    }

    /// <summary>Starts a bidirectional call (Watch, LeaseKeepAlive): write and read independently.</summary>
    public GrpcClientCall StartDuplexStreaming(string method, CallOptions options = default)
    {
        var content = new StreamingContent();
        return new GrpcClientCall(this, method, MethodType.DuplexStreaming, content, content, options);
    }

    internal Uri MethodUri(string method) =>
        _methodUris.GetOrAdd(method, static (m, address) => new Uri(address, m), Address);

    public void Dispose() => _invoker.Dispose();

    private static SslClientAuthenticationOptions CreateTlsOptions(GrpcChannelOptions options)
    {
        var tls = new SslClientAuthenticationOptions();
        if (options.ClientCertificates is { Count: > 0 } certificates)
        {
            tls.ClientCertificates = certificates;
        }

        if (options.SkipServerCertificateValidation)
        {
            tls.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (options.TrustedCertificateAuthorities is { } authorities)
        {
            tls.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                // The name must match whatever the trust anchors; the chain is rebuilt on our CAs.
                if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None || certificate is null)
                {
                    return false;
                }

                using var leaf = new X509Certificate2(certificate);
                return TlsChain.ChainsTo(leaf, authorities, TlsChain.ServerAuthenticationOid);
            };
        }

        return tls;
    }
}
