using Dotcd.Server.Metrics;

namespace Dotcd.Server.Leases;

/// <summary>etcd's lease metrics (lease/metrics.go and etcd_debugging_server_lease_expired_total), same names and help.</summary>
public sealed class LeaseMetrics
{
    private LeaseMetrics(MetricsRegistry registry)
    {
        Granted = registry.Counter("etcd_debugging_lease_granted_total", "The total number of granted leases.");
        Revoked = registry.Counter("etcd_debugging_lease_revoked_total", "The total number of revoked leases.");
        Renewed = registry.Counter("etcd_debugging_lease_renewed_total", "The number of renewed leases seen by the leader.");
        Ttls = registry.Histogram("etcd_debugging_lease_ttl_total", "Bucketed histogram of lease TTLs.",
            Histogram.ExponentialBuckets(1, 2, 24)); // 1 second to 3 months.
        Expired = registry.Counter("etcd_debugging_server_lease_expired_total", "The total number of expired leases.");
    }

    public Counter Granted { get; }

    public Counter Revoked { get; }

    public Counter Renewed { get; }

    public Histogram Ttls { get; }

    public Counter Expired { get; }

    public static LeaseMetrics Register(MetricsRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return new LeaseMetrics(registry);
    }
}
