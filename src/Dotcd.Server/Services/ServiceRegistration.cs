using Dotcd.Api;
using Dotcd.Grpc;
using Dotcd.Server.Metrics;

namespace Dotcd.Server.Services;

/// <summary>Registers etcd's gRPC API on a server.</summary>
public static class ServiceRegistration
{
    /// <summary>
    /// Registers every method of <see cref="Methods.All"/>: KV, Maintenance and Cluster with
    /// handlers, and the services dotcd does not have yet (Watch, Lease, Auth, Lock, Election) with
    /// an Unimplemented answer naming the missing feature, so no client mistakes them for a
    /// working service. Adds grpc.health.v1.Health, and the grpc_server_* metrics when
    /// options.Registry is set and no call observer is. Returns the handlers' shared state for the HTTP health endpoints.
    /// </summary>
    public static EtcdServices AddEtcdServices(this GrpcServerHostBuilder builder, EtcdServiceOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        var core = new ServiceCore(options);
        var kv = new KvService(core);
        GrpcMethodRegistry methods = builder.Methods;
        kv.Register(methods);
        new MaintenanceService(core).Register(methods);
        new ClusterService(core).Register(methods);
        if (options.Leases is { } leases)
        {
            new LeaseService(core, leases).Register(methods);
        }

        if (options.Watch is { } watch)
        {
            new WatchService(core, watch, options.MaxRequestBytes, options.LeaderCheckInterval).Register(methods);
        }

        foreach (EtcdMethod method in Methods.All)
        {
            if (methods.Methods.Any(m => m.Path == method.Path))
            {
                continue;
            }

            methods.Add(method.Path, ToMethodType(method.Kind), NotImplemented(core, method));
        }

        GrpcHealthService.Register(methods, static () => true);

        // grpc_server_* counters, unless the host already observes calls (or registered them itself).
        if (options.Registry is { } registry && builder.Options.Observer is null && registry.Find("grpc_server_started_total") is null)
        {
            var metrics = new GrpcServerMetrics(registry);
            metrics.Initialize(methods.Methods);
            builder.Options.Observer = metrics;
        }

        return new EtcdServices(core, kv);
    }

    /// <summary>The feature an unbuilt method belongs to, as the Unimplemented message names it.</summary>
    internal static string FeatureOf(EtcdMethod method) => method.Service switch
    {
        "etcdserverpb.Watch" => "watch",
        "etcdserverpb.Lease" => "leases",
        "etcdserverpb.Auth" => "authentication",
        "v3lockpb.Lock" => "the lock service",
        "v3electionpb.Election" => "the election service",
        _ => method.Service,
    };

    private static GrpcMethodHandler NotImplemented(ServiceCore core, EtcdMethod method)
    {
        string message = $"dotcd: {FeatureOf(method)} ({method.Service}/{method.Name}) is not implemented yet";
        bool hasSingleRequest = method.Kind is MethodKind.Unary or MethodKind.ServerStreaming;
        return call =>
        {
            if (hasSingleRequest)
            {
                ServiceCore.Parse(call, method.RequestParser);
            }

            core.Intercept(call, allowedForLearner: false);
            throw new GrpcStatusException(StatusCode.Unimplemented, message);
        };
    }

    private static MethodType ToMethodType(MethodKind kind) => kind switch
    {
        MethodKind.Unary => MethodType.Unary,
        MethodKind.ClientStreaming => MethodType.ClientStreaming,
        MethodKind.ServerStreaming => MethodType.ServerStreaming,
        _ => MethodType.DuplexStreaming,
    };
}

/// <summary>The registered services' shared state; the HTTP health endpoints read through it.</summary>
public sealed class EtcdServices
{
    internal EtcdServices(ServiceCore core, KvService kv) => Health = new MemberHealth(core, kv);

    /// <summary>The member's health as /health, /livez and /readyz see it (probe reads take the clients' read path).</summary>
    public Http.IMemberHealth Health { get; }
}
