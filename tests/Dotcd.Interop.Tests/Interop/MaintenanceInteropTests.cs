using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Dotcd.Interop.Tests.Harness;
using static Dotcd.Interop.Tests.Interop.EtcdctlJson;

namespace Dotcd.Interop.Tests.Interop;

/// <summary>Compaction, cluster and maintenance commands of the real etcdctl against a member.</summary>
public sealed class MaintenanceInteropTests
{
    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task CompactionMakesEarlierRevisionsUnreadable(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        var revisions = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            revisions.Add(Revision(Parse(await ctl.RunOkAsync("put", "/c", $"v{i}", "-w", "json"))));
        }

        Assert.Equal($"compacted revision {revisions[2]}\n", await ctl.RunOkAsync("compact", $"{revisions[2]}"));

        EtcdctlResult old = await ctl.RunAsync("get", "/c", "--rev", $"{revisions[1]}");
        Assert.Equal(1, old.ExitCode);
        Assert.Contains("Error: etcdserver: mvcc: required revision has been compacted\n", old.Stderr);
        Assert.Equal("/c\nv2\n", await ctl.RunOkAsync("get", "/c", "--rev", $"{revisions[2]}")); // The compaction revision itself stays.
        Assert.Equal("/c\nv4\n", await ctl.RunOkAsync("get", "/c"));

        EtcdctlResult again = await ctl.RunAsync("compact", $"{revisions[1]}");
        Assert.Contains("Error: etcdserver: mvcc: required revision has been compacted\n", again.Stderr);
        EtcdctlResult future = await ctl.RunAsync("compact", $"{revisions[4] + 10}");
        Assert.Contains("Error: etcdserver: mvcc: required revision is a future revision\n", future.Stderr);

        Assert.Equal($"compacted revision {revisions[4]}\n", await ctl.RunOkAsync("compact", $"{revisions[4]}", "--physical"));
        Assert.Equal("/c\nv4\n", await ctl.RunOkAsync("get", "/c"));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task EndpointHealthAndStatusDescribeTheMember(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        string id = await MemberIdHexAsync(member);
        await ctl.RunOkAsync("put", "/k", "v");

        EtcdctlResult health = await ctl.RunAsync("endpoint", "health");
        Assert.Equal(0, health.ExitCode);
        Assert.StartsWith($"{member.Endpoint} is healthy: successfully committed proposal: took = ", health.Stderr);

        EtcdctlTable healthTable = EtcdctlTable.Parse(await ctl.RunOkAsync("endpoint", "health", "-w", "table"));
        Assert.Equal(["ENDPOINT", "HEALTH", "TOOK", "ERROR"], healthTable.Header);
        Assert.Equal((member.Endpoint, "true", ""), (healthTable.Cell(0, "ENDPOINT"), healthTable.Cell(0, "HEALTH"), healthTable.Cell(0, "ERROR")));

        EtcdctlTable status = EtcdctlTable.Parse(await ctl.RunOkAsync("endpoint", "status", "-w", "table"));
        Assert.Equal(
            ["ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS"],
            status.Header);
        Assert.Single(status.Rows);
        Assert.Equal(member.Endpoint, status.Cell(0, "ENDPOINT"));
        Assert.Equal(id, status.Cell(0, "ID"));
        Assert.Matches(@"^3\.\d+\.\d+$", status.Cell(0, "VERSION"));
        Assert.Matches(@"^\d+(\.\d+)? [kMG]?B$", status.Cell(0, "DB SIZE"));
        Assert.Equal(("true", "false", ""), (status.Cell(0, "IS LEADER"), status.Cell(0, "IS LEARNER"), status.Cell(0, "ERRORS")));
        Assert.True(long.Parse(status.Cell(0, "RAFT TERM"), CultureInfo.InvariantCulture) >= 1);
        long index = long.Parse(status.Cell(0, "RAFT INDEX"), CultureInfo.InvariantCulture);
        long applied = long.Parse(status.Cell(0, "RAFT APPLIED INDEX"), CultureInfo.InvariantCulture);
        Assert.InRange(applied, 1, index);

        JsonNode json = Parse(await ctl.RunOkAsync("endpoint", "status", "-w", "json"))[0]!;
        JsonNode statusJson = json["Status"]!;
        Assert.Equal(member.Endpoint, json["Endpoint"]!.GetValue<string>());
        Assert.Equal(statusJson["header"]!["member_id"]!.GetValue<ulong>(), statusJson["leader"]!.GetValue<ulong>());
        Assert.Equal(2, Revision(statusJson));
        Assert.True(statusJson["dbSize"]!.GetValue<long>() > 0);
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task MemberListShowsTheOneStartedMember(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        string id = await MemberIdHexAsync(member);

        Assert.Equal($"{id}, started, {member.Name}, {member.PeerUrl}, {member.ClientUrl}, false\n", await ctl.RunOkAsync("member", "list"));

        EtcdctlTable table = EtcdctlTable.Parse(await ctl.RunOkAsync("member", "list", "-w", "table"));
        Assert.Equal(["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"], table.Header);
        Assert.Equal([id, "started", member.Name, member.PeerUrl, member.ClientUrl, "false"], table.Rows.Single());

        JsonNode json = Parse(await ctl.RunOkAsync("member", "list", "-w", "json"));
        JsonNode only = json["members"]!.AsArray().Single()!;
        Assert.Equal(json["header"]!["member_id"]!.GetValue<ulong>(), only["ID"]!.GetValue<ulong>());
        Assert.Equal(member.Name, only["name"]!.GetValue<string>());
        Assert.Equal([member.PeerUrl], only["peerURLs"]!.AsArray().Select(u => u!.GetValue<string>()));
        Assert.Equal([member.ClientUrl], only["clientURLs"]!.AsArray().Select(u => u!.GetValue<string>()));
        Assert.Null(only["isLearner"]); // false is omitted.
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task NoSpaceAlarmIsListedAndDisarmedAfterCleanup(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind, new MemberOptions { ExtraFlags = ["--quota-backend-bytes=300000"] });
        Etcdctl ctl = member.Etcdctl;
        string id = await MemberIdHexAsync(member);
        ulong memberId = ulong.Parse(id, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.Equal("", await ctl.RunOkAsync("alarm", "list"));

        // 50 kB values until the quota refuses one (a bounded number of tries).
        string value = new('b', 50_000);
        EtcdctlResult refused = await ctl.RunAsync(["put", "/fill/0"], value);
        for (int i = 1; refused.ExitCode == 0 && i < 40; i++)
        {
            refused = await ctl.RunAsync([$"put", $"/fill/{i}"], value);
        }

        Assert.Contains("Error: etcdserver: mvcc: database space exceeded\n", refused.Stderr);
        Assert.Equal($"memberID:{memberId} alarm:NOSPACE \n", await ctl.RunOkAsync("alarm", "list"));
        JsonNode alarms = Parse(await ctl.RunOkAsync("alarm", "list", "-w", "json"));
        Assert.Equal(memberId, alarms["alarms"]![0]!["memberID"]!.GetValue<ulong>());
        Assert.Contains("alarm:NOSPACE", await ctl.RunOkAsync("endpoint", "status"));
        Assert.Contains("database space exceeded", (await ctl.RunAsync("put", "/small", "x")).Stderr);

        // etcd's documented way out: free space, compact, defrag, disarm.
        await ctl.RunOkAsync("del", "/fill/", "--prefix");
        await ctl.RunOkAsync("compact", $"{await CurrentRevisionAsync(member)}", "--physical");
        await ctl.RunOkAsync("defrag");
        string disarmed = await ctl.RunOkAsync("alarm", "disarm");
        Assert.True(disarmed == "" || disarmed == $"memberID:{memberId} alarm:NOSPACE \n", disarmed);
        Assert.Equal("", await ctl.RunOkAsync("alarm", "list"));
        Assert.Equal("OK\n", await ctl.RunOkAsync("put", "/small", "x"));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task DefragKeepsEveryKey(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        string puts = string.Concat(Enumerable.Range(0, 100).Select(i => $"put /g/{i:D3} {new string('v', 1000)}\n"));
        Assert.Equal(0, (await ctl.RunAsync(["txn"], "\n" + puts + "\n\n")).ExitCode);
        Assert.Equal("50\n", await ctl.RunOkAsync("del", "/g/000", "/g/050"));
        long revision = await CurrentRevisionAsync(member);
        await ctl.RunOkAsync("compact", $"{revision}", "--physical");

        Assert.Equal($"Finished defragmenting etcd member[{member.Endpoint}]\n", await ctl.RunOkAsync("defrag"));

        JsonNode left = Parse(await ctl.RunOkAsync("get", "/g/", "--prefix", "-w", "json"));
        Assert.Equal(50, left["count"]!.GetValue<long>());
        Assert.Equal("/g/050", Key(Kvs(left)[0]!));
        Assert.Equal(revision, Revision(left));
        Assert.Equal("OK\n", await ctl.RunOkAsync("put", "/after", "defrag"));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task SnapshotSaveWritesTheDatabaseFollowedByItsSha256(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        await PutTenKeysAsync(member);

        Assert.Equal("Snapshot saved at backup.db\n", await member.Etcdctl.RunOkAsync("snapshot", "save", "backup.db"));
        // The file is the backend database followed by the SHA-256 of it, which `snapshot restore`
        // finds (length % 512 == 32) and checks.
        byte[] file = await File.ReadAllBytesAsync(Path.Combine(member.WorkDir, "backup.db"));
        Assert.True(file.Length > 512, $"{file.Length} bytes");
        Assert.Equal(32, file.Length % 512);
        Assert.Equal(SHA256.HashData(file.AsSpan(0, file.Length - 32)), file.AsSpan(file.Length - 32).ToArray());
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task SnapshotStatusReadsASavedSnapshot(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        await PutTenKeysAsync(member);
        long revision = await CurrentRevisionAsync(member);
        await member.Etcdctl.RunOkAsync("snapshot", "save", "backup.db");
        long saved = new FileInfo(Path.Combine(member.WorkDir, "backup.db")).Length;

        EtcdctlResult status = await Etcdctl.RunOfflineAsync(["snapshot", "status", "backup.db", "-w", "json"], member.WorkDir);
        Assert.True(status.ExitCode == 0, status.ToString());
        JsonNode json = Parse(status.Stdout);
        Assert.Equal(revision, json["revision"]!.GetValue<long>());
        Assert.True(json["totalKey"]!.GetValue<long>() >= 10);
        Assert.InRange(json["totalSize"]!.GetValue<long>(), 1, saved - 32);

        EtcdctlTable table = EtcdctlTable.Parse((await Etcdctl.RunOfflineAsync(["snapshot", "status", "backup.db", "-w", "table"], member.WorkDir)).Stdout);
        Assert.Equal(["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"], table.Header);
        Assert.Equal($"{revision}", table.Cell(0, "REVISION"));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task EtcdRestoredFromASavedSnapshotServesTheSameKeysAndRevision(MemberKind kind)
    {
        // A backup script: `snapshot save` from the member, `snapshot restore`, a real etcd on it.
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        await PutTenKeysAsync(member);
        await member.Etcdctl.RunOkAsync("del", "/snap/3");
        await member.Etcdctl.RunOkAsync("compact", "5");
        JsonNode before = Parse(await member.Etcdctl.RunOkAsync("get", "/snap/", "--prefix", "-w", "json"));
        await member.Etcdctl.RunOkAsync("snapshot", "save", "backup.db");

        using MemberProcess etcd = await MemberProcess.StartAsync(MemberKind.Etcd);
        await etcd.StopAsync();
        Directory.Delete(etcd.DataDir, recursive: true);
        EtcdctlResult restore = await Etcdctl.RunOfflineAsync(
            ["snapshot", "restore", Path.Combine(member.WorkDir, "backup.db"), "--data-dir", etcd.DataDir, "--name", etcd.Name,
             "--initial-cluster", $"{etcd.Name}={etcd.PeerUrl}", "--initial-advertise-peer-urls", etcd.PeerUrl],
            member.WorkDir);
        Assert.True(restore.ExitCode == 0, restore.ToString());
        await etcd.RestartAsync();

        JsonNode after = Parse(await etcd.Etcdctl.RunOkAsync("get", "/snap/", "--prefix", "-w", "json"));
        Assert.Equal(Revision(before), Revision(after));
        Assert.Equal(
            Kvs(before).Select(kv => kv!.ToJsonString()),
            Kvs(after).Select(kv => kv!.ToJsonString()));
        EtcdctlResult compacted = await etcd.Etcdctl.RunAsync("get", "/snap/", "--prefix", "--rev", "4");
        Assert.Contains("required revision has been compacted", compacted.Stderr);
        Assert.Equal("/snap/1\nvalue 1\n", await etcd.Etcdctl.RunOkAsync("get", "/snap/1", "--rev", "5"));
    }

    // The dotcd row runs in the default suite (issue #2 asks for `check perf --load=s` passing);
    // the etcd row is the same minute again and only shows the machine can pass it at all.
    [Fact]
    public Task CheckPerfPassesWithTheSmallLoadAgainstDotcd() => CheckPerfPassesWithTheSmallLoad(MemberKind.Dotcd);

    [SlowFact]
    public Task CheckPerfPassesWithTheSmallLoadAgainstEtcd() => CheckPerfPassesWithTheSmallLoad(MemberKind.Etcd);

    private static async Task CheckPerfPassesWithTheSmallLoad(MemberKind kind)
    {
        // About 60 s of writes from etcdctl itself; it reports PASS/FAIL for throughput and latency.
        // On a loaded machine etcd itself may fail it: a FAIL here says "the machine", not only "the server".
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        EtcdctlResult result = await member.Etcdctl.RunAsync(["check", "perf", "--load=s"], timeout: TimeSpan.FromSeconds(240));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("PASS: Throughput", result.Stdout);
        Assert.Contains("PASS: Slowest request", result.Stdout);
        Assert.Contains("PASS: Stddev", result.Stdout);
        Assert.EndsWith("PASS\n", result.Stdout);
    }

    private static async Task PutTenKeysAsync(MemberProcess member)
    {
        for (int i = 0; i < 10; i++)
        {
            await member.Etcdctl.RunOkAsync("put", $"/snap/{i}", $"value {i}");
        }
    }
}
