using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Mvcc;
using Dotcd.Server.Apply;
using Dotcd.Server.RaftLoop;
using Dotcd.Server.Services;
using Google.Protobuf;
using PbMember = Dotcd.Api.Etcdserverpb.Member; // Dotcd.Server.Tests.Member is a namespace.
using RaftApplyResult = Dotcd.Server.RaftLoop.ApplyResult;

namespace Dotcd.Server.Tests.Services;

/// <summary>
/// A test double for the raft side of a member (state and consensus) whose leader, learner flag
/// and proposal outcomes the test sets, so the services' edge cases can be driven directly. Reads
/// and maintenance still use the real MVCC store.
/// </summary>
internal sealed class ScriptedRaftDouble : IMemberState, IConsensus
{
    public ulong MemberId { get; set; } = 0x1111;

    public ulong ClusterId { get; set; } = 0x2222;

    public ulong Leader { get; set; } = 0x1111;

    public ulong Term { get; set; } = 3;

    public ulong CommittedIndex { get; set; } = 10;

    public ulong AppliedIndex { get; set; } = 9;

    public bool IsLearner { get; set; }

    public List<InternalRaftRequest> Proposals { get; } = [];

    public int LinearizableWaits;

    /// <summary>What a proposal yields; throwing makes ProposeAsync fail with that exception.</summary>
    public Func<InternalRaftRequest, RaftApplyResult> OnPropose { get; set; } =
        request => new RaftApplyResult { Response = new PutResponse { Header = new ResponseHeader { Revision = 7 } } };

    public List<ulong> Transfers { get; } = [];

    public Task<RaftApplyResult> ProposeAsync(ReadOnlyMemory<byte> internalRaftRequest, CancellationToken cancellationToken)
    {
        InternalRaftRequest request = InternalRaftRequest.Parser.ParseFrom(internalRaftRequest.Span);
        lock (Proposals)
        {
            Proposals.Add(request);
        }

        try
        {
            return Task.FromResult(OnPropose(request));
        }
        catch (Exception e)
        {
            return Task.FromException<RaftApplyResult>(e);
        }
    }

    public Task WaitLinearizableAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref LinearizableWaits);
        return Task.CompletedTask;
    }

    public Task MoveLeaderAsync(ulong transferee, CancellationToken cancellationToken)
    {
        Transfers.Add(transferee);
        return Task.CompletedTask;
    }
}

internal sealed class NoAlarms : IAlarmList
{
    public List<AlarmMember> Active { get; } = [];

    public IReadOnlyList<AlarmMember> Alarms() => Active;
}

public sealed class ServiceBehaviourTests : IAsyncLifetime
{
    private readonly ScriptedRaftDouble _raft = new();
    private readonly NoAlarms _alarms = new();
    private ServicesTempDir _dir = null!;
    private MvccStore _store = null!;
    private GrpcServerHost _host = null!;
    private GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _dir = new ServicesTempDir();
        _store = MvccStore.Open(_dir.Sub("db"));
        GrpcServerHostBuilder builder = GrpcServerHost.CreateBuilder().Listen("http://127.0.0.1:0");
        builder.AddEtcdServices(new EtcdServiceOptions
        {
            Member = _raft,
            Consensus = _raft,
            Kv = new KvApplierReader(new KvApplier(new NoLeases()), _store),
            Backend = new MvccBackendAdapter(_store),
            Alarms = _alarms,
            Cluster = new StaticClusterMembers([new PbMember { ID = 0x1111, Name = "default" }]),
        });
        _host = builder.Build();
        await _host.StartAsync();
        _channel = GrpcChannel.Create(_host.Urls[0].ToString());
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _host.DisposeAsync();
        _store.Dispose();
        _dir.Dispose();
    }

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    private async Task<byte[]> CallAsync(string method, IMessage request, GrpcMetadata? headers = null) =>
        await _channel.UnaryAsync(method, request.ToByteArray(), new CallOptions { Timeout = TimeSpan.FromSeconds(10), Headers = headers });

    private async Task<GrpcStatus> FailureAsync(string method, IMessage request, GrpcMetadata? headers = null) =>
        (await Assert.ThrowsAsync<GrpcStatusException>(() => CallAsync(method, request, headers))).Status;

    private async Task<GrpcStatus> FailureAsync(string method, byte[] request) =>
        (await Assert.ThrowsAsync<GrpcStatusException>(() => _channel.UnaryAsync(method, request))).Status;

    [Fact]
    public async Task WritesAreProposedAsInternalRaftRequestsAndAnsweredWithTheHeader()
    {
        byte[] reply = await CallAsync(Methods.Put, new PutRequest { Key = B("k"), Value = B("v"), Lease = 0 });
        PutResponse put = PutResponse.Parser.ParseFrom(reply);
        Assert.Equal(new ResponseHeader { ClusterId = 0x2222, MemberId = 0x1111, RaftTerm = 3, Revision = 7 }, put.Header);

        InternalRaftRequest proposal = Assert.Single(_raft.Proposals);
        Assert.Equal(new PutRequest { Key = B("k"), Value = B("v") }, proposal.Put);
        Assert.Null(proposal.Txn);
        Assert.Null(proposal.Header); // The raft loop stamps header.ID.
    }

    [Fact]
    public async Task MalformedRequestsGetGrpcGosUnmarshallingError()
    {
        GrpcStatus status = await FailureAsync(Methods.Put, [0x0A, 0x05, 0x61]); // Field 1 promises 5 bytes, carries 1.
        Assert.Equal(StatusCode.Internal, status.Code);
        Assert.Equal("grpc: error unmarshalling request: unexpected EOF", status.Message);

        status = await FailureAsync(Methods.Range, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        Assert.Equal(StatusCode.Internal, status.Code);
        Assert.StartsWith("grpc: error unmarshalling request: ", status.Message);
        Assert.Empty(_raft.Proposals);
    }

    [Fact]
    public async Task InvalidRequestsAreRefusedWithEtcdsTextsBeforeAnyProposal()
    {
        Assert.Equal(new GrpcStatus(StatusCode.InvalidArgument, "etcdserver: key is not provided"),
            await FailureAsync(Methods.Put, new PutRequest { Value = B("v") }));
        Assert.Equal(new GrpcStatus(StatusCode.InvalidArgument, "etcdserver: value is provided"),
            await FailureAsync(Methods.Put, new PutRequest { Key = B("k"), Value = B("v"), IgnoreValue = true }));
        Assert.Equal(new GrpcStatus(StatusCode.InvalidArgument, "etcdserver: lease is provided"),
            await FailureAsync(Methods.Put, new PutRequest { Key = B("k"), Lease = 5, IgnoreLease = true }));
        Assert.Equal(new GrpcStatus(StatusCode.InvalidArgument, "etcdserver: key is not provided"),
            await FailureAsync(Methods.DeleteRange, new DeleteRangeRequest()));
        Assert.Equal(new GrpcStatus(StatusCode.InvalidArgument, "etcdserver: key is not provided"),
            await FailureAsync(Methods.Range, new RangeRequest()));
        Assert.Equal(new GrpcStatus(StatusCode.InvalidArgument, "etcdserver: invalid sort option"),
            await FailureAsync(Methods.Range, new RangeRequest { Key = B("k"), SortOrder = (RangeRequest.Types.SortOrder)7 }));

        var tooMany = new TxnRequest();
        for (int i = 0; i < 129; i++)
        {
            tooMany.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B($"k{i}") } });
        }

        Assert.Equal(new GrpcStatus(StatusCode.InvalidArgument, "etcdserver: too many operations in txn request"),
            await FailureAsync(Methods.Txn, tooMany));
        var duplicate = new TxnRequest
        {
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = B("same") } },
                new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("a"), RangeEnd = B("z") } },
            },
        };
        Assert.Equal(new GrpcStatus(StatusCode.InvalidArgument, "etcdserver: duplicate key given in txn request"),
            await FailureAsync(Methods.Txn, duplicate));
        Assert.Equal(new GrpcStatus(StatusCode.InvalidArgument, "etcdserver: key not found"),
            await FailureAsync(Methods.Txn, new TxnRequest { Success = { new RequestOp() } }));

        Assert.Empty(_raft.Proposals);
    }

    [Fact]
    public async Task HasLeaderMetadataFailsFastWithoutALeader()
    {
        _raft.Leader = 0;
        var requireLeader = new GrpcMetadata().Add("hasleader", "true");
        Assert.Equal(new GrpcStatus(StatusCode.Unavailable, "etcdserver: no leader"),
            await FailureAsync(Methods.Range, new RangeRequest { Key = B("k"), Serializable = true }, requireLeader));
        Assert.Equal(new GrpcStatus(StatusCode.Unavailable, "etcdserver: no leader"),
            await FailureAsync(Methods.Put, new PutRequest { Key = B("k") }, requireLeader));
        Assert.Empty(_raft.Proposals);

        // Without the metadata a serializable read is still served from local state.
        RangeResponse local = RangeResponse.Parser.ParseFrom(await CallAsync(Methods.Range, new RangeRequest { Key = B("k"), Serializable = true }));
        Assert.Empty(local.Kvs);

        // And Status says why.
        StatusResponse status = StatusResponse.Parser.ParseFrom(await CallAsync(Methods.Status, new StatusRequest()));
        Assert.Equal(["etcdserver: no leader"], status.Errors);
        Assert.Equal(0UL, status.Leader);
    }

    [Fact]
    public async Task ALearnerServesOnlyStatusAndSerializableReads()
    {
        _raft.IsLearner = true;
        var notForLearner = new GrpcStatus(StatusCode.Unavailable, "etcdserver: rpc not supported for learner");
        Assert.Equal(notForLearner, await FailureAsync(Methods.Range, new RangeRequest { Key = B("k") }));
        Assert.Equal(notForLearner, await FailureAsync(Methods.Put, new PutRequest { Key = B("k") }));
        Assert.Equal(notForLearner, await FailureAsync(Methods.MemberList, new MemberListRequest()));

        await CallAsync(Methods.Range, new RangeRequest { Key = B("k"), Serializable = true });
        StatusResponse status = StatusResponse.Parser.ParseFrom(await CallAsync(Methods.Status, new StatusRequest()));
        Assert.True(status.IsLearner);
    }

    [Fact]
    public async Task LinearizableReadsWaitAndSerializableOnesDoNot()
    {
        await CallAsync(Methods.Range, new RangeRequest { Key = B("k"), Serializable = true });
        Assert.Equal(0, _raft.LinearizableWaits);
        await CallAsync(Methods.Range, new RangeRequest { Key = B("k") });
        Assert.Equal(1, _raft.LinearizableWaits);
        await CallAsync(Methods.Txn, new TxnRequest { Success = { new RequestOp { RequestRange = new RangeRequest { Key = B("k") } } } });
        Assert.Equal(2, _raft.LinearizableWaits);
        Assert.Empty(_raft.Proposals); // A read-only txn is not proposed.
    }

    [Fact]
    public async Task ErrorsFromBelowKeepEtcdsCodeAndText()
    {
        _raft.OnPropose = _ => throw EtcdServerError.TooManyRequests.ToException();
        Assert.Equal(new GrpcStatus(StatusCode.ResourceExhausted, "etcdserver: too many requests"),
            await FailureAsync(Methods.Put, new PutRequest { Key = B("k") }));

        _raft.OnPropose = _ => throw EtcdServerError.TimeoutDueToLeaderFail.ToException();
        Assert.Equal(new GrpcStatus(StatusCode.Unavailable, "etcdserver: request timed out, possibly due to previous leader failure"),
            await FailureAsync(Methods.DeleteRange, new DeleteRangeRequest { Key = B("k") }));

        _raft.OnPropose = _ => new RaftApplyResult { Error = EtcdErrors.LeaseNotFound.ToException() };
        Assert.Equal(new GrpcStatus(StatusCode.NotFound, "etcdserver: requested lease not found"),
            await FailureAsync(Methods.Put, new PutRequest { Key = B("k"), Lease = 99 }));

        _raft.OnPropose = _ => new RaftApplyResult { Error = new IOException("disk on fire") };
        Assert.Equal(new GrpcStatus(StatusCode.Unknown, "disk on fire"), await FailureAsync(Methods.Put, new PutRequest { Key = B("k") }));
    }

    [Fact]
    public async Task EveryEtcdMethodIsRegisteredAndUnbuiltOnesSayWhatIsMissing()
    {
        Assert.Equal(new GrpcStatus(StatusCode.Unimplemented, "dotcd: leases (etcdserverpb.Lease/LeaseGrant) is not implemented yet"),
            await FailureAsync(Methods.LeaseGrant, new LeaseGrantRequest { TTL = 10 }));
        Assert.Equal(new GrpcStatus(StatusCode.Unimplemented, "dotcd: authentication (etcdserverpb.Auth/AuthStatus) is not implemented yet"),
            await FailureAsync(Methods.AuthStatus, new AuthStatusRequest()));
        Assert.Equal(new GrpcStatus(StatusCode.Unimplemented, "dotcd: MemberAdd is not supported yet: runtime membership changes are not implemented"),
            await FailureAsync(Methods.MemberAdd, new MemberAddRequest { PeerURLs = { "http://10.0.0.2:2380" } }));

        using GrpcClientCall watch = _channel.StartDuplexStreaming(Methods.Watch);
        GrpcStatusException watchError = await Assert.ThrowsAsync<GrpcStatusException>(async () => await watch.MoveNextAsync());
        Assert.Equal(new GrpcStatus(StatusCode.Unimplemented, "dotcd: watch (etcdserverpb.Watch/Watch) is not implemented yet"), watchError.Status);

        // No method of etcd's API gets grpc-go's "unknown method" answer.
        foreach (EtcdMethod method in Methods.All.Where(m => m.Kind == MethodKind.Unary))
        {
            try
            {
                await _channel.UnaryAsync(method.Path, Array.Empty<byte>(), new CallOptions { Timeout = TimeSpan.FromSeconds(10) });
            }
            catch (GrpcStatusException e)
            {
                Assert.DoesNotContain("unknown method", e.Detail);
                Assert.DoesNotContain("unknown service", e.Detail);
            }
        }
    }

    [Fact]
    public async Task MoveLeaderOnAFollowerIsNotLeader()
    {
        _raft.Leader = 0x3333;
        Assert.Equal(new GrpcStatus(StatusCode.FailedPrecondition, "etcdserver: not leader"),
            await FailureAsync(Methods.MoveLeader, new MoveLeaderRequest { TargetID = 0x3333 }));
        Assert.Empty(_raft.Transfers);

        _raft.Leader = _raft.MemberId;
        await CallAsync(Methods.MoveLeader, new MoveLeaderRequest { TargetID = 0x3333 });
        Assert.Equal([0x3333UL], _raft.Transfers);
    }

    [Theory]
    [InlineData(DowngradeRequest.Types.DowngradeAction.Cancel, "3.5", StatusCode.FailedPrecondition, "etcdserver: no inflight downgrade job")]
    [InlineData(DowngradeRequest.Types.DowngradeAction.Validate, "three", StatusCode.InvalidArgument, "etcdserver: wrong downgrade target version format")]
    [InlineData(DowngradeRequest.Types.DowngradeAction.Validate, "3.5-rc", StatusCode.InvalidArgument, "etcdserver: wrong downgrade target version format")]
    [InlineData(DowngradeRequest.Types.DowngradeAction.Enable, "3.4", StatusCode.InvalidArgument, "etcdserver: invalid downgrade target version")]
    [InlineData(DowngradeRequest.Types.DowngradeAction.Validate, "3.6.0", StatusCode.InvalidArgument, "etcdserver: invalid downgrade target version")]
    [InlineData(DowngradeRequest.Types.DowngradeAction.Enable, "3.5.0",
        StatusCode.Unimplemented, "dotcd: downgrading the cluster to 3.5 is not supported (dotcd has no etcd 3.5 storage format)")]
    public async Task DowngradeIsRefusedAsClearlyAsEtcdRefusesIt(
        DowngradeRequest.Types.DowngradeAction action, string version, StatusCode code, string message) =>
        Assert.Equal(new GrpcStatus(code, message), await FailureAsync(Methods.Downgrade, new DowngradeRequest { Action = action, Version = version }));

    [Fact]
    public async Task StatusListsAlarmsAsEtcdPrintsThem()
    {
        _alarms.Active.Add(new AlarmMember { MemberID = 0x1111, Alarm = AlarmType.Nospace });
        _alarms.Active.Add(new AlarmMember { MemberID = 0x1111, Alarm = AlarmType.Corrupt });
        StatusResponse status = StatusResponse.Parser.ParseFrom(await CallAsync(Methods.Status, new StatusRequest()));
        Assert.Equal(["memberID:4369 alarm:NOSPACE ", "memberID:4369 alarm:CORRUPT "], status.Errors);
        Assert.Equal(9UL, status.RaftAppliedIndex);
        Assert.Equal(10UL, status.RaftIndex);
        Assert.Equal(3UL, status.RaftTerm);
    }
}
