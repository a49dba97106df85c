using System.Text.Json.Nodes;
using Dotcd.Interop.Tests.Harness;
using static Dotcd.Interop.Tests.Interop.EtcdctlJson;

namespace Dotcd.Interop.Tests.Interop;

/// <summary>The real etcdctl's put, get and del against a member, checked as a user would.</summary>
public sealed class KvInteropTests
{
    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task PutThenGetShowsTheValueInEveryOutputFormat(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;

        Assert.Equal("OK\n", await ctl.RunOkAsync("put", "/k", "v1"));
        Assert.Equal("/k\nv1\n", await ctl.RunOkAsync("get", "/k"));
        Assert.Equal("v1\n", await ctl.RunOkAsync("get", "/k", "--print-value-only"));

        JsonNode first = Parse(await ctl.RunOkAsync("get", "/k", "-w", "json"));
        JsonNode kv = Kvs(first).Single()!;
        long created = Number(kv, "create_revision");
        Assert.Equal(("/k", "v1", 1L), (Key(kv), Value(kv), Number(kv, "version")));
        Assert.Equal(created, Number(kv, "mod_revision"));
        Assert.Equal(created, Revision(first));
        Assert.Equal(1, first["count"]!.GetValue<long>());

        JsonNode put = Parse(await ctl.RunOkAsync("put", "/k", "v2", "--prev-kv", "-w", "json"));
        Assert.Equal(created + 1, Revision(put));
        Assert.Equal("v1", Value(put["prev_kv"]!));

        string fields = await ctl.RunOkAsync("get", "/k", "-w", "fields");
        Assert.Contains("\"Key\" : \"/k\"\n", fields);
        Assert.Contains("\"Value\" : \"v2\"\n", fields);
        Assert.Contains($"\"CreateRevision\" : {created}\n", fields);
        Assert.Contains($"\"ModRevision\" : {created + 1}\n", fields);
        Assert.Contains("\"Version\" : 2\n", fields);
        Assert.Contains("\"Count\" : 1\n", fields);

        EtcdctlResult protobuf = await ctl.RunAsync("get", "/k", "-w", "protobuf");
        string decoded = ProtobufDump.Render(protobuf.StdoutBytes, ProtoSchema.RangeResponse, OutputNormalizer.For(member));
        Assert.Contains(
            $"kvs:KeyValue{{key:\"/k\" create_revision:{created} mod_revision:{created + 1} version:2 value:\"v2\"}} count:1}}", decoded);
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task GetSelectsKeysByPrefixFromKeyRangeEndAndLimit(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        foreach ((string key, string value) in new[] { ("/r/a", "1"), ("/r/b", "2"), ("/r/c", "3"), ("/s/d", "4") })
        {
            await ctl.RunOkAsync("put", key, value);
        }

        Assert.Equal("/r/a\n\n/r/b\n\n/r/c\n\n", await ctl.RunOkAsync("get", "/r/", "--prefix", "--keys-only")); // An empty line per missing value.
        Assert.Equal(["/r/b", "/r/c", "/s/d"], Keys(Parse(await ctl.RunOkAsync("get", "/r/b", "--from-key", "-w", "json"))));
        Assert.Equal(["/r/a", "/r/b"], Keys(Parse(await ctl.RunOkAsync("get", "/r/a", "/r/c", "-w", "json"))));

        // count stays the total with a limit, and "more" says there is a next page: Kubernetes pages on both.
        JsonNode page = Parse(await ctl.RunOkAsync("get", "/r/", "--prefix", "--limit", "2", "-w", "json"));
        Assert.Equal(["/r/a", "/r/b"], Keys(page));
        Assert.True(page["more"]!.GetValue<bool>());
        Assert.Equal(3, page["count"]!.GetValue<long>());

        JsonNode keysOnly = Parse(await ctl.RunOkAsync("get", "/r/", "--prefix", "--keys-only", "-w", "json"));
        Assert.All(Kvs(keysOnly), kv => Assert.Null(kv!["value"]));
        Assert.Equal("4\n", await ctl.RunOkAsync("get", "/s/d", "--print-value-only"));
        Assert.Equal("", await ctl.RunOkAsync("get", "/nothing"));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task GetSortsByEveryTargetInEitherOrder(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;

        // Created b, a, c; then a changes: a has the highest mod revision and version, values sort a < c < b.
        await ctl.RunOkAsync("put", "/o/b", "3");
        await ctl.RunOkAsync("put", "/o/a", "0");
        await ctl.RunOkAsync("put", "/o/c", "2");
        await ctl.RunOkAsync("put", "/o/a", "1");

        async Task<string[]> Sorted(string target, string order) =>
            Keys(Parse(await ctl.RunOkAsync("get", "/o/", "--prefix", $"--sort-by={target}", $"--order={order}", "-w", "json")));

        Assert.Equal(["/o/a", "/o/b", "/o/c"], await Sorted("KEY", "ASCEND"));
        Assert.Equal(["/o/c", "/o/b", "/o/a"], await Sorted("KEY", "DESCEND"));
        Assert.Equal(["/o/b", "/o/a", "/o/c"], await Sorted("CREATE", "ASCEND"));
        Assert.Equal(["/o/c", "/o/a", "/o/b"], await Sorted("CREATE", "DESCEND"));
        Assert.Equal(["/o/b", "/o/c", "/o/a"], await Sorted("MODIFY", "ASCEND"));
        Assert.Equal(["/o/a", "/o/c", "/o/b"], await Sorted("MODIFY", "DESCEND"));
        Assert.Equal(["/o/a", "/o/c", "/o/b"], await Sorted("VALUE", "ASCEND"));
        Assert.Equal(["/o/b", "/o/c", "/o/a"], await Sorted("VALUE", "DESCEND"));
        Assert.Equal("/o/a", (await Sorted("VERSION", "DESCEND"))[0]); // b and c tie at version 1.
        Assert.Equal("/o/a", (await Sorted("VERSION", "ASCEND"))[2]);

        // --limit applies after sorting, as etcd sorts the whole range first.
        Assert.Equal(
            "/o/c\n2\n",
            await ctl.RunOkAsync("get", "/o/", "--prefix", "--sort-by=KEY", "--order=DESCEND", "--limit", "1"));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task GetAtARevisionReadsHistoryAndRefusesTheFuture(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        long first = Revision(Parse(await ctl.RunOkAsync("put", "/h", "v1", "-w", "json")));
        long second = Revision(Parse(await ctl.RunOkAsync("put", "/h", "v2", "-w", "json")));
        await ctl.RunOkAsync("del", "/h");

        Assert.Equal("/h\nv1\n", await ctl.RunOkAsync("get", "/h", "--rev", $"{first}"));
        Assert.Equal("/h\nv2\n", await ctl.RunOkAsync("get", "/h", "--rev", $"{second}"));
        Assert.Equal("", await ctl.RunOkAsync("get", "/h"));
        Assert.Equal("", await ctl.RunOkAsync("get", "/h", "--consistency=s"));

        EtcdctlResult future = await ctl.RunAsync("get", "/h", "--rev", $"{second + 100}");
        Assert.Equal(1, future.ExitCode);
        Assert.Contains("Error: etcdserver: mvcc: required revision is a future revision", future.Stderr);
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task DeleteRemovesKeysAndReportsWhatWasThere(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        foreach (string key in new[] { "/d/1", "/d/2", "/d/3", "/e/1", "/f/1" })
        {
            await ctl.RunOkAsync("put", key, "v" + key);
        }

        Assert.Equal("1\n", await ctl.RunOkAsync("del", "/d/1"));
        Assert.Equal("0\n", await ctl.RunOkAsync("del", "/d/1"));
        Assert.Equal("2\n/d/2\nv/d/2\n/d/3\nv/d/3\n", await ctl.RunOkAsync("del", "/d/", "--prefix", "--prev-kv"));
        Assert.Equal("", await ctl.RunOkAsync("get", "/d/", "--prefix"));

        long before = await CurrentRevisionAsync(member);
        JsonNode deleted = Parse(await ctl.RunOkAsync("del", "/e/", "--from-key", "-w", "json"));
        Assert.Equal(2, deleted["deleted"]!.GetValue<long>());
        Assert.Equal(before + 1, Revision(deleted)); // One revision for the whole range.
        Assert.Equal("", await ctl.RunOkAsync("get", "", "--from-key"));

        // Deleting nothing does not make a revision.
        Assert.Equal("0\n", await ctl.RunOkAsync("del", "/nothing"));
        Assert.Equal(before + 1, await CurrentRevisionAsync(member));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task BadRequestsFailWithEtcdsMessages(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;

        async Task Fails(string error, string? stdin, params string[] args)
        {
            EtcdctlResult result = await ctl.RunAsync(args, stdin);
            Assert.True(result.ExitCode != 0, $"etcdctl {string.Join(' ', args)} succeeded: {result}");
            Assert.Contains("Error: " + error + "\n", result.Stderr);
        }

        await Fails("etcdserver: key is not provided", null, "put", "", "v");
        await Fails("etcdserver: key is not provided", null, "get", "");
        await Fails("etcdserver: key not found", null, "put", "/missing", "--ignore-value");
        await Fails("etcdserver: requested lease not found", null, "put", "/k", "v", "--lease=1234");
        await Fails("etcdserver: request is too large", new string('x', 1_600_000), "put", "/big");
        Assert.Equal(1, await CurrentRevisionAsync(member));
    }
}
