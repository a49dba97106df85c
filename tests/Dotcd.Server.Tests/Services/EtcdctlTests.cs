using System.Diagnostics;
using System.Text.Json;
using Dotcd.Server.RaftLoop;

namespace Dotcd.Server.Tests.Services;

/// <summary>
/// The real etcdctl (etcd 3.4's, /usr/bin/etcdctl, or $DOTCD_ETCDCTL) against the services on a
/// real single member: what an operator would type.
/// </summary>
public sealed class EtcdctlTests : IAsyncLifetime
{
    private static readonly string s_etcdctl = Environment.GetEnvironmentVariable("DOTCD_ETCDCTL") ?? "/usr/bin/etcdctl";

    private TestMember _member = null!;

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(s_etcdctl), $"etcdctl not found at {s_etcdctl} (install etcd-client or set DOTCD_ETCDCTL)");
        _member = await TestMember.StartAsync();
    }

    public async Task DisposeAsync() => await _member.DisposeAsync();

    private async Task<(int ExitCode, string Stdout, string Stderr)> EtcdctlAsync(string? stdin, params string[] args)
    {
        var start = new ProcessStartInfo(s_etcdctl)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--endpoints=" + _member.Endpoint);
        start.ArgumentList.Add("--command-timeout=15s");
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["ETCDCTL_API"] = "3";
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            Assert.Fail($"etcdctl {string.Join(' ', args)} did not finish in 30 s");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    private async Task<string> OkAsync(params string[] args)
    {
        (int exitCode, string stdout, string stderr) = await EtcdctlAsync(null, args);
        Assert.True(exitCode == 0, $"etcdctl {string.Join(' ', args)} exited {exitCode}: {stderr}");
        return stdout;
    }

    [Fact]
    public async Task EndpointHealthStatusAndMemberListWork()
    {
        // etcdctl 3.4 prints the health line on stderr.
        (int exitCode, string stdout, string stderr) = await EtcdctlAsync(null, "endpoint", "health");
        Assert.Equal(0, exitCode);
        Assert.Equal("", stdout);
        Assert.StartsWith($"{_member.Endpoint} is healthy: successfully committed proposal: took = ", stderr);

        using JsonDocument status = JsonDocument.Parse(await OkAsync("endpoint", "status", "-w", "json"));
        JsonElement entry = status.RootElement[0];
        Assert.Equal(_member.Endpoint, entry.GetProperty("Endpoint").GetString());
        JsonElement s = entry.GetProperty("Status");
        Assert.Equal("3.6.0", s.GetProperty("version").GetString());
        Assert.Equal(_member.Raft.MemberId, s.GetProperty("leader").GetUInt64());
        Assert.Equal(_member.Raft.MemberId, s.GetProperty("header").GetProperty("member_id").GetUInt64());
        Assert.Equal(_member.Raft.ClusterId, s.GetProperty("header").GetProperty("cluster_id").GetUInt64());
        Assert.True(s.GetProperty("dbSize").GetInt64() > 0);

        string members = await OkAsync("member", "list");
        Assert.Equal($"{MemberIds.ToHex(_member.Raft.MemberId)}, started, default, http://localhost:2380, {_member.Url.ToString().TrimEnd('/')}, false\n",
            members);
    }

    [Fact]
    public async Task PutGetTxnDeleteAndCompactBehaveAsOnEtcd()
    {
        Assert.Equal("OK\n", await OkAsync("put", "foo", "bar"));
        Assert.Equal("foo\nbar\n", await OkAsync("get", "foo"));
        Assert.Equal("bar\n", await OkAsync("get", "foo", "--print-value-only", "--consistency=s"));

        using (JsonDocument get = JsonDocument.Parse(await OkAsync("get", "foo", "-w", "json")))
        {
            JsonElement kv = get.RootElement.GetProperty("kvs")[0];
            Assert.Equal("Zm9v", kv.GetProperty("key").GetString()); // base64("foo")
            Assert.Equal("YmFy", kv.GetProperty("value").GetString());
            Assert.Equal(2, kv.GetProperty("create_revision").GetInt64());
            Assert.Equal(2, get.RootElement.GetProperty("header").GetProperty("revision").GetInt64());
        }

        (int exitCode, string stdout, string stderr) = await EtcdctlAsync("mod(\"k\") = \"0\"\n\nput k v\n\n\n", "txn");
        Assert.True(exitCode == 0, stderr);
        Assert.Equal("SUCCESS\n\nOK\n", stdout);

        Assert.Equal("1\n", await OkAsync("del", "foo"));
        Assert.Equal("", await OkAsync("get", "foo"));
        Assert.Equal("compacted revision 3\n", await OkAsync("compaction", "3"));

        (exitCode, _, stderr) = await EtcdctlAsync(null, "get", "foo", "--rev=2");
        Assert.Equal(1, exitCode);
        Assert.Contains("Error: etcdserver: mvcc: required revision has been compacted", stderr);
    }

    [Fact]
    public async Task MaintenanceCommandsWork()
    {
        await OkAsync("put", "a", "1");
        string file = Path.Combine(Path.GetTempPath(), "dotcd-services-tests", $"snapshot-{Guid.NewGuid():N}.db");
        try
        {
            string saved = await OkAsync("snapshot", "save", file);
            Assert.Equal($"Snapshot saved at {file}\n", saved);
            Assert.Equal(32, new FileInfo(file).Length % 512); // The backend's whole pages plus the sha256 etcdctl appends.
        }
        finally
        {
            File.Delete(file);
        }

        Assert.Equal($"Finished defragmenting etcd member[{_member.Endpoint}]\n", await OkAsync("defrag"));
        Assert.Equal("", await OkAsync("alarm", "list"));

        using (JsonDocument hashkv = JsonDocument.Parse(await OkAsync("endpoint", "hashkv", "-w", "json")))
        {
            uint hash = hashkv.RootElement[0].GetProperty("HashKV").GetProperty("hash").GetUInt32();
            Assert.Equal(_member.Store.HashKV(0).Hash, hash);
        }

        string self = MemberIds.ToHex(_member.Raft.MemberId);
        Assert.Equal($"Leadership transferred from {self} to {self}\n", await OkAsync("move-leader", self));

        (int exitCode, _, string stderr) = await EtcdctlAsync(null, "lease", "grant", "10");
        Assert.Equal(1, exitCode);
        Assert.Contains("dotcd: leases (etcdserverpb.Lease/LeaseGrant) is not implemented yet", stderr);
    }
}
