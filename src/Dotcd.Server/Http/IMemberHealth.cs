using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Server.Http;

/// <summary>
/// What /health, /livez and /readyz ask a member (etcd's etcdhttp.ServerHealth). The services
/// layer provides one (<see cref="Services.EtcdServices.Health"/>) over the member's state and KV path.
/// </summary>
public interface IMemberHealth
{
    /// <summary>True when a raft leader is known.</summary>
    bool HasLeader { get; }

    /// <summary>True when this member is a raft learner.</summary>
    bool IsLearner { get; }

    /// <summary>The alarms currently raised in the cluster (NOSPACE, CORRUPT).</summary>
    IReadOnlyList<AlarmMember> Alarms();

    /// <summary>
    /// Runs etcd's probe read, Range{keys_only, limit 1} (linearizable unless serializable), and
    /// throws when it fails; the exception's message is what etcd prints as the error
    /// (for example "etcdserver: request timed out").
    /// </summary>
    Task CheckReadAsync(bool serializable, CancellationToken cancellationToken);
}
