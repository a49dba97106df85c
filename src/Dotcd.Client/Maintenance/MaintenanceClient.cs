using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client;

/// <summary>What a snapshot download produced.</summary>
/// <param name="Size">Bytes written, the trailing 32-byte sha256 included (as etcdctl writes the file).</param>
/// <param name="Revision">The store revision in the first response's header, when the server sets it.</param>
/// <param name="Version">The server version that wrote the snapshot (etcd 3.6+; empty before).</param>
public sealed record SnapshotInfo(long Size, long Revision, string Version);

/// <summary>
/// etcd's Maintenance service. Calls that describe one member (Status, Hash, HashKV, Defragment)
/// take an optional endpoint; without one they go to the preferred endpoint with failover.
/// </summary>
public sealed class MaintenanceClient
{
    private readonly EtcdTransport _transport;

    internal MaintenanceClient(EtcdTransport transport) => _transport = transport;

    /// <summary>The member's version, db size, leader, raft indexes and errors.</summary>
    public Task<StatusResponse> StatusAsync(string? endpoint = null, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.Status, new StatusRequest(), StatusResponse.Parser, CallSafety.Idempotent, call, endpoint);

    /// <summary>The hash of the member's whole backend (for testing; HashKV is the one to compare members with).</summary>
    public Task<HashResponse> HashAsync(string? endpoint = null, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.Hash, new HashRequest(), HashResponse.Parser, CallSafety.Idempotent, call, endpoint);

    /// <summary>The hash of the keys' history up to <paramref name="revision"/> (0: the current revision).</summary>
    public Task<HashKVResponse> HashKVAsync(long revision = 0, string? endpoint = null, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.HashKV, new HashKVRequest { Revision = revision }, HashKVResponse.Parser, CallSafety.Idempotent, call, endpoint);

    /// <summary>Every raised alarm in the cluster.</summary>
    public Task<AlarmResponse> AlarmListAsync(EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.Alarm, new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Get },
            AlarmResponse.Parser, CallSafety.Idempotent, call);

    /// <summary>Raises an alarm for a member (NOSPACE stops writes; CORRUPT stops the cluster).</summary>
    public Task<AlarmResponse> AlarmActivateAsync(ulong memberId, AlarmType alarm, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.Alarm, new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, MemberID = memberId, Alarm = alarm },
            AlarmResponse.Parser, CallSafety.NotIdempotent, call);

    /// <summary>Clears one member's alarm; the response lists the alarms that were cleared.</summary>
    public Task<AlarmResponse> AlarmDisarmAsync(ulong memberId, AlarmType alarm, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.Alarm, new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Deactivate, MemberID = memberId, Alarm = alarm },
            AlarmResponse.Parser, CallSafety.NotIdempotent, call);

    /// <summary>Clears every raised alarm (etcdctl alarm disarm): lists them, then disarms each.</summary>
    public async Task<AlarmResponse> AlarmDisarmAllAsync(EtcdCallOptions call = default)
    {
        AlarmResponse raised = await AlarmListAsync(call).ConfigureAwait(false);
        var cleared = new AlarmResponse { Header = raised.Header };
        foreach (AlarmMember alarm in raised.Alarms)
        {
            AlarmResponse response = await AlarmDisarmAsync(alarm.MemberID, alarm.Alarm, call).ConfigureAwait(false);
            cleared.Header = response.Header;
            cleared.Alarms.AddRange(response.Alarms);
        }

        return cleared;
    }

    /// <summary>Rewrites one member's backend file to release free space; the member pauses while it runs.</summary>
    public Task<DefragmentResponse> DefragmentAsync(string? endpoint = null, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.Defragment, new DefragmentRequest(), DefragmentResponse.Parser, CallSafety.Idempotent, call, endpoint);

    /// <summary>
    /// Streams a snapshot of the member's backend into <paramref name="destination"/>, then checks
    /// it as etcdctl does: the size leaves 32 bytes over whole 512-byte sectors, and those 32 bytes
    /// are the sha256 of everything before them. A failure throws <see cref="InvalidDataException"/>;
    /// the destination then holds a partial or corrupt snapshot and must be discarded.
    /// </summary>
    public async Task<SnapshotInfo> SnapshotAsync(Stream destination, string? endpoint = null, EtcdCallOptions call = default)
    {
        using var checksum = new SnapshotChecksum();
        long revision = 0;
        string version = "";
        bool first = true;
        await _transport.ServerStreamingAsync(Methods.Snapshot, new SnapshotRequest(), SnapshotResponse.Parser,
            async (response, cancellationToken) =>
            {
                if (first)
                {
                    first = false;
                    revision = response.Header?.Revision ?? 0;
                    version = response.Version;
                }

                checksum.Append(response.Blob.Span);
                await destination.WriteAsync(response.Blob.Memory, cancellationToken).ConfigureAwait(false);
            }, CallSafety.Idempotent, call, endpoint).ConfigureAwait(false);
        checksum.Verify();
        return new SnapshotInfo(checksum.Length, revision, version);
    }

    /// <summary>
    /// Hands leadership to <paramref name="targetMemberId"/>. The request must reach the leader:
    /// without an endpoint, the configured endpoints are asked for their status and the call goes
    /// to the one that leads (as etcdctl move-leader does).
    /// </summary>
    public async Task<MoveLeaderResponse> MoveLeaderAsync(ulong targetMemberId, string? endpoint = null, EtcdCallOptions call = default)
    {
        endpoint ??= await FindLeaderEndpointAsync(call).ConfigureAwait(false);
        return await _transport.UnaryAsync(Methods.MoveLeader, new MoveLeaderRequest { TargetID = targetMemberId },
            MoveLeaderResponse.Parser, CallSafety.NotIdempotent, call, endpoint).ConfigureAwait(false);
    }

    private async Task<string> FindLeaderEndpointAsync(EtcdCallOptions call)
    {
        EtcdException? last = null;
        foreach (string endpoint in _transport.Endpoints)
        {
            try
            {
                StatusResponse status = await StatusAsync(endpoint, call).ConfigureAwait(false);
                if (status.Leader != 0 && status.Leader == status.Header.MemberId)
                {
                    return endpoint;
                }
            }
            catch (EtcdException e)
            {
                last = e;
            }
        }

        throw new EtcdException(Grpc.StatusCode.FailedPrecondition,
            $"no leader endpoint given at [{string.Join(", ", _transport.Endpoints)}]", innerException: last);
    }
}
