using System.Text;
using System.Text.Json.Nodes;
using Dotcd.Interop.Tests.Harness;
using static Dotcd.Interop.Tests.Interop.EtcdctlJson;

namespace Dotcd.Interop.Tests.Interop;

/// <summary>`etcdctl txn` reading compares and ops from stdin, and leases.</summary>
public sealed class TxnInteropTests
{
    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task TxnFromStdinRunsTheKubernetesCreateUpdateAndDelete(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        const string Key = "/registry/configmaps/default/cm";

        // Create: only if absent (mod_revision 0), nothing on failure.
        JsonNode created = await TxnJsonAsync(member, [$"mod(\"{Key}\") = \"0\""], [$"put {Key} v1"], []);
        Assert.True(created["succeeded"]!.GetValue<bool>());
        long createdAt = Revision(created);
        Assert.Equal("FAILURE\n", await TxnAsync(member, [$"mod(\"{Key}\") = \"0\""], [$"put {Key} again"], []));

        // Update at the revision read; a stale revision fails and returns the current object.
        JsonNode updated = await TxnJsonAsync(member, [$"mod(\"{Key}\") = \"{createdAt}\""], [$"put {Key} v2"], [$"get {Key}"]);
        Assert.True(updated["succeeded"]!.GetValue<bool>());
        long updatedAt = Revision(updated);
        Assert.Equal(createdAt + 1, updatedAt);

        JsonNode stale = await TxnJsonAsync(member, [$"mod(\"{Key}\") = \"{createdAt}\""], [$"put {Key} v3"], [$"get {Key}"]);
        Assert.Null(stale["succeeded"]); // false is omitted in etcd's JSON.
        Assert.Equal(updatedAt, Revision(stale));
        JsonNode current = stale["responses"]![0]!["Response"]!["ResponseRange"]!;
        Assert.Equal(("v2", updatedAt, 2L), (Value(Kvs(current).Single()!), Number(Kvs(current).Single()!, "mod_revision"), Number(Kvs(current).Single()!, "version")));

        // Delete at the current revision.
        Assert.Equal("SUCCESS\n\n1\n", await TxnAsync(member, [$"mod(\"{Key}\") = \"{updatedAt}\""], [$"del {Key}"], [$"get {Key}"]));
        Assert.Equal("", await member.Etcdctl.RunOkAsync("get", Key));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task CompareAndSwapSucceedsOnlyWhileTheValueMatches(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        await member.Etcdctl.RunOkAsync("put", "/lock", "free");

        Assert.Equal("SUCCESS\n\nOK\n\n/lock\nmine\n", await TxnAsync(member, ["value(\"/lock\") = \"free\""], ["put /lock mine", "get /lock"], ["get /lock"]));
        Assert.Equal("FAILURE\n\n/lock\nmine\n", await TxnAsync(member, ["value(\"/lock\") = \"free\""], ["put /lock theirs"], ["get /lock"]));

        // Several compares must all hold; version and create revisions compare as numbers.
        long revision = await CurrentRevisionAsync(member);
        Assert.StartsWith("SUCCESS", await TxnAsync(
            member, ["value(\"/lock\") = \"mine\"", "version(\"/lock\") = \"2\"", $"create(\"/lock\") < \"{revision}\""], ["put /lock released"], []));
        Assert.StartsWith("FAILURE", await TxnAsync(
            member, ["value(\"/lock\") = \"released\"", "version(\"/lock\") > \"5\""], ["put /lock never"], []));
        Assert.Equal("released\n", await member.Etcdctl.RunOkAsync("get", "/lock", "--print-value-only"));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task TxnLimitsAreEtcds(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        string[] Puts(int count) => [.. Enumerable.Range(0, count).Select(i => $"put /t/{i} v")];

        EtcdctlResult duplicate = await member.Etcdctl.RunAsync(["txn"], TxnStdin([], ["put /t/x 1", "put /t/x 2"], []));
        Assert.Contains("Error: etcdserver: duplicate key given in txn request\n", duplicate.Stderr);

        EtcdctlResult tooMany = await member.Etcdctl.RunAsync(["txn"], TxnStdin([], Puts(129), []));
        Assert.Contains("Error: etcdserver: too many operations in txn request\n", tooMany.Stderr);
        Assert.Equal(1, await CurrentRevisionAsync(member));

        Assert.StartsWith("SUCCESS", await TxnAsync(member, [], Puts(128), []));
        JsonNode all = Parse(await member.Etcdctl.RunOkAsync("get", "/t/", "--prefix", "--keys-only", "-w", "json"));
        Assert.Equal(128, all["count"]!.GetValue<long>());
        Assert.All(Kvs(all), kv => Assert.Equal(2, Number(kv!, "mod_revision"))); // One revision for the whole txn.
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task RevokingALeaseDeletesItsKeys(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;

        // "lease 694d7a3f84e7e00b granted with TTL(600s)"
        string granted = await ctl.RunOkAsync("lease", "grant", "600");
        Assert.Matches("^lease [0-9a-f]+ granted with TTL\\(600s\\)\n$", granted);
        string lease = granted.Split(' ')[1];
        await ctl.RunOkAsync("put", "/leased/1", "a", $"--lease={lease}");
        await ctl.RunOkAsync("put", "/leased/2", "b", $"--lease={lease}");

        string live = await ctl.RunOkAsync("lease", "timetolive", lease, "--keys");
        Assert.Contains($"lease {lease} granted with TTL(600s), remaining(", live);
        // etcd lists a lease's keys from a Go map: in no particular order (dotcd: sorted).
        Assert.Matches(@"attached keys\(\[(/leased/1 /leased/2|/leased/2 /leased/1)\]\)", live);
        Assert.Contains(lease, await ctl.RunOkAsync("lease", "list"));

        long before = await CurrentRevisionAsync(member);
        Assert.Equal($"lease {lease} revoked\n", await ctl.RunOkAsync("lease", "revoke", lease));
        Assert.Equal("", await ctl.RunOkAsync("get", "/leased/", "--prefix"));
        Assert.Equal(before + 1, await CurrentRevisionAsync(member)); // Both keys go in one revision.
        Assert.Contains("already expired", await ctl.RunOkAsync("lease", "timetolive", lease));
    }

    private static string TxnStdin(string[] compares, string[] success, string[] failure)
    {
        var stdin = new StringBuilder();
        foreach (string[] section in new[] { compares, success, failure })
        {
            foreach (string line in section)
            {
                stdin.Append(line).Append('\n');
            }

            stdin.Append('\n');
        }

        return stdin.ToString();
    }

    private static async Task<string> TxnAsync(MemberProcess member, string[] compares, string[] success, string[] failure)
    {
        EtcdctlResult result = await member.Etcdctl.RunAsync(["txn"], TxnStdin(compares, success, failure));
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout;
    }

    private static async Task<JsonNode> TxnJsonAsync(MemberProcess member, string[] compares, string[] success, string[] failure)
    {
        EtcdctlResult result = await member.Etcdctl.RunAsync(["txn", "-w", "json"], TxnStdin(compares, success, failure));
        Assert.True(result.ExitCode == 0, result.ToString());
        return Parse(result.Stdout);
    }
}
