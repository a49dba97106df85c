using System.Diagnostics;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Server.Composition;
using Dotcd.Server.Tests.Composition;

namespace Dotcd.Server.Tests.Leases;

/// <summary>Leases on a real in-process member over gRPC, with the real clock.</summary>
public sealed class LeaseMemberTests
{
    // 10 ms heartbeats: minimum TTL 1 s, promotion adds 100 ms.
    internal static EtcdMemberOptions Fast(EtcdMemberOptions o) => o with { HeartbeatInterval = TimeSpan.FromMilliseconds(10), ElectionTicks = 10 };

    [Fact]
    public async Task GrantKeepAliveTimeToLiveListAndRevokeWorkOverGrpc()
    {
        await using RunningMember running = await RunningMember.StartAsync(Fast);
        using var rpc = new LeaseRpc(running.Endpoint);

        LeaseGrantResponse granted = await rpc.GrantAsync(60);
        Assert.NotEqual(0, granted.ID);
        Assert.True(granted.ID > 0);
        Assert.Equal(60, granted.TTL);
        Assert.Equal(running.Member.MemberId, granted.Header.MemberId);
        Assert.Equal(running.Member.ClusterId, granted.Header.ClusterId);
        LeaseGrantResponse chosen = await rpc.GrantAsync(0, id: 0x1234);
        Assert.Equal(0x1234, chosen.ID);
        Assert.Equal(1, chosen.TTL); // Raised to the minimum.

        await rpc.PutAsync("/l/b", "1", granted.ID);
        await rpc.PutAsync("/l/a", "2", granted.ID);
        PutResponse last = await rpc.PutAsync("/plain", "3");

        LeaseTimeToLiveResponse ttl = await rpc.TimeToLiveAsync(granted.ID, keys: true);
        Assert.Equal(granted.ID, ttl.ID);
        Assert.Equal(60, ttl.GrantedTTL);
        Assert.InRange(ttl.TTL, 55, 60);
        Assert.Equal(["/l/a", "/l/b"], ttl.Keys.Select(k => k.ToStringUtf8()));
        Assert.Equal(last.Header.Revision, ttl.Header.Revision);
        Assert.Empty((await rpc.TimeToLiveAsync(granted.ID)).Keys);

        LeaseLeasesResponse list = await rpc.LeasesAsync();
        Assert.Equal([0x1234, granted.ID], list.Leases.Select(l => l.ID).Order());

        List<LeaseKeepAliveResponse> answers = await rpc.KeepAliveAsync(granted.ID, 999, granted.ID);
        Assert.Equal([granted.ID, 999, granted.ID], answers.Select(a => a.ID));
        Assert.Equal([60L, 0L, 60L], answers.Select(a => a.TTL));
        Assert.All(answers, a => Assert.Equal(last.Header.Revision, a.Header.Revision));

        LeaseRevokeResponse revoked = await rpc.RevokeAsync(granted.ID);
        Assert.Equal(last.Header.Revision + 1, revoked.Header.Revision); // Both keys in one revision.
        RangeResponse left = await rpc.GetPrefixAsync("/");
        Assert.Equal(["/plain"], left.Kvs.Select(k => k.Key.ToStringUtf8()));
        Assert.Equal(last.Header.Revision + 1, left.Header.Revision);

        LeaseTimeToLiveResponse gone = await rpc.TimeToLiveAsync(granted.ID);
        Assert.Equal(-1, gone.TTL);
        Assert.Equal(granted.ID, gone.ID);
        Assert.Equal([0x1234L], (await rpc.LeasesAsync()).Leases.Select(l => l.ID));

        string metrics = running.Member.Metrics.Expose();
        Assert.Contains("\netcd_debugging_lease_granted_total 2\n", metrics);
        Assert.Contains("\netcd_debugging_lease_revoked_total 1\n", metrics);
        Assert.Contains("\netcd_debugging_lease_renewed_total 2\n", metrics);
        Assert.Contains("\netcd_debugging_lease_ttl_total_count 2\n", metrics);
    }

    [Fact]
    public async Task LeaseErrorsAreEtcds()
    {
        await using RunningMember running = await RunningMember.StartAsync(Fast);
        using var rpc = new LeaseRpc(running.Endpoint);
        await rpc.GrantAsync(10, id: 7);

        Assert.Equal(new GrpcStatus(StatusCode.OutOfRange, "etcdserver: too large lease TTL"),
            await LeaseRpc.FailureOf(() => rpc.GrantAsync(9_000_000_001)));
        Assert.Equal(new GrpcStatus(StatusCode.FailedPrecondition, "etcdserver: lease already exists"),
            await LeaseRpc.FailureOf(() => rpc.GrantAsync(10, id: 7)));
        Assert.Equal(new GrpcStatus(StatusCode.NotFound, "etcdserver: requested lease not found"),
            await LeaseRpc.FailureOf(() => rpc.RevokeAsync(8)));
        Assert.Equal(new GrpcStatus(StatusCode.NotFound, "etcdserver: requested lease not found"),
            await LeaseRpc.FailureOf(() => rpc.PutAsync("k", "v", lease: 8)));
        Assert.Equal(9_000_000_000, (await rpc.GrantAsync(9_000_000_000)).TTL);
    }

    [Fact]
    public async Task ALeaseGrantFailsWhileTheNoSpaceAlarmIsRaisedButRevokeGoesOn()
    {
        await using RunningMember running = await RunningMember.StartAsync(Fast);
        using var rpc = new LeaseRpc(running.Endpoint);
        LeaseGrantResponse granted = await rpc.GrantAsync(30);

        await running.Client.Maintenance.AlarmActivateAsync(running.Member.MemberId, AlarmType.Nospace);

        Assert.Equal(new GrpcStatus(StatusCode.ResourceExhausted, "etcdserver: mvcc: database space exceeded"),
            await LeaseRpc.FailureOf(() => rpc.GrantAsync(30)));
        await rpc.RevokeAsync(granted.ID);
    }

    [Fact]
    public async Task LeasesAndTheirKeysSurviveARestartWithTheirTtlRenewed()
    {
        await using RunningMember running = await RunningMember.StartAsync(Fast);
        using (var rpc = new LeaseRpc(running.Endpoint))
        {
            LeaseGrantResponse granted = await rpc.GrantAsync(30, id: 42);
            await rpc.PutAsync("/r/k", "v", granted.ID);
            await Task.Delay(TimeSpan.FromSeconds(1.2));
            Assert.InRange((await rpc.TimeToLiveAsync(42)).TTL, 25, 28);
        }

        await running.RestartAsync();

        using var after = new LeaseRpc(running.Endpoint);
        LeaseTimeToLiveResponse ttl = await after.TimeToLiveAsync(42, keys: true);
        Assert.Equal(30, ttl.TTL); // A full TTL again, plus the election timeout (etcd's Promote).
        Assert.Equal(30, ttl.GrantedTTL);
        Assert.Equal(["/r/k"], ttl.Keys.Select(k => k.ToStringUtf8()));
        long before = (await after.GetPrefixAsync("/")).Header.Revision;
        Assert.Equal(before + 1, (await after.RevokeAsync(42)).Header.Revision);
        Assert.Empty((await after.GetPrefixAsync("/r/")).Kvs);
    }

    [Fact]
    public async Task WithCheckpointsTheRemainingTtlSurvivesARestart()
    {
        await using RunningMember running = await RunningMember.StartAsync(o => Fast(o) with
        {
            EnableLeaseCheckpoint = true,
            LeaseCheckpointInterval = TimeSpan.FromSeconds(1),
        });
        using (var rpc = new LeaseRpc(running.Endpoint))
        {
            await rpc.GrantAsync(30, id: 43);
            await Task.Delay(TimeSpan.FromSeconds(2.5)); // Checkpoints at about 1 s and 2 s.
        }

        await running.RestartAsync();

        using var after = new LeaseRpc(running.Endpoint);
        LeaseTimeToLiveResponse ttl = await after.TimeToLiveAsync(43);
        Assert.InRange(ttl.TTL, 20, 28);
        Assert.Equal(30, ttl.GrantedTTL);

        // A keep-alive clears the checkpoint: the full TTL counts again, also after a restart.
        Assert.Equal(30, (await after.KeepAliveAsync(43)).Single().TTL);
        await running.RestartAsync();
        using var again = new LeaseRpc(running.Endpoint);
        // Whole seconds left, rounded down: a slow restart may already have used a second of the
        // renewed 30 s; a checkpoint that survived would give 28 or less.
        Assert.InRange((await again.TimeToLiveAsync(43)).TTL, 29, 31); // 31: the election timeout added at promotion.
    }
}
