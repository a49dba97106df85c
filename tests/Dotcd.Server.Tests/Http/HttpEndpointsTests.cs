using System.IO.Compression;
using System.Net;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Server.Http;
using Dotcd.Server.Metrics;
using Dotcd.Server.RaftLoop;
using Dotcd.Server.Tests.Metrics;

namespace Dotcd.Server.Tests.Http;

/// <summary>Health inputs the test sets directly (the HTTP layer is under test, not the member).</summary>
internal sealed class SettableMemberHealth : IMemberHealth
{
    public bool HasLeader { get; set; } = true;

    public bool IsLearner { get; set; }

    public List<AlarmMember> ActiveAlarms { get; } = [];

    /// <summary>Thrown by the probe read; null: reads succeed.</summary>
    public Exception? ReadError { get; set; }

    /// <summary>Thrown only by linearizable probe reads.</summary>
    public Exception? LinearizableReadError { get; set; }

    public List<bool> Reads { get; } = [];

    public IReadOnlyList<AlarmMember> Alarms() => ActiveAlarms;

    public Task CheckReadAsync(bool serializable, CancellationToken cancellationToken)
    {
        lock (Reads)
        {
            Reads.Add(serializable);
        }

        Exception? error = ReadError ?? (serializable ? null : LinearizableReadError);
        return error is null ? Task.CompletedTask : Task.FromException(error);
    }
}

public sealed class HttpEndpointsTests : IAsyncLifetime
{
    private readonly SettableMemberHealth _member = new();
    private readonly MetricsRegistry _registry = new();
    private GrpcServerHost? _host;
    private HttpClient? _client;
    private EtcdMetrics? _metrics;

    public async Task InitializeAsync()
    {
        _metrics = EtcdMetrics.Register(_registry, new EtcdMetricSources
        {
            MemberId = 42,
            HasLeader = () => _member.HasLeader,
            IsLeader = () => _member.HasLeader,
            LeaderChangesSeen = () => 1,
            ProposalsCommitted = () => 5,
            ProposalsApplied = () => 5,
            ProposalsPending = () => 0,
            ProposalsFailed = () => 0,
            WalFsyncDurations = () => EtcdMetricSources.Snapshot(DurationHistogram.ForWalFsync()),
            DbTotalSizeBytes = () => 20480,
            DbTotalSizeInUseBytes = () => 16384,
        });
        GrpcServerHostBuilder builder = GrpcServerHost.CreateBuilder().Listen("http://127.0.0.1:0");
        builder.MapEtcdHttpEndpoints(new HttpEndpointOptions
        {
            Health = _member,
            Registry = _registry,
            Metrics = _metrics,
            RequestTimeout = TimeSpan.FromSeconds(2),
        });
        _host = builder.Build();
        await _host.StartAsync();
        _client = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = _host.Urls[0],
        };
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    private async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> GetAsync(string path)
    {
        HttpResponseMessage response = await _client!.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    [Fact]
    public async Task HealthyMemberAnswersHealthTrue()
    {
        (HttpStatusCode status, string body, HttpResponseMessage response) = await GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("{\"health\":\"true\",\"reason\":\"\"}", body);
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal([false], _member.Reads); // The probe read is linearizable by default.
        Assert.Equal(1, _metrics!.HealthSuccess.Value);
    }

    [Fact]
    public async Task NoLeaderIsUnhealthyUnlessTheProbeIsSerializable()
    {
        _member.HasLeader = false;
        (HttpStatusCode status, string body, HttpResponseMessage response) = await GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("{\"health\":\"false\",\"reason\":\"RAFT NO LEADER\"}\n", body);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Empty(_member.Reads); // etcd stops at the first failed check.
        Assert.Equal(1, _metrics!.HealthFailures.Value);

        (status, body, _) = await GetAsync("/health?serializable=true");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("{\"health\":\"true\",\"reason\":\"\"}", body);
        Assert.Equal([true], _member.Reads);
    }

    [Fact]
    public async Task AnActiveAlarmIsUnhealthyUnlessExcluded()
    {
        _member.ActiveAlarms.Add(new AlarmMember { MemberID = 42, Alarm = AlarmType.Nospace });
        (HttpStatusCode status, string body, _) = await GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("{\"health\":\"false\",\"reason\":\"ALARM NOSPACE\"}\n", body);

        (status, body, _) = await GetAsync("/health?exclude=NOSPACE");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("{\"health\":\"true\",\"reason\":\"\"}", body);

        _member.ActiveAlarms.Add(new AlarmMember { MemberID = 42, Alarm = AlarmType.Corrupt });
        (status, body, _) = await GetAsync("/health?exclude=NOSPACE");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("{\"health\":\"false\",\"reason\":\"ALARM CORRUPT\"}\n", body);
    }

    [Fact]
    public async Task AFailingProbeReadIsARangeError()
    {
        _member.ReadError = EtcdServerError.Timeout.ToException();
        (HttpStatusCode status, string body, _) = await GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("{\"health\":\"false\",\"reason\":\"RANGE ERROR:etcdserver: request timed out\"}\n", body);
    }

    [Fact]
    public async Task OnlyGetIsAllowed()
    {
        foreach (string path in new[] { "/health", "/livez", "/readyz", "/version" })
        {
            HttpResponseMessage response = await _client!.PostAsync(path, new StringContent(""));
            Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
            Assert.Equal("GET", response.Content.Headers.Allow.Single());
            Assert.Equal("Method Not Allowed\n", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task VersionReportsTheEtcdVersionDotcdIsCompatibleWith()
    {
        (HttpStatusCode status, string body, HttpResponseMessage response) = await GetAsync("/version");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("{\"etcdserver\":\"3.6.0\",\"etcdcluster\":\"3.6.0\"}", body);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task LivezAndReadyzSayOkAndListChecksWhenVerbose()
    {
        Assert.Equal((HttpStatusCode.OK, "ok\n"), Pick(await GetAsync("/livez")));
        Assert.Equal((HttpStatusCode.OK, "[+]serializable_read ok\nok\n"), Pick(await GetAsync("/livez?verbose")));
        Assert.Equal(
            (HttpStatusCode.OK, "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n[+]non_learner ok\nok\n"),
            Pick(await GetAsync("/readyz?verbose")));
        Assert.Equal((HttpStatusCode.OK, "[+]non_learner ok\nok\n"), Pick(await GetAsync("/readyz/non_learner?verbose")));
    }

    [Fact]
    public async Task ReadyzFailsWithTheReasonOfEachFailedCheck()
    {
        _member.LinearizableReadError = new GrpcStatusException(StatusCode.Unavailable, "etcdserver: leader changed");
        _member.IsLearner = true;
        (HttpStatusCode status, string body) = Pick(await GetAsync("/readyz"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(
            "[+]data_corruption ok\n[+]serializable_read ok\n[-]linearizable_read failed: etcdserver: leader changed\n"
            + "[-]non_learner failed: not supported for learner\n\n",
            body);

        // Livez only reads serializably: still alive. Excluding the failed checks makes readyz pass.
        Assert.Equal((HttpStatusCode.OK, "ok\n"), Pick(await GetAsync("/livez")));
        Assert.Equal((HttpStatusCode.OK, "ok\n"), Pick(await GetAsync("/readyz?exclude=linearizable_read&exclude=non_learner")));

        _member.ActiveAlarms.Add(new AlarmMember { MemberID = 42, Alarm = AlarmType.Corrupt });
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "[-]data_corruption failed: alarm activated: CORRUPT\n\n"),
            Pick(await GetAsync("/readyz/data_corruption")));

        ParsedFamily checks = Exposition.Parse(_registry.Expose())["etcd_server_healthcheck"];
        Assert.Equal(0, checks.Samples.Single(s => s.Label("type") == "readyz" && s.Label("name") == "data_corruption").Value);
        Assert.Equal(1, checks.Samples.Single(s => s.Label("type") == "livez" && s.Label("name") == "serializable_read").Value);
    }

    [Fact]
    public async Task MetricsAreServedInTheTextFormatPlainOrGzipped()
    {
        (HttpStatusCode status, string body, HttpResponseMessage response) = await GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Dictionary<string, ParsedFamily> families = Exposition.Parse(body);
        Assert.Equal(1, families["etcd_server_has_leader"].Samples[0].Value);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.AcceptEncoding.ParseAdd("gzip");
        HttpResponseMessage zipped = await _client!.SendAsync(request);
        Assert.Equal("gzip", zipped.Content.Headers.ContentEncoding.Single());
        await using var unzip = new GZipStream(await zipped.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
        string text = await new StreamReader(unzip).ReadToEndAsync();
        Assert.Contains("# TYPE etcd_server_has_leader gauge\n", text);
    }

    private static (HttpStatusCode, string) Pick((HttpStatusCode Status, string Body, HttpResponseMessage _) r) => (r.Status, r.Body);
}
