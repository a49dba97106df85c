using System.Security.Cryptography;
using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Server.Tests.Metrics;
using Google.Protobuf;
using PbMember = Dotcd.Api.Etcdserverpb.Member; // Dotcd.Server.Tests.Member is a namespace.

namespace Dotcd.Server.Tests.Services;

/// <summary>The etcd services end to end on a real single member (raft loop, WAL, MVCC store, applier).</summary>
public sealed class MemberServicesTests : IAsyncLifetime
{
    private TestMember _member = null!;

    public async Task InitializeAsync() => _member = await TestMember.StartAsync();

    public async Task DisposeAsync() => await _member.DisposeAsync();

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    private Task<PutResponse> PutAsync(string key, string value, bool prevKv = false) =>
        _member.CallAsync(Methods.Put, new PutRequest { Key = B(key), Value = B(value), PrevKv = prevKv }, PutResponse.Parser);

    private Task<RangeResponse> RangeAsync(RangeRequest request) => _member.CallAsync(Methods.Range, request, RangeResponse.Parser);

    private void AssertHeader(ResponseHeader header, long revision)
    {
        Assert.Equal(_member.Raft.ClusterId, header.ClusterId);
        Assert.Equal(_member.Raft.MemberId, header.MemberId);
        Assert.Equal(_member.Raft.AppliedTerm, header.RaftTerm);
        Assert.Equal(revision, header.Revision);
    }

    [Fact]
    public async Task PutThenRangeRoundTripsWithEtcdsHeader()
    {
        PutResponse put = await PutAsync("/registry/pods/default/a", "one");
        AssertHeader(put.Header, 2); // A new store is at revision 1; the first write makes 2.

        put = await PutAsync("/registry/pods/default/a", "two", prevKv: true);
        AssertHeader(put.Header, 3);
        Assert.Equal("one", put.PrevKv.Value.ToStringUtf8());

        RangeResponse range = await RangeAsync(new RangeRequest { Key = B("/registry/pods/default/a") });
        AssertHeader(range.Header, 3);
        var kv = Assert.Single(range.Kvs);
        Assert.Equal("two", kv.Value.ToStringUtf8());
        Assert.Equal(2, kv.CreateRevision);
        Assert.Equal(3, kv.ModRevision);
        Assert.Equal(2, kv.Version);
    }

    [Fact]
    public async Task LinearizableReadsTakeAReadIndexRoundAndSerializableReadsDoNot()
    {
        await PutAsync("k", "v");
        long rounds = _member.Raft.ReadIndexRounds;
        await RangeAsync(new RangeRequest { Key = B("k"), Serializable = true });
        Assert.Equal(rounds, _member.Raft.ReadIndexRounds);

        RangeResponse linearizable = await RangeAsync(new RangeRequest { Key = B("k") });
        Assert.Equal("v", Assert.Single(linearizable.Kvs).Value.ToStringUtf8());
        Assert.True(_member.Raft.ReadIndexRounds > rounds);
    }

    [Fact]
    public async Task CreateIfAbsentTxnSucceedsOnceThenReturnsTheFailureRange()
    {
        // The Kubernetes API server's create: compare mod_revision == 0, put; else range.
        TxnRequest Create(string value) => new()
        {
            Compare = { new Compare { Key = B("/registry/ns/x"), Target = Compare.Types.CompareTarget.Mod, ModRevision = 0 } },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = B("/registry/ns/x"), Value = B(value) } } },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = B("/registry/ns/x") } } },
        };

        TxnResponse first = await _member.CallAsync(Methods.Txn, Create("first"), TxnResponse.Parser);
        Assert.True(first.Succeeded);
        AssertHeader(first.Header, 2);

        TxnResponse second = await _member.CallAsync(Methods.Txn, Create("second"), TxnResponse.Parser);
        Assert.False(second.Succeeded);
        AssertHeader(second.Header, 2); // Nothing changed: no new revision.
        Assert.Equal("first", Assert.Single(second.Responses[0].ResponseRange.Kvs).Value.ToStringUtf8());
    }

    [Fact]
    public async Task ReadOnlyTxnIsServedWithoutAProposal()
    {
        await PutAsync("a", "1");
        ulong committed = _member.Raft.CommittedIndex;
        var txn = new TxnRequest { Success = { new RequestOp { RequestRange = new RangeRequest { Key = B("a"), Serializable = true } } } };
        TxnResponse response = await _member.CallAsync(Methods.Txn, txn, TxnResponse.Parser);
        Assert.True(response.Succeeded);
        Assert.Equal("1", Assert.Single(response.Responses[0].ResponseRange.Kvs).Value.ToStringUtf8());
        Assert.Equal(committed, _member.Raft.CommittedIndex);
    }

    [Fact]
    public async Task DeleteRangeRemovesKeysAndReturnsPreviousValues()
    {
        await PutAsync("p/1", "a");
        await PutAsync("p/2", "b");
        await PutAsync("q", "c");
        DeleteRangeResponse deleted = await _member.CallAsync(Methods.DeleteRange,
            new DeleteRangeRequest { Key = B("p/"), RangeEnd = B("p0"), PrevKv = true }, DeleteRangeResponse.Parser);
        Assert.Equal(2, deleted.Deleted);
        Assert.Equal(["a", "b"], deleted.PrevKvs.Select(kv => kv.Value.ToStringUtf8()));
        AssertHeader(deleted.Header, 5);

        RangeResponse all = await RangeAsync(new RangeRequest { Key = B("\0"), RangeEnd = B("\0") });
        Assert.Equal(["q"], all.Kvs.Select(kv => kv.Key.ToStringUtf8()));
    }

    [Fact]
    public async Task CompactionMakesOldRevisionsUnreadable()
    {
        await PutAsync("c", "1");
        await PutAsync("c", "2");
        await PutAsync("c", "3");
        CompactionResponse compacted = await _member.CallAsync(Methods.Compact,
            new CompactionRequest { Revision = 3, Physical = true }, CompactionResponse.Parser);
        AssertHeader(compacted.Header, 4);

        GrpcStatusException error = await Assert.ThrowsAsync<GrpcStatusException>(() => RangeAsync(new RangeRequest { Key = B("c"), Revision = 2 }));
        Assert.Equal(StatusCode.OutOfRange, error.StatusCode);
        Assert.Equal("etcdserver: mvcc: required revision has been compacted", error.Detail);

        error = await Assert.ThrowsAsync<GrpcStatusException>(() => RangeAsync(new RangeRequest { Key = B("c"), Revision = 99 }));
        Assert.Equal("etcdserver: mvcc: required revision is a future revision", error.Detail);

        error = await Assert.ThrowsAsync<GrpcStatusException>(() =>
            _member.CallAsync(Methods.Compact, new CompactionRequest { Revision = 2 }, CompactionResponse.Parser));
        Assert.Equal(StatusCode.OutOfRange, error.StatusCode);
        Assert.Equal("etcdserver: mvcc: required revision has been compacted", error.Detail);
    }

    [Fact]
    public async Task StatusDescribesTheMemberAsEtcd36Does()
    {
        await PutAsync("s", "1");
        StatusResponse status = await _member.CallAsync(Methods.Status, new StatusRequest(), StatusResponse.Parser);
        AssertHeader(status.Header, 2);
        Assert.Equal("3.6.0", status.Version);
        Assert.Equal("3.6.0", status.StorageVersion);
        Assert.Equal(_member.Raft.MemberId, status.Leader);
        Assert.Equal(_member.Raft.AppliedTerm, status.RaftTerm);
        Assert.True(status.RaftIndex >= status.RaftAppliedIndex && status.RaftAppliedIndex >= 3);
        Assert.Equal(_member.Store.SizeBytes, status.DbSize);
        Assert.True(status.DbSizeInUse > 0 && status.DbSizeInUse <= status.DbSize);
        Assert.Equal(2L * 1024 * 1024 * 1024, status.DbSizeQuota);
        Assert.False(status.DowngradeInfo.Enabled);
        Assert.False(status.IsLearner);
        Assert.Empty(status.Errors);
    }

    [Fact]
    public async Task HashKvAgreesWithTheStoreAndRefusesCompactedRevisions()
    {
        await PutAsync("h", "1");
        await PutAsync("h", "2");
        HashKVResponse now = await _member.CallAsync(Methods.HashKV, new HashKVRequest(), HashKVResponse.Parser);
        Assert.Equal(_member.Store.HashKV(0).Hash, now.Hash);
        Assert.Equal(3, now.HashRevision);
        AssertHeader(now.Header, 3);

        HashKVResponse atTwo = await _member.CallAsync(Methods.HashKV, new HashKVRequest { Revision = 2 }, HashKVResponse.Parser);
        Assert.Equal(2, atTwo.HashRevision);
        Assert.NotEqual(now.Hash, atTwo.Hash);

        HashResponse hash = await _member.CallAsync(Methods.Hash, new HashRequest(), HashResponse.Parser);
        AssertHeader(hash.Header, 3);

        await _member.CallAsync(Methods.Compact, new CompactionRequest { Revision = 3, Physical = true }, CompactionResponse.Parser);
        GrpcStatusException error = await Assert.ThrowsAsync<GrpcStatusException>(() =>
            _member.CallAsync(Methods.HashKV, new HashKVRequest { Revision = 2 }, HashKVResponse.Parser));
        Assert.Equal("etcdserver: mvcc: required revision has been compacted", error.Detail);
    }

    [Fact]
    public async Task SnapshotStreamsTheBackendThenItsSha256()
    {
        for (int i = 0; i < 200; i++)
        {
            await PutAsync($"snap/{i:D4}", new string('x', 500));
        }

        using GrpcClientCall call = _member.Channel.StartServerStreaming(Methods.Snapshot, new SnapshotRequest().ToByteArray(),
            new CallOptions { Timeout = TimeSpan.FromSeconds(30) });
        var messages = new List<SnapshotResponse>();
        while (await call.MoveNextAsync())
        {
            messages.Add(SnapshotResponse.Parser.ParseFrom(call.Current));
        }

        Assert.True(messages.Count >= 3);
        Assert.NotNull(messages[0].Header);
        Assert.Equal(_member.Raft.MemberId, messages[0].Header.MemberId);
        Assert.All(messages.Skip(1), m => Assert.Null(m.Header));
        Assert.All(messages, m => Assert.Equal("3.6.0", m.Version));

        byte[] data = messages[..^1].SelectMany(m => m.Blob.ToByteArray()).ToArray();
        Assert.All(messages[..^2], m => Assert.Equal(32 * 1024, m.Blob.Length));
        Assert.Equal(0UL, messages[^2].RemainingBytes);
        long sent = 0;
        foreach (SnapshotResponse m in messages[..^1])
        {
            sent += m.Blob.Length;
            Assert.Equal((ulong)(data.Length - sent), m.RemainingBytes);
        }

        Assert.Equal(SHA256.HashData(data), messages[^1].Blob.ToByteArray());
        Assert.Equal(0UL, messages[^1].RemainingBytes);
        Assert.Equal(0, data.Length % 512); // A bbolt file: whole pages. With the hash etcdctl appends, size % 512 == 32.
        Assert.Equal(0xED0CDAEDu, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(16, 4))); // bbolt's magic in meta page 0.
    }

    [Fact]
    public async Task DefragmentAnswersAnEmptyResponse()
    {
        await PutAsync("d", "1");
        DefragmentResponse response = await _member.CallAsync(Methods.Defragment, new DefragmentRequest(), DefragmentResponse.Parser);
        Assert.Null(response.Header);
    }

    [Fact]
    public async Task MemberListNamesThisMemberWithAHeaderWithoutRevision()
    {
        await PutAsync("m", "1");
        MemberListResponse list = await _member.CallAsync(Methods.MemberList, new MemberListRequest { Linearizable = true },
            MemberListResponse.Parser);
        AssertHeader(list.Header, 0);
        PbMember self = Assert.Single(list.Members);
        Assert.Equal(_member.Raft.MemberId, self.ID);
        Assert.Equal("default", self.Name);
        Assert.Equal(["http://localhost:2380"], self.PeerURLs);
    }

    [Fact]
    public async Task MoveLeaderToItselfSucceedsAndToAStrangerIsABadTransferee()
    {
        MoveLeaderResponse moved = await _member.CallAsync(Methods.MoveLeader,
            new MoveLeaderRequest { TargetID = _member.Raft.MemberId }, MoveLeaderResponse.Parser);
        Assert.Null(moved.Header);

        GrpcStatusException error = await Assert.ThrowsAsync<GrpcStatusException>(() =>
            _member.CallAsync(Methods.MoveLeader, new MoveLeaderRequest { TargetID = 1234 }, MoveLeaderResponse.Parser));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Equal("etcdserver: bad leader transferee", error.Detail);
    }

    [Fact]
    public async Task AlarmsGoThroughRaftAndShowInStatus()
    {
        AlarmResponse none = await _member.CallAsync(Methods.Alarm, new AlarmRequest(), AlarmResponse.Parser);
        Assert.Empty(none.Alarms);
        Assert.Equal(_member.Raft.MemberId, none.Header.MemberId);

        await _member.CallAsync(Methods.Alarm, new AlarmRequest
        {
            Action = AlarmRequest.Types.AlarmAction.Activate,
            MemberID = _member.Raft.MemberId,
            Alarm = AlarmType.Nospace,
        }, AlarmResponse.Parser);
        StatusResponse status = await _member.CallAsync(Methods.Status, new StatusRequest(), StatusResponse.Parser);
        Assert.Equal([$"memberID:{_member.Raft.MemberId} alarm:NOSPACE "], status.Errors);

        using var http = new HttpClient { BaseAddress = _member.Url };
        HttpResponseMessage health = await http.GetAsync("/health");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal("{\"health\":\"false\",\"reason\":\"ALARM NOSPACE\"}\n", await health.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task HealthProbesReadThroughTheRealMember()
    {
        using var http = new HttpClient { BaseAddress = _member.Url };
        HttpResponseMessage health = await http.GetAsync("/health");
        Assert.Equal("{\"health\":\"true\",\"reason\":\"\"}", await health.Content.ReadAsStringAsync());
        HttpResponseMessage readyz = await http.GetAsync("/readyz?verbose");
        Assert.Equal(System.Net.HttpStatusCode.OK, readyz.StatusCode);
    }

    [Fact]
    public async Task GrpcHealthServiceSaysServing()
    {
        byte[] reply = await _member.Channel.UnaryAsync("/grpc.health.v1.Health/Check", Array.Empty<byte>());
        Assert.Equal(new byte[] { 0x08, 0x01 }, reply);
        GrpcStatusException error = await Assert.ThrowsAsync<GrpcStatusException>(() =>
            _member.Channel.UnaryAsync("/grpc.health.v1.Health/Check", new byte[] { 0x0A, 0x01, (byte)'x' }));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task CallsAreCountedInGrpcServerMetrics()
    {
        await PutAsync("x", "1");
        await Assert.ThrowsAsync<GrpcStatusException>(() => PutAsync("", "1"));
        Dictionary<string, ParsedFamily> families = Exposition.Parse(_member.Registry.Expose());
        ParsedFamily handled = families["grpc_server_handled_total"];
        Assert.Equal(1, handled.Samples.Single(s => s.Label("grpc_method") == "Put" && s.Label("grpc_code") == "OK").Value);
        Assert.Equal(1, handled.Samples.Single(s => s.Label("grpc_method") == "Put" && s.Label("grpc_code") == "InvalidArgument").Value);
        // Every method of etcd's API is there from the start, at zero.
        Assert.Contains(handled.Samples, s => s.Label("grpc_method") == "LeaseKeepAlive" && s.Label("grpc_type") == "bidi_stream");
        Assert.True(families["etcd_server_proposals_applied_total"].Samples[0].Value >= 3);
        Assert.Equal(1, families["etcd_server_has_leader"].Samples[0].Value);
    }
}
