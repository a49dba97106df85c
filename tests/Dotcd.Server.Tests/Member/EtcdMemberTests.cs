using System.Net.Http;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Client;
using Dotcd.Server.RaftLoop;

namespace Dotcd.Server.Tests.Composition;

public sealed class EtcdMemberTests
{
    [Fact]
    public async Task AMemberServesPutGetTxnDeleteAndCompactToTheClient()
    {
        await using RunningMember running = await RunningMember.StartAsync();
        KVClient kv = running.Client.KV;

        PutResponse first = await kv.PutAsync("/a", "1");
        PutResponse second = await kv.PutAsync("/b", "2");
        Assert.Equal(first.Header.Revision + 1, second.Header.Revision);
        RangeResponse all = await kv.GetPrefixAsync("/");
        Assert.Equal(["/a", "/b"], all.Kvs.Select(k => k.Key.ToStringUtf8()));
        Assert.Equal(running.Member.MemberId, all.Header.MemberId);
        Assert.Equal(running.Member.ClusterId, all.Header.ClusterId);

        TxnResponse txn = await kv.Txn()
            .If(Compares.Value("/a", CompareOperator.Equal, "1"))
            .Then(Ops.Put("/a", "10"), Ops.Delete("/b"))
            .Else(Ops.Put("/never", "x"))
            .CommitAsync();
        Assert.True(txn.Succeeded);
        Assert.Equal(second.Header.Revision + 1, txn.Header.Revision);
        RangeResponse afterTxn = await kv.GetPrefixAsync("/");
        Assert.Equal(["/a=10"], afterTxn.Kvs.Select(k => $"{k.Key.ToStringUtf8()}={k.Value.ToStringUtf8()}"));

        DeleteRangeResponse deleted = await kv.DeleteAsync("/a");
        Assert.Equal(1, deleted.Deleted);
        Assert.Empty((await kv.GetAsync("/a")).Kvs);

        await kv.CompactAsync(txn.Header.Revision, physical: true);
        EtcdException compacted = await Assert.ThrowsAsync<EtcdException>(() => kv.GetAsync("/a", new GetOptions { Revision = first.Header.Revision }));
        Assert.Equal("etcdserver: mvcc: required revision has been compacted", compacted.Detail);
        Assert.Equal("10", (await kv.GetAsync("/a", new GetOptions { Revision = txn.Header.Revision })).Kvs.Single().Value.ToStringUtf8());
    }

    [Fact]
    public async Task ARestartedMemberKeepsItsDataAndItsRevisionsContinue()
    {
        await using RunningMember running = await RunningMember.StartAsync();
        ulong memberId = running.Member.MemberId;
        long last = 0;
        for (int i = 0; i < 20; i++)
        {
            last = (await running.Client.KV.PutAsync($"k{i:D2}", $"v{i}")).Header.Revision;
        }

        await running.RestartAsync();

        Assert.Equal(memberId, running.Member.MemberId);
        RangeResponse all = await running.Client.KV.GetPrefixAsync("k");
        Assert.Equal(20, all.Count);
        Assert.Equal("v19", all.Kvs[^1].Value.ToStringUtf8());
        Assert.Equal(last, all.Header.Revision);
        Assert.Equal(last + 1, (await running.Client.KV.PutAsync("k20", "v20")).Header.Revision);
    }

    [Fact]
    public async Task IdsAreEtcdsForTheInitialClusterAndMemberListShowsTheAdvertisedUrls()
    {
        await using RunningMember running = await RunningMember.StartAsync(o => o with { Name = "infra0", InitialClusterToken = "tok" });

        ulong expected = MemberIds.ComputeMemberId(["http://127.0.0.1:2380"], "tok");
        Assert.Equal(expected, running.Member.MemberId);
        Assert.Equal(MemberIds.ComputeClusterId([expected]), running.Member.ClusterId);
        MemberListResponse list = await running.Client.Cluster.MemberListAsync();
        Api.Etcdserverpb.Member member = Assert.Single(list.Members);
        Assert.Equal("infra0", member.Name);
        Assert.Equal(["http://127.0.0.1:2380"], member.PeerURLs);
        Assert.Equal(["http://127.0.0.1:2379"], member.ClientURLs);
        StatusResponse status = await running.Client.Maintenance.StatusAsync();
        Assert.Equal(expected, status.Leader);
        Assert.True(status.RaftAppliedIndex >= 2);
    }

    [Fact]
    public async Task TheRequestLimitsFromTheFlagsReachTheServices()
    {
        await using RunningMember running = await RunningMember.StartAsync(o => o with { MaxTxnOps = 2, MaxRequestBytes = 4096 });

        EtcdException tooMany = await Assert.ThrowsAsync<EtcdException>(() =>
            running.Client.KV.Txn().Then(Ops.Put("a", "1"), Ops.Put("b", "2"), Ops.Put("c", "3")).CommitAsync());
        Assert.Equal("etcdserver: too many operations in txn request", tooMany.Detail);
        EtcdException tooLarge = await Assert.ThrowsAsync<EtcdException>(() => running.Client.KV.PutAsync("big", new string('x', 8192)));
        Assert.Equal("etcdserver: request is too large", tooLarge.Detail);
        await running.Client.KV.PutAsync("small", new string('x', 1024));
    }

    [Fact]
    public async Task AnExceededQuotaRaisesNoSpaceWhichRefusesWritesUntilDisarmedAndSurvivesARestart()
    {
        await using RunningMember running = await RunningMember.StartAsync(o => o with { QuotaBackendBytes = 256 * 1024 });
        KVClient kv = running.Client.KV;
        string value = new('v', 16 * 1024);

        EtcdException? noSpace = null;
        for (int i = 0; i < 64 && noSpace is null; i++)
        {
            try
            {
                await kv.PutAsync($"fill{i:D2}", value);
            }
            catch (EtcdException e)
            {
                noSpace = e;
            }
        }

        Assert.NotNull(noSpace);
        Assert.Equal("etcdserver: mvcc: database space exceeded", noSpace.Detail);
        AlarmMember alarm = Assert.Single((await running.Client.Maintenance.AlarmListAsync()).Alarms);
        Assert.Equal(AlarmType.Nospace, alarm.Alarm);
        Assert.Equal(running.Member.MemberId, alarm.MemberID);

        // Small writes are refused too while the alarm is raised; reads, deletes and compaction go on.
        EtcdException small = await Assert.ThrowsAsync<EtcdException>(() => kv.PutAsync("tiny", "1"));
        Assert.True(small.IsNoSpace);
        Assert.NotEmpty((await kv.GetPrefixAsync("fill")).Kvs);

        await running.RestartAsync();
        kv = running.Client.KV;
        Assert.Single((await running.Client.Maintenance.AlarmListAsync()).Alarms);
        Assert.True((await Assert.ThrowsAsync<EtcdException>(() => kv.PutAsync("tiny", "1"))).IsNoSpace);

        DeleteRangeResponse deleted = await kv.DeletePrefixAsync("fill");
        Assert.True(deleted.Deleted > 0);
        await kv.CompactAsync(deleted.Header.Revision, physical: true);
        await running.Client.Maintenance.DefragmentAsync();
        await running.Client.Maintenance.AlarmDisarmAsync(alarm.MemberID, AlarmType.Nospace);

        Assert.Empty((await running.Client.Maintenance.AlarmListAsync()).Alarms);
        await kv.PutAsync("tiny", "1");
    }

    [Fact]
    public async Task ALeaseGrantPastTheQuotaRaisesNoSpaceAsEtcdsQuotaLeaseServerDoes()
    {
        // etcd counts a grant as 64 bytes; with a quota below the empty backend's size, nothing fits.
        await using RunningMember running = await RunningMember.StartAsync(o => o with { QuotaBackendBytes = 1 });

        EtcdException refused = await Assert.ThrowsAsync<EtcdException>(() => running.Client.Lease.GrantAsync(60));
        Assert.True(refused.IsNoSpace);
        Assert.Equal(AlarmType.Nospace, Assert.Single((await running.Client.Maintenance.AlarmListAsync()).Alarms).Alarm);
        Assert.Empty((await running.Client.Lease.LeasesAsync()).Leases);
    }

    [Fact]
    public async Task MetricsCountWatchStreamsAndWatchersAsEtcdsGaugesDo()
    {
        await using RunningMember running = await RunningMember.StartAsync();
        using var http = new HttpClient { BaseAddress = running.Member.ClientUrls[0] };
        await using (Dotcd.Client.Watcher first = running.Client.Watch.Key("a"))
        await using (Dotcd.Client.Watcher second = running.Client.Watch.Prefix("b"))
        {
            await first.Created;
            await second.Created;
            string metrics = await http.GetStringAsync("/metrics");
            Assert.Contains("\netcd_debugging_mvcc_watch_stream_total 1\n", metrics);
            Assert.Contains("\netcd_debugging_mvcc_watcher_total 2\n", metrics);
            Assert.Contains("\netcd_debugging_mvcc_slow_watcher_total 0\n", metrics);
        }

        // Leaving the watches cancels them on the server; the gauges follow.
        for (int i = 0; i < 50 && (await http.GetStringAsync("/metrics")).Contains("\netcd_debugging_mvcc_watcher_total 2\n"); i++)
        {
            await Task.Delay(100);
        }

        Assert.DoesNotContain("\netcd_debugging_mvcc_watcher_total 2\n", await http.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task HealthAndMetricsAreServedOnTheClientPort()
    {
        await using RunningMember running = await RunningMember.StartAsync();
        await running.Client.KV.PutAsync("a", "1");
        using var http = new HttpClient { BaseAddress = running.Member.ClientUrls[0] };

        Assert.Equal("{\"health\":\"true\",\"reason\":\"\"}", await http.GetStringAsync("/health"));
        string metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("etcd_server_has_leader 1", metrics);
        Assert.Matches(@"etcd_disk_wal_fsync_duration_seconds_count [1-9]", metrics);
        Assert.Matches(@"etcd_disk_backend_commit_duration_seconds_count [1-9]", metrics);
        Assert.Matches(@"etcd_mvcc_db_total_size_in_bytes [1-9]", metrics);
    }

    [Fact]
    public async Task AStoppedMemberCompletesAndNoLongerServes()
    {
        RunningMember running = await RunningMember.StartAsync();
        try
        {
            await running.Member.StopAsync();
            await running.Member.Completion;
            await Assert.ThrowsAnyAsync<Exception>(() => running.Client.KV.PutAsync("a", "1", call: new EtcdCallOptions { Timeout = TimeSpan.FromSeconds(2) }));
        }
        finally
        {
            await running.DisposeAsync();
        }
    }
}
