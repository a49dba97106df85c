namespace Dotcd.Server.Services;

/// <summary>
/// The etcd version dotcd reports (Status.version, /version, etcd_server_version). DESIGN.md:
/// a 3.6-compatible number, because the Kubernetes API server turns features off below 3.5.13.
/// </summary>
public static class EtcdVersion
{
    /// <summary>The server version ("etcdserver" in /version, StatusResponse.version).</summary>
    public const string Server = "3.6.0";

    /// <summary>The cluster version ("etcdcluster" in /version): major.minor.0.</summary>
    public const string Cluster = "3.6.0";

    /// <summary>The cluster version as etcd_cluster_version labels it.</summary>
    public const string ClusterMajorMinor = "3.6";

    /// <summary>The storage (backend schema) version, StatusResponse.storageVersion and SnapshotResponse.version.</summary>
    public const string Storage = "3.6.0";
}
