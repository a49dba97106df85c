using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client;

/// <summary>etcd's Cluster service: membership. Changes are writes and are never repeated in doubt.</summary>
public sealed class ClusterClient
{
    private readonly EtcdTransport _transport;

    internal ClusterClient(EtcdTransport transport) => _transport = transport;

    /// <summary>Every member; <paramref name="linearizable"/> asks etcd 3.5+ to confirm with the leader first.</summary>
    public Task<MemberListResponse> MemberListAsync(bool linearizable = false, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.MemberList, new MemberListRequest { Linearizable = linearizable },
            MemberListResponse.Parser, CallSafety.Idempotent, call);

    /// <summary>Adds a member (or a learner, which does not vote) with these peer URLs.</summary>
    public Task<MemberAddResponse> MemberAddAsync(IEnumerable<string> peerUrls, bool isLearner = false, EtcdCallOptions call = default)
    {
        var request = new MemberAddRequest { IsLearner = isLearner };
        request.PeerURLs.AddRange(peerUrls);
        return _transport.UnaryAsync(Methods.MemberAdd, request, MemberAddResponse.Parser, CallSafety.NotIdempotent, call);
    }

    public Task<MemberRemoveResponse> MemberRemoveAsync(ulong memberId, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.MemberRemove, new MemberRemoveRequest { ID = memberId },
            MemberRemoveResponse.Parser, CallSafety.NotIdempotent, call);

    /// <summary>Replaces a member's peer URLs.</summary>
    public Task<MemberUpdateResponse> MemberUpdateAsync(ulong memberId, IEnumerable<string> peerUrls, EtcdCallOptions call = default)
    {
        var request = new MemberUpdateRequest { ID = memberId };
        request.PeerURLs.AddRange(peerUrls);
        return _transport.UnaryAsync(Methods.MemberUpdate, request, MemberUpdateResponse.Parser, CallSafety.NotIdempotent, call);
    }

    /// <summary>Makes a learner that has caught up with the leader a voting member.</summary>
    public Task<MemberPromoteResponse> MemberPromoteAsync(ulong memberId, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.MemberPromote, new MemberPromoteRequest { ID = memberId },
            MemberPromoteResponse.Parser, CallSafety.NotIdempotent, call);
}
