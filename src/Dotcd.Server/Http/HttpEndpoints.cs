using System.IO.Compression;
using System.Text;
using Dotcd.Grpc;
using Dotcd.Server.Metrics;
using Dotcd.Server.Services;
using Microsoft.AspNetCore.Http;

namespace Dotcd.Server.Http;

/// <summary>What the member's plain HTTP endpoints need.</summary>
public sealed class HttpEndpointOptions
{
    /// <summary>Health inputs for /health, /livez and /readyz.</summary>
    public required IMemberHealth Health { get; init; }

    /// <summary>Served at /metrics; null leaves /metrics unmapped.</summary>
    public MetricsRegistry? Registry { get; init; }

    /// <summary>Health counters (etcd_server_health_*); null records none.</summary>
    public EtcdMetrics? Metrics { get; init; }

    /// <summary>How long a health probe read may take (etcd's ReqTimeout: 5 s + 2 election timeouts).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(7);

    public string ServerVersion { get; init; } = EtcdVersion.Server;

    /// <summary>The agreed cluster version; null before the members agreed on one ("not_decided").</summary>
    public Func<string?> ClusterVersion { get; init; } = static () => EtcdVersion.Cluster;
}

/// <summary>
/// The client port's plain HTTP endpoints: /health, /livez, /readyz (see <see cref="HealthEndpoints"/>),
/// /version and /metrics.
/// </summary>
public static class HttpEndpoints
{
    /// <summary>Maps every endpoint onto the server.</summary>
    public static GrpcServerHostBuilder MapEtcdHttpEndpoints(this GrpcServerHostBuilder builder, HttpEndpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        new HealthEndpoints(options.Health, options.RequestTimeout, options.Metrics).MapTo(builder);
        builder.MapHttp("/version", context => HandleVersionAsync(context, options.ServerVersion, options.ClusterVersion()));
        if (options.Registry is { } registry)
        {
            builder.MapHttp("/metrics", context => HandleMetricsAsync(context, registry));
        }

        return builder;
    }

    /// <summary>
    /// GET /version (etcd's serveVersion): application/json
    /// {"etcdserver":"3.6.0","etcdcluster":"3.6.0"}, the cluster version "not_decided" until agreed.
    /// </summary>
    public static Task HandleVersionAsync(HttpContext context, string serverVersion, string? clusterVersion)
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            return GoHttp.MethodNotAllowedAsync(context, "GET");
        }

        var json = new StringBuilder("{\"etcdserver\":");
        GoHttp.AppendJsonString(json, serverVersion);
        json.Append(",\"etcdcluster\":");
        GoHttp.AppendJsonString(json, clusterVersion ?? "not_decided");
        json.Append('}');
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(json.ToString(), context.RequestAborted);
    }

    /// <summary>
    /// /metrics (promhttp): the registry in the text format 0.0.4, gzip-compressed when the client
    /// accepts it (Prometheus always does).
    /// </summary>
    public static async Task HandleMetricsAsync(HttpContext context, MetricsRegistry registry)
    {
        byte[] body = Encoding.UTF8.GetBytes(registry.Expose());
        HttpResponse response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = PrometheusText.ContentType;
        bool gzip = context.Request.Headers.AcceptEncoding.Any(v => v is not null && v.Contains("gzip", StringComparison.OrdinalIgnoreCase));
        if (!gzip)
        {
            response.ContentLength = body.Length;
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        response.Headers.ContentEncoding = "gzip";
        response.Headers.Vary = "Accept-Encoding";
        var compressed = new MemoryStream();
        await using (var zip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            await zip.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }

        response.ContentLength = compressed.Length;
        await response.Body.WriteAsync(compressed.GetBuffer().AsMemory(0, (int)compressed.Length), context.RequestAborted).ConfigureAwait(false);
    }
}
