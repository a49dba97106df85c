using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dotcd.Grpc;

/// <summary>
/// A Kestrel server for gRPC and plain HTTP on the same ports. Build one with
/// <see cref="CreateBuilder"/>, then <see cref="StartAsync"/> and <see cref="StopAsync"/>.
/// </summary>
public sealed class GrpcServerHost : IAsyncDisposable
{
    // Kestrel's "infinite" keep-alive overflows its clock arithmetic; a year is forever enough.
    private static readonly TimeSpan s_longestIdle = TimeSpan.FromDays(365);

    private readonly GrpcServerOptions _options;
    private readonly GrpcMethodRegistry _methods;
    private readonly GrpcServerHostBuilder.ListenSpec[] _listeners;
    private readonly Dictionary<string, RequestDelegate> _httpRoutes;
    private readonly RequestDelegate? _httpFallback;
    private readonly Action<KestrelServerOptions>[] _kestrelCallbacks;
    private readonly List<(ListenOptions Options, bool Tls)> _bound = [];
    private WebApplication? _app;

    internal GrpcServerHost(
        GrpcServerOptions options,
        GrpcMethodRegistry methods,
        GrpcServerHostBuilder.ListenSpec[] listeners,
        Dictionary<string, RequestDelegate> httpRoutes,
        RequestDelegate? httpFallback,
        Action<KestrelServerOptions>[] kestrelCallbacks)
    {
        _options = options;
        _methods = methods;
        _listeners = listeners;
        _httpRoutes = httpRoutes;
        _httpFallback = httpFallback;
        _kestrelCallbacks = kestrelCallbacks;
    }

    public static GrpcServerHostBuilder CreateBuilder() => new();

    /// <summary>The bound URLs after <see cref="StartAsync"/>, with real ports for ":0" listeners.</summary>
    public IReadOnlyList<Uri> Urls { get; private set; } = [];

    /// <summary>The bound endpoints after <see cref="StartAsync"/>, in <c>Listen</c> order.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; private set; } = [];

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_app is not null)
        {
            throw new InvalidOperationException("The server was already started.");
        }

        // The empty builder reads no appsettings.json, environment variables or command line:
        // the dotcd host owns configuration, and an ASPNETCORE_URLS must not add listeners.
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.Services.AddSingleton<IConnectionListenerFactory, Http2PipelineTransport>(); // After the sockets transport.
        builder.Services.RemoveAll<IHostLifetime>();
        builder.Services.AddSingleton<IHostLifetime, NoSignalsLifetime>(); // dotcd handles SIGTERM itself.
        ILoggerFactory loggerFactory = _options.LoggerFactory ?? NullLoggerFactory.Instance;
        builder.Services.RemoveAll<ILoggerFactory>();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.ConfigureKestrel(ConfigureKestrel);

        WebApplication app = builder.Build();
        var dispatcher = new GrpcRequestDispatcher(_methods, _httpRoutes, _httpFallback, _options,
            loggerFactory.CreateLogger("Dotcd.Grpc"));
        app.Run(dispatcher.DispatchAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;

        var urls = new List<Uri>();
        var endpoints = new List<IPEndPoint>();
        foreach ((ListenOptions listen, bool tls) in _bound)
        {
            IPEndPoint endpoint = listen.IPEndPoint!;
            endpoints.Add(endpoint);
            urls.Add(new Uri($"{(tls ? "https" : "http")}://{endpoint}"));
        }

        Urls = urls;
        EndPoints = endpoints;
    }

    private void ConfigureKestrel(KestrelServerOptions kestrel)
    {
        kestrel.AddServerHeader = false;
        KestrelServerLimits limits = kestrel.Limits;
        limits.MaxRequestBodySize = _options.MaxHttpRequestBodyBytes;
        limits.MinRequestBodyDataRate = _options.MinRequestBodyDataRate;
        limits.MinResponseDataRate = _options.MinResponseDataRate;
        limits.KeepAliveTimeout = _options.IdleConnectionTimeout == Timeout.InfiniteTimeSpan || _options.IdleConnectionTimeout > s_longestIdle
            ? s_longestIdle
            : _options.IdleConnectionTimeout;
        limits.Http2.MaxStreamsPerConnection = _options.MaxConcurrentStreamsPerConnection;
        if (_options.InitialConnectionWindowBytes is { } connectionWindow)
        {
            limits.Http2.InitialConnectionWindowSize = connectionWindow;
        }

        if (_options.InitialStreamWindowBytes is { } streamWindow)
        {
            limits.Http2.InitialStreamWindowSize = streamWindow;
        }

        if (_options.KeepAlivePingDelay is { } pingDelay)
        {
            limits.Http2.KeepAlivePingDelay = pingDelay;
            limits.Http2.KeepAlivePingTimeout = _options.KeepAlivePingTimeout;
        }

        Func<ConnectionContext, ConnectionDelegate, Task>? repair = _options.RepairInvalidAuthority
            ? (connection, next) => Http2AuthorityRewriter.RunAsync(connection, next,
                limits.Http2.MaxFrameSize, limits.Http2.HeaderTableSize)
            : null;
        var router = new Http2PrefaceRouter(_options.ProtocolDetectionTimeout, repair);
        kestrel.Listen(new Http2PipelineEndPoint(), listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.Use(router.CaptureHttp2Pipeline);
        });

        _bound.Clear();
        foreach (GrpcServerHostBuilder.ListenSpec spec in _listeners)
        {
            kestrel.Listen(spec.EndPoint, listen =>
            {
                if (spec.Tls is { } tls)
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2; // ALPN decides.
                    listen.UseHttps(tls.ToKestrel());
                    if (repair is not null)
                    {
                        listen.Use(next => connection => IsHttp2(connection) ? repair(connection, next) : next(connection));
                    }
                }
                else
                {
                    listen.Protocols = HttpProtocols.Http1;
                    listen.Use(router.Route);
                }

                _bound.Add((listen, spec.Tls is not null));
            });
        }

        foreach (Action<KestrelServerOptions> callback in _kestrelCallbacks)
        {
            callback(kestrel);
        }
    }

    private static bool IsHttp2(ConnectionContext connection) =>
        connection.Features.Get<ITlsApplicationProtocolFeature>()?.ApplicationProtocol.Span.SequenceEqual("h2"u8) == true;

    /// <summary>
    /// Stops accepting connections, lets calls finish for up to <paramref name="gracePeriod"/>, then
    /// closes every connection (which cancels the handlers of streams still open, such as watches).
    /// </summary>
    public async Task StopAsync(TimeSpan gracePeriod)
    {
        if (_app is null)
        {
            return;
        }

        using var grace = new CancellationTokenSource(gracePeriod);
        await _app.StopAsync(grace.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
            _app = null;
        }
    }

    /// <summary>A host lifetime that neither listens for signals nor prints to the console.</summary>
    private sealed class NoSignalsLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
