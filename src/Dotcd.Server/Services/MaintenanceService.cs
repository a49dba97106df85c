using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Mvcc;
using Dotcd.Server.Apply;
using Google.Protobuf;

namespace Dotcd.Server.Services;

/// <summary>
/// etcdserverpb.Maintenance (etcd 3.6's maintenanceServer): Status, Hash, HashKV, Alarm,
/// Defragment, Snapshot, MoveLeader, Downgrade.
/// </summary>
internal sealed class MaintenanceService
{
    /// <summary>Bytes per Snapshot message: etcd's snapshotSendBufferSize.</summary>
    internal const int SnapshotChunkBytes = 32 * 1024;

    private readonly ServiceCore _core;

    public MaintenanceService(ServiceCore core) => _core = core;

    private EtcdServiceOptions Options => _core.Options;

    public void Register(GrpcMethodRegistry methods)
    {
        methods.AddUnary(Methods.Alarm, ServiceCore.Wrap(AlarmAsync));
        methods.AddUnary(Methods.Status, ServiceCore.Wrap(StatusAsync));
        methods.AddUnary(Methods.Defragment, ServiceCore.Wrap(DefragmentAsync));
        methods.AddUnary(Methods.Hash, ServiceCore.Wrap(HashAsync));
        methods.AddUnary(Methods.HashKV, ServiceCore.Wrap(HashKvAsync));
        methods.AddServerStreaming(Methods.Snapshot, ServiceCore.Wrap(SnapshotAsync));
        methods.AddUnary(Methods.MoveLeader, ServiceCore.Wrap(MoveLeaderAsync));
        methods.AddUnary(Methods.Downgrade, ServiceCore.Wrap(DowngradeAsync));
    }

    private async ValueTask AlarmAsync(ServerCallContext call)
    {
        AlarmRequest request = ServiceCore.Parse(call, AlarmRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        // etcd proposes every alarm request, GET included, so the answer is linearizable.
        AlarmResponse response = await _core.ProposeAsync<AlarmResponse>(new InternalRaftRequest { Alarm = request }, call.CancellationToken)
            .ConfigureAwait(false);
        response.Header = _core.Fill(response.Header);
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }

    private async ValueTask StatusAsync(ServerCallContext call)
    {
        ServiceCore.Parse(call, StatusRequest.Parser);
        _core.Intercept(call, allowedForLearner: true);
        await ServiceCore.WriteAsync(call, BuildStatus()).ConfigureAwait(false);
    }

    internal StatusResponse BuildStatus()
    {
        IMemberState member = _core.Member;
        var response = new StatusResponse
        {
            Header = _core.Fill(null),
            Version = Options.ServerVersion,
            Leader = member.Leader,
            RaftIndex = member.CommittedIndex,
            RaftAppliedIndex = member.AppliedIndex,
            RaftTerm = member.Term,
            DbSize = Options.Backend.SizeBytes,
            DbSizeInUse = Options.Backend.SizeInUseBytes,
            IsLearner = member.IsLearner,
            StorageVersion = EtcdVersion.Storage,
            DbSizeQuota = Options.QuotaBackendBytes,
            DowngradeInfo = new DowngradeInfo { Enabled = false },
        };
        if (response.Leader == 0)
        {
            response.Errors.Add(EtcdErrors.NoLeader.Message);
        }

        foreach (AlarmMember alarm in Options.Alarms.Alarms())
        {
            response.Errors.Add(AlarmText(alarm));
        }

        return response;
    }

    /// <summary>An alarm as Go's proto.CompactTextString prints it (etcd puts that into Status.errors): "memberID:N alarm:NOSPACE ".</summary>
    internal static string AlarmText(AlarmMember alarm)
    {
        var text = new StringBuilder();
        if (alarm.MemberID != 0)
        {
            text.Append("memberID:").Append(alarm.MemberID.ToString(CultureInfo.InvariantCulture)).Append(' ');
        }

        if (alarm.Alarm != AlarmType.None)
        {
            text.Append("alarm:").Append(alarm.Alarm.ToString().ToUpperInvariant()).Append(' ');
        }

        return text.ToString();
    }

    private async ValueTask DefragmentAsync(ServerCallContext call)
    {
        ServiceCore.Parse(call, DefragmentRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        await Task.Run(Options.Backend.Defragment, call.CancellationToken).ConfigureAwait(false);
        await ServiceCore.WriteAsync(call, new DefragmentResponse()).ConfigureAwait(false); // etcd sends no header here.
    }

    private async ValueTask HashAsync(ServerCallContext call)
    {
        ServiceCore.Parse(call, HashRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        (uint hash, long revision) = await Task.Run(Options.Backend.Hash, call.CancellationToken).ConfigureAwait(false);
        var response = new HashResponse { Header = _core.Fill(new ResponseHeader { Revision = revision }), Hash = hash };
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }

    private async ValueTask HashKvAsync(ServerCallContext call)
    {
        HashKVRequest request = ServiceCore.Parse(call, HashKVRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        HashKvResult result = await Task.Run(() => Options.Backend.HashKV(request.Revision), call.CancellationToken).ConfigureAwait(false);
        if (EtcdErrors.FromMvcc(result.Status) is { } error)
        {
            throw error.ToException();
        }

        var response = new HashKVResponse
        {
            Header = _core.Fill(new ResponseHeader { Revision = result.CurrentRevision }),
            Hash = result.Hash,
            CompactRevision = result.CompactRevision,
            HashRevision = request.Revision == 0 ? result.CurrentRevision : request.Revision,
        };
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }

    /// <summary>
    /// Streams a consistent copy of the backend:
    /// <code>
    /// {header, remaining_bytes = total - sent, blob = 32 KiB, version}   first chunk (header only here)
    /// {remaining_bytes = total - sent, blob = 32 KiB, version}           ... until remaining_bytes = 0
    /// {remaining_bytes = 0, blob = sha256(all blobs), version}           the checksum etcdctl appends to the file
    /// </code>
    /// </summary>
    private async ValueTask SnapshotAsync(ServerCallContext call)
    {
        ServiceCore.Parse(call, SnapshotRequest.Parser);
        _core.Intercept(call, allowedForLearner: true);
        CancellationToken cancellationToken = call.CancellationToken;
        using BackendSnapshot snapshot = await Task.Run(Options.Backend.CreateSnapshot, cancellationToken).ConfigureAwait(false);
        Stream stream = snapshot.Stream;
        long total = snapshot.Length;
        long sent = 0;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[SnapshotChunkBytes];
        ResponseHeader? header = _core.Fill(null);
        while (sent < total)
        {
            int filled = 0;
            int want = (int)Math.Min(buffer.Length, total - sent);
            while (filled < want)
            {
                int read = await stream.ReadAsync(buffer.AsMemory(filled, want - filled), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new GrpcStatusException(StatusCode.Unknown, "unexpected EOF"); // The copy shrank: never expected.
                }

                filled += read;
            }

            sent += filled;
            sha.AppendData(buffer, 0, filled);
            var chunk = new SnapshotResponse
            {
                Header = header,
                RemainingBytes = (ulong)(total - sent),
                Blob = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, filled)),
                Version = EtcdVersion.Storage,
            };
            await ServiceCore.WriteAsync(call, chunk).ConfigureAwait(false); // Serialized before the buffer is reused.
            header = null;
        }

        var checksum = new SnapshotResponse
        {
            Header = header,
            RemainingBytes = 0,
            Blob = ByteString.CopyFrom(sha.GetHashAndReset()),
            Version = EtcdVersion.Storage,
        };
        await ServiceCore.WriteAsync(call, checksum).ConfigureAwait(false);
    }

    private async ValueTask MoveLeaderAsync(ServerCallContext call)
    {
        MoveLeaderRequest request = ServiceCore.Parse(call, MoveLeaderRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        if (_core.Member.Leader != _core.Member.MemberId)
        {
            throw EtcdErrors.NotLeader.ToException();
        }

        await Options.Consensus.MoveLeaderAsync(request.TargetID, call.CancellationToken).ConfigureAwait(false);
        await ServiceCore.WriteAsync(call, new MoveLeaderResponse()).ConfigureAwait(false); // etcd sends no header here.
    }

    /// <summary>
    /// etcd 3.6's Downgrade checks the target version first; dotcd answers those checks exactly.
    /// A valid target (one minor below) cannot be served: dotcd has no older storage format to
    /// downgrade to, so it refuses with Unimplemented and says so.
    /// </summary>
    private ValueTask DowngradeAsync(ServerCallContext call)
    {
        DowngradeRequest request = ServiceCore.Parse(call, DowngradeRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        if (request.Action == DowngradeRequest.Types.DowngradeAction.Cancel)
        {
            throw RpcErrors.Exception(RpcErrors.NoInflightDowngrade); // None can be in flight.
        }

        if (!TryParseClusterVersion(request.Version, out int major, out int minor))
        {
            throw RpcErrors.Exception(RpcErrors.WrongDowngradeVersionFormat);
        }

        TryParseClusterVersion(EtcdVersion.Cluster, out int currentMajor, out int currentMinor);
        if (major != currentMajor || minor != currentMinor - 1)
        {
            throw RpcErrors.Exception(RpcErrors.InvalidDowngradeTargetVersion);
        }

        throw new GrpcStatusException(StatusCode.Unimplemented,
            $"dotcd: downgrading the cluster to {major}.{minor} is not supported (dotcd has no etcd {major}.{minor} storage format)");
    }

    /// <summary>etcd's convertToClusterVersion: "X.Y.Z" (semver, pre-release allowed) or "X.Y"; the patch is dropped.</summary>
    internal static bool TryParseClusterVersion(string text, out int major, out int minor)
    {
        major = minor = 0;
        string core = text.Split('-', '+')[0];
        string[] parts = core.Split('.');
        bool hasSuffix = core.Length != text.Length; // "X.Y-rc" is no version: only a full X.Y.Z takes a suffix.
        if (parts.Length is not (2 or 3) || (hasSuffix && parts.Length != 3) || parts.Any(p => p.Length == 0 || !p.All(char.IsAsciiDigit) || (p.Length > 1 && p[0] == '0')))
        {
            return false;
        }

        return int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out major)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out minor)
            && (parts.Length == 2 || int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out _));
    }
}
