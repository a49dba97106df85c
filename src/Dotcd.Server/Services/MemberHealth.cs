using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Server.Http;

namespace Dotcd.Server.Services;

/// <summary>
/// The member as etcd's health checks see it: leader, learner, alarms, and the probe read
/// EtcdServer.Range(Range{keys_only, limit 1}) that goes through the same read path as clients
/// (a ReadIndex round unless serializable) but skips the RPC checks, as etcd's does.
/// </summary>
internal sealed class MemberHealth : IMemberHealth
{
    private static readonly RangeRequest s_probe = new() { KeysOnly = true, Limit = 1 };
    private static readonly RangeRequest s_serializableProbe = new() { KeysOnly = true, Limit = 1, Serializable = true };

    private readonly ServiceCore _core;
    private readonly KvService _kv;

    public MemberHealth(ServiceCore core, KvService kv)
    {
        _core = core;
        _kv = kv;
    }

    public bool HasLeader => _core.Member.Leader != 0;

    public bool IsLearner => _core.Member.IsLearner;

    public IReadOnlyList<AlarmMember> Alarms() => _core.Options.Alarms.Alarms();

    public async Task CheckReadAsync(bool serializable, CancellationToken cancellationToken)
    {
        try
        {
            await _kv.RangeCoreAsync(serializable ? s_serializableProbe : s_probe, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && RpcErrors.TryMap(e, out GrpcStatus status))
        {
            // etcd prints the error's text alone ("etcdserver: request timed out").
            throw new InvalidOperationException(status.Message, e);
        }
    }
}
