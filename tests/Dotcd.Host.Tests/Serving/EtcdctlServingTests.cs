using System.Text;
using System.Text.Json;

namespace Dotcd.Host.Tests.Serving;

/// <summary>One dotcd process shared by the tests of a class (each test uses keys of its own).</summary>
public sealed class SharedDotcd : IAsyncLifetime
{
    internal DotcdProcess Process { get; } = new();

    public Task InitializeAsync() => Process.StartAsync();

    public Task DisposeAsync()
    {
        Process.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>The real etcdctl 3.4, unchanged, against the dotcd executable started with etcd's flags.</summary>
public sealed class EtcdctlServingTests(SharedDotcd shared) : IClassFixture<SharedDotcd>
{
    private readonly DotcdProcess _dotcd = shared.Process;

    [Fact]
    public async Task PutGetAndDelWorkAsWithEtcd()
    {
        Etcdctl ctl = _dotcd.Etcdctl;
        Assert.Equal("OK\n", (await ctl.OkAsync("put", "/app/a", "1")).StandardOutput);
        long created = (await ctl.OkAsync("get", "/app/a", "-w", "json")).Json.GetProperty("header").GetProperty("revision").GetInt64();
        await ctl.OkAsync("put", "/app/b", "2");
        await ctl.OkAsync("put", "/other", "3");

        Assert.Equal("/app/a\n1\n/app/b\n2\n", (await ctl.OkAsync("get", "--prefix", "/app/")).StandardOutput);
        JsonElement json = (await ctl.OkAsync("get", "--prefix", "/app/", "-w", "json")).Json;
        Assert.Equal(2, json.GetProperty("count").GetInt64());
        Assert.Equal(["/app/a", "/app/b"], json.GetProperty("kvs").EnumerateArray().Select(k => Base64(k.GetProperty("key"))));
        JsonElement first = json.GetProperty("kvs")[0];
        Assert.Equal(created, first.GetProperty("create_revision").GetInt64());
        Assert.Equal(created, first.GetProperty("mod_revision").GetInt64());
        Assert.Equal(1, first.GetProperty("version").GetInt64());
        Assert.Equal(created + 2, json.GetProperty("header").GetProperty("revision").GetInt64()); // One revision per put.

        Assert.Equal("2\n", (await ctl.OkAsync("del", "--prefix", "/app/")).StandardOutput);
        Assert.Equal("", (await ctl.OkAsync("get", "--prefix", "/app/")).StandardOutput);
    }

    [Fact]
    public async Task TxnFromStandardInputRunsTheBranchItsComparesChoose()
    {
        Etcdctl ctl = _dotcd.Etcdctl;
        await ctl.OkAsync("put", "flag", "on");
        string script = "value(\"flag\") = \"on\"\n\nput result yes\nget flag\n\nput result no\n\n";

        CtlResult txn = await ctl.RunAsync(["txn"], script);

        Assert.Equal(0, txn.ExitCode);
        Assert.Equal("SUCCESS\n\nOK\n\nflag\non\n", txn.StandardOutput);
        Assert.Equal("result\nyes\n", (await ctl.OkAsync("get", "result")).StandardOutput);
        CtlResult failed = await ctl.RunAsync(["txn", "-w", "json"], "value(\"flag\") = \"off\"\n\n\nput result no\n\n");
        Assert.Equal(0, failed.ExitCode);
        Assert.False(failed.Json.TryGetProperty("succeeded", out JsonElement succeeded) && succeeded.GetBoolean());
        Assert.Equal("result\nno\n", (await ctl.OkAsync("get", "result")).StandardOutput);
    }

    [Fact]
    public async Task CompactionMakesOldRevisionsUnreadableWithEtcdsError()
    {
        Etcdctl ctl = _dotcd.Etcdctl;
        long first = Revision(await ctl.OkAsync("put", "compacted", "1", "-w", "json"));
        long second = Revision(await ctl.OkAsync("put", "compacted", "2", "-w", "json"));
        string at = second.ToString(System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal($"compacted revision {at}\n", (await ctl.OkAsync("compaction", at)).StandardOutput);

        CtlResult old = await ctl.RunAsync(["get", "compacted", "--rev", first.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.NotEqual(0, old.ExitCode);
        Assert.Contains("Error: etcdserver: mvcc: required revision has been compacted", old.StandardError);
        Assert.Equal("compacted\n2\n", (await ctl.OkAsync("get", "compacted", "--rev", at)).StandardOutput);
    }

    [Fact]
    public async Task EndpointHealthStatusAndMemberListDescribeTheMember()
    {
        Etcdctl ctl = _dotcd.Etcdctl;

        Assert.StartsWith($"{_dotcd.Endpoint} is healthy: successfully committed proposal", (await ctl.OkAsync("endpoint", "health")).StandardError);

        JsonElement status = (await ctl.OkAsync("endpoint", "status", "-w", "json")).Json[0];
        Assert.Equal(_dotcd.Endpoint, status.GetProperty("Endpoint").GetString());
        JsonElement body = status.GetProperty("Status");
        ulong memberId = body.GetProperty("header").GetProperty("member_id").GetUInt64();
        Assert.Equal(memberId, body.GetProperty("leader").GetUInt64());
        Assert.Equal("3.6.0", body.GetProperty("version").GetString());
        Assert.True(body.GetProperty("dbSize").GetInt64() > 0);

        JsonElement list = (await ctl.OkAsync("member", "list", "-w", "json")).Json;
        JsonElement member = Assert.Single(list.GetProperty("members").EnumerateArray());
        Assert.Equal(memberId, member.GetProperty("ID").GetUInt64());
        Assert.Equal("serving", member.GetProperty("name").GetString());
        Assert.Equal([_dotcd.PeerUrl], member.GetProperty("peerURLs").EnumerateArray().Select(u => u.GetString()));
        Assert.Equal([_dotcd.ClientUrl], member.GetProperty("clientURLs").EnumerateArray().Select(u => u.GetString()));
    }

    [Fact]
    public async Task AlarmListDefragAndSnapshotSaveWork()
    {
        Etcdctl ctl = _dotcd.Etcdctl;
        await ctl.OkAsync("put", "backed-up", "v");

        Assert.Equal("", (await ctl.OkAsync("alarm", "list")).StandardOutput);
        Assert.Equal($"Finished defragmenting etcd member[{_dotcd.Endpoint}]\n", (await ctl.OkAsync("defrag")).StandardOutput);
        string file = Path.Combine(_dotcd.Root, $"backup-{Guid.NewGuid():N}.db");
        CtlResult save = await ctl.OkAsync("snapshot", "save", file);
        Assert.Equal($"Snapshot saved at {file}\n", save.StandardOutput);
        Assert.Equal(32, new FileInfo(file).Length % 512); // The backend pages plus the sha256 etcdctl checked.
    }

    [Fact]
    public void StartupLogsEtcdsMilestonesInOrder()
    {
        string[] messages = [.. _dotcd.LogLines.Select(l => l.GetProperty("msg").GetString()!)];
        string[] milestones =
        [
            "server configuration",
            "opened backend db",
            "starting local member",
            "published local member to cluster through raft",
            "enabled capabilities for version",
            "serving client traffic insecurely; this is strongly discouraged!",
            "ready to serve client requests",
        ];
        int[] positions = [.. milestones.Select(m => Array.IndexOf(messages, m))];
        Assert.All(positions, p => Assert.True(p >= 0, string.Join("\n", messages)));
        Assert.Equal(positions.Order(), positions);
        JsonElement insecure = _dotcd.LogLines.Single(l => l.GetProperty("msg").GetString() == "serving client traffic insecurely; this is strongly discouraged!");
        Assert.Equal(_dotcd.Endpoint, insecure.GetProperty("address").GetString());
    }

    private static long Revision(CtlResult put) => put.Json.GetProperty("header").GetProperty("revision").GetInt64();

    private static string Base64(JsonElement value) => Encoding.UTF8.GetString(Convert.FromBase64String(value.GetString()!));
}

/// <summary>Stopping and restarting the executable (a process of its own per test).</summary>
public sealed class DotcdStopTests
{
    [Fact]
    public async Task SigtermStopsTheMemberCleanlyAndARestartServesTheSameData()
    {
        using var dotcd = new DotcdProcess();
        await dotcd.StartAsync();
        await dotcd.Etcdctl.OkAsync("put", "kept", "1");

        int exit = await dotcd.StopAsync();

        Assert.Equal(0, exit);
        string[] messages = [.. dotcd.LogLines.Select(l => l.GetProperty("msg").GetString()!)];
        Assert.Contains("received signal; shutting down", messages);
        Assert.Equal("closed etcd server", messages[^1]);
        await dotcd.StartAsync();
        Assert.Equal("kept\n1\n", (await dotcd.Etcdctl.OkAsync("get", "kept")).StandardOutput);
    }
}
