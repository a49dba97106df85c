using Dotcd.Grpc;
using Dotcd.Server.Metrics;
using Dotcd.Server.RaftLoop;

namespace Dotcd.Server.Tests.Metrics;

public sealed class EtcdMetricsTests
{
    private static EtcdMetricSources Sources(DurationHistogram fsyncs, bool hasLeader = true) => new()
    {
        MemberId = 0x8e9e05c52164694d,
        HasLeader = () => hasLeader,
        IsLeader = () => hasLeader,
        LeaderChangesSeen = () => 1,
        ProposalsCommitted = () => 1234567,
        ProposalsApplied = () => 1234560,
        ProposalsPending = () => 2,
        ProposalsFailed = () => 0,
        WalFsyncDurations = () => EtcdMetricSources.Snapshot(fsyncs),
        DbTotalSizeBytes = () => 20480,
        DbTotalSizeInUseBytes = () => 16384,
    };

    [Fact]
    public void TheContractsMetricNamesAreExposedWithEtcdsHelpAndTypes()
    {
        var registry = new MetricsRegistry();
        var fsyncs = DurationHistogram.ForWalFsync();
        fsyncs.Observe(TimeSpan.FromMilliseconds(3));
        fsyncs.Observe(TimeSpan.FromMilliseconds(20));
        EtcdMetrics metrics = EtcdMetrics.Register(registry, Sources(fsyncs));
        metrics.BackendCommitDurations.Observe(TimeSpan.FromMilliseconds(1));

        Dictionary<string, ParsedFamily> families = Exposition.Parse(registry.Expose());

        // Names, HELP texts and types as a real etcd 3.4.23 serves them.
        (string Name, string Type, string Help)[] expected =
        [
            ("etcd_server_has_leader", "gauge", "Whether or not a leader exists. 1 is existence, 0 is not."),
            ("etcd_server_leader_changes_seen_total", "counter", "The number of leader changes seen."),
            ("etcd_server_proposals_committed_total", "gauge", "The total number of consensus proposals committed."),
            ("etcd_server_proposals_applied_total", "gauge", "The total number of consensus proposals applied."),
            ("etcd_server_proposals_pending", "gauge", "The current number of pending proposals to commit."),
            ("etcd_server_proposals_failed_total", "counter", "The total number of failed proposals seen."),
            ("etcd_disk_wal_fsync_duration_seconds", "histogram", "The latency distributions of fsync called by WAL."),
            ("etcd_disk_backend_commit_duration_seconds", "histogram", "The latency distributions of commit called by backend."),
            ("etcd_mvcc_db_total_size_in_bytes", "gauge", "Total size of the underlying database physically allocated in bytes."),
            ("etcd_mvcc_db_total_size_in_use_in_bytes", "gauge", "Total size of the underlying database logically in use in bytes."),
            ("etcd_server_id", "gauge", "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID."),
            ("etcd_server_version", "gauge", "Which version is running. 1 for 'server_version' label with current version."),
        ];
        foreach ((string name, string type, string help) in expected)
        {
            Assert.True(families.TryGetValue(name, out ParsedFamily? family), $"{name} is missing");
            Assert.Equal(type, family.Type);
            Assert.Equal(help, family.Help);
        }

        Assert.Equal(1, families["etcd_server_has_leader"].Samples[0].Value);
        Assert.Equal(1234567, families["etcd_server_proposals_committed_total"].Samples[0].Value);
        Assert.Equal("8e9e05c52164694d", Assert.Single(families["etcd_server_id"].Samples).Label("server_id"));
        Assert.Equal("3.6.0", Assert.Single(families["etcd_server_version"].Samples).Label("server_version"));
        Assert.Equal("3.6", Assert.Single(families["etcd_cluster_version"].Samples).Label("cluster_version"));
        Assert.Equal(2147483648, families["etcd_server_quota_backend_bytes"].Samples[0].Value);
        Assert.Equal(20480, families["etcd_mvcc_db_total_size_in_bytes"].Samples[0].Value);
        Assert.DoesNotContain("etcd_network_peer_round_trip_time_seconds", families.Keys); // No peers yet: no series.

        ParsedFamily wal = families["etcd_disk_wal_fsync_duration_seconds"];
        Exposition.AssertWellFormedHistogram(wal);
        Assert.Equal(15, wal.Samples.Count(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal))); // 0.001 * 2^0..13, then +Inf.
        Assert.Equal(1, wal.Samples.Single(s => s.Label("le") == "0.004").Value);
        Assert.Equal(2, wal.Samples.Single(s => s.Label("le") == "0.032").Value);
        Assert.Equal(0.023, wal.Samples.Single(s => s.Name.EndsWith("_sum", StringComparison.Ordinal)).Value, 9);
        Exposition.AssertWellFormedHistogram(families["etcd_disk_backend_commit_duration_seconds"]);
    }

    [Fact]
    public void HasLeaderFollowsTheSourceAtEachScrape()
    {
        var registry = new MetricsRegistry();
        bool leader = false;
        EtcdMetrics.Register(registry, Sources(DurationHistogram.ForWalFsync()) with { HasLeader = () => leader });
        Assert.Equal(0, Exposition.Parse(registry.Expose())["etcd_server_has_leader"].Samples[0].Value);
        leader = true;
        Assert.Equal(1, Exposition.Parse(registry.Expose())["etcd_server_has_leader"].Samples[0].Value);
    }

    [Fact]
    public void GrpcCountersStartAtZeroForEveryCodeAndCountCalls()
    {
        var registry = new MetricsRegistry();
        var metrics = new GrpcServerMetrics(registry);
        GrpcServerHostBuilder builder = GrpcServerHost.CreateBuilder();
        GrpcMethod range = builder.Methods.AddUnary("/etcdserverpb.KV/Range", _ => default);
        GrpcMethod watch = builder.Methods.AddDuplexStreaming("/etcdserverpb.Watch/Watch", _ => default);
        metrics.Initialize(builder.Methods.Methods);

        metrics.OnCallStarted(range);
        metrics.OnMessageReceived(range);
        metrics.OnMessageSent(range);
        metrics.OnCallCompleted(range, StatusCode.OK, TimeSpan.FromMilliseconds(1));
        metrics.OnCallStarted(watch);
        metrics.OnCallCompleted(watch, StatusCode.Cancelled, TimeSpan.FromSeconds(1));

        Dictionary<string, ParsedFamily> families = Exposition.Parse(registry.Expose());
        ParsedFamily handled = families["grpc_server_handled_total"];
        Assert.Equal(2 * 17, handled.Samples.Count); // Every code of every method, zero until seen.
        Sample rangeOk = handled.Samples.Single(s => s.Label("grpc_method") == "Range" && s.Label("grpc_code") == "OK");
        Assert.Equal(1, rangeOk.Value);
        Assert.Equal("unary", rangeOk.Label("grpc_type"));
        Assert.Equal("etcdserverpb.KV", rangeOk.Label("grpc_service"));
        // Go spells it "Canceled"; the stream type is bidi_stream.
        Sample watchCanceled = handled.Samples.Single(s => s.Label("grpc_method") == "Watch" && s.Label("grpc_code") == "Canceled");
        Assert.Equal(1, watchCanceled.Value);
        Assert.Equal("bidi_stream", watchCanceled.Label("grpc_type"));
        Assert.Equal(0, handled.Samples.Single(s => s.Label("grpc_method") == "Range" && s.Label("grpc_code") == "Unavailable").Value);
        Assert.Equal(1, families["grpc_server_started_total"].Samples.Single(s => s.Label("grpc_method") == "Range").Value);
        Assert.Equal(1, families["grpc_server_msg_received_total"].Samples.Single(s => s.Label("grpc_method") == "Range").Value);
        Assert.Equal(1, families["grpc_server_msg_sent_total"].Samples.Single(s => s.Label("grpc_method") == "Range").Value);
        Assert.Contains(
            "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 1\n",
            registry.Expose());
    }
}
