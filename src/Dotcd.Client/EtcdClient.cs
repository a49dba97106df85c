namespace Dotcd.Client;

/// <summary>
/// A client of an etcd (or dotcd) cluster: <see cref="KV"/>, <see cref="Watch"/>, <see cref="Lease"/>,
/// <see cref="Maintenance"/> and <see cref="Cluster"/>, over one connection per endpoint. Thread-safe; share one per cluster.
/// Calls start on a preferred endpoint and move to the next one when it cannot be reached;
/// a write whose request may have been delivered is never repeated (see <see cref="EtcdException.RequestMayHaveBeenSent"/>).
/// </summary>
public sealed class EtcdClient : IDisposable
{
    private readonly EtcdTransport _transport;

    public EtcdClient(EtcdClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _transport = new EtcdTransport(options);
        KV = new KVClient(_transport);
        Watch = new WatchClient(_transport);
        Lease = new LeaseClient(_transport);
        Maintenance = new MaintenanceClient(_transport);
        Cluster = new ClusterClient(_transport);
    }

    /// <summary>A client of these endpoints with default options.</summary>
    public EtcdClient(params IEnumerable<string> endpoints)
        : this(new EtcdClientOptions { Endpoints = [.. endpoints] })
    {
    }

    public KVClient KV { get; }

    /// <summary>Watches, multiplexed on one stream per client (per metadata), resumed after a broken stream.</summary>
    public WatchClient Watch { get; }

    /// <summary>Leases and the keepalive loop.</summary>
    public LeaseClient Lease { get; }

    public MaintenanceClient Maintenance { get; }

    public ClusterClient Cluster { get; }

    /// <summary>The endpoints as dialled (with their scheme).</summary>
    public IReadOnlyList<string> Endpoints => _transport.Endpoints;

    /// <summary>The endpoint calls try first; it moves on when that endpoint fails.</summary>
    public string PreferredEndpoint => _transport.Preferred.Address;

    /// <summary>The auth token sent with every call; replace it after authenticating again.</summary>
    public string? Token
    {
        get => _transport.Token;
        set => _transport.Token = value;
    }

    internal EtcdTransport Transport => _transport;

    public void Dispose()
    {
        Watch.Dispose();
        Lease.Dispose();
        _transport.Dispose();
    }
}
