using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dotcd.Interop.Tests.Harness;
using static Dotcd.Interop.Tests.Interop.EtcdctlJson;

namespace Dotcd.Interop.Tests.WatchLease;

/// <summary>
/// `etcdctl lease grant|revoke|timetolive|list|keep-alive` and `put --lease` against a member;
/// what they print is etcd 3.4.23's text (lease IDs differ per server, so they are read from
/// the output and put into the expectation).
/// </summary>
public sealed partial class LeaseInteropTests
{
    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task LeaseCommandsGrantListInspectRenewAndRevoke(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;

        string lease = LeaseId(await ctl.RunOkAsync("lease", "grant", "600"), ttlSeconds: 600);
        string shortest = LeaseId(await ctl.RunOkAsync("lease", "grant", "1"), ttlSeconds: 2); // etcd's minimum: 1.5 election timeouts, rounded up.
        JsonNode json = Parse(await ctl.RunOkAsync("lease", "grant", "30", "-w", "json"));
        Assert.Equal((30L, ""), (json["TTL"]!.GetValue<long>(), json["Error"]!.GetValue<string>()));
        string third = json["ID"]!.GetValue<ulong>().ToString("x16", CultureInfo.InvariantCulture);

        // etcdctl logs the gRPC status of a failed unary call, then prints its own error.
        var normalizer = OutputNormalizer.For(member);
        EtcdctlResult tooLong = await ctl.RunAsync("lease", "grant", "9000000001");
        Assert.Equal(
            (1, "log warn: retrying of unary invoker failed: rpc error: code = OutOfRange desc = etcdserver: too large lease TTL\n" +
                "Error: failed to grant lease (etcdserver: too large lease TTL)\n"),
            (tooLong.ExitCode, normalizer.Stderr(tooLong.Stderr)));

        await ctl.RunOkAsync("put", "/l/1", "a", $"--lease={lease}");
        await ctl.RunOkAsync("put", "/l/2", "b", $"--lease={lease}");
        JsonNode kv = Kvs(Parse(await ctl.RunOkAsync("get", "/l/1", "-w", "json"))).Single()!;
        Assert.Equal(lease, kv["lease"]!.GetValue<ulong>().ToString("x16", CultureInfo.InvariantCulture));

        // "lease 694d7a3f84e7e00b granted with TTL(600s), remaining(599s), attached keys([/l/2 /l/1])": keys in no particular order.
        Match live = TimeToLivePattern().Match(await ctl.RunOkAsync("lease", "timetolive", lease, "--keys"));
        Assert.True(live.Success);
        Assert.Equal((lease, "600"), (live.Groups["id"].Value, live.Groups["granted"].Value));
        Assert.InRange(int.Parse(live.Groups["remaining"].Value, CultureInfo.InvariantCulture), 590, 600);
        Assert.Equal(["/l/1", "/l/2"], live.Groups["keys"].Value.Split(' ').Order());

        JsonNode ttl = Parse(await ctl.RunOkAsync("lease", "timetolive", lease, "--keys", "-w", "json"));
        Assert.Equal(600, ttl["granted-ttl"]!.GetValue<long>());
        Assert.InRange(ttl["ttl"]!.GetValue<long>(), 590, 600);
        Assert.Equal(["L2wvMQ==", "L2wvMg=="], ttl["keys"]!.AsArray().Select(k => k!.GetValue<string>()).Order());

        string[] listed = LeaseList(await ctl.RunOkAsync("lease", "list"));
        Assert.Equal(["found 3 leases", .. new[] { lease, shortest, third }.Order()], listed);
        Assert.Equal($"lease {lease} keepalived with TTL(600)\n", await ctl.RunOkAsync("lease", "keep-alive", "--once", lease));

        long before = await CurrentRevisionAsync(member);
        Assert.Equal($"lease {lease} revoked\n", await ctl.RunOkAsync("lease", "revoke", lease));
        Assert.Equal(before + 1, await CurrentRevisionAsync(member)); // Both keys in one revision.
        Assert.Equal("", await ctl.RunOkAsync("get", "/l/", "--prefix"));
        Assert.Equal($"lease {lease} already expired\n", await ctl.RunOkAsync("lease", "timetolive", lease, "--keys"));
        listed = LeaseList(await ctl.RunOkAsync("lease", "list"));
        Assert.Equal(["found 2 leases", .. new[] { shortest, third }.Order()], listed);

        const string NotFound = "log warn: retrying of unary invoker failed: rpc error: code = NotFound desc = etcdserver: requested lease not found\n";
        EtcdctlResult revokedAgain = await ctl.RunAsync("lease", "revoke", lease);
        Assert.Equal(
            (1, NotFound + "Error: failed to revoke lease (etcdserver: requested lease not found)\n"),
            (revokedAgain.ExitCode, normalizer.Stderr(revokedAgain.Stderr)));
        EtcdctlResult renewUnknown = await ctl.RunAsync("lease", "keep-alive", "--once", lease);
        Assert.Equal((2, "Error: etcdserver: requested lease not found\n"), (renewUnknown.ExitCode, renewUnknown.Stderr));
        EtcdctlResult putUnknown = await ctl.RunAsync("put", "/l/3", "c", $"--lease={lease}");
        Assert.Equal((1, NotFound + "Error: etcdserver: requested lease not found\n"), (putUnknown.ExitCode, normalizer.Stderr(putUnknown.Stderr)));
        Assert.Equal("lease 0000000000001234 already expired\n", await ctl.RunOkAsync("lease", "timetolive", "1234"));
        Assert.Equal(before + 1, await CurrentRevisionAsync(member));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task RevokingALeaseDeletesItsKeysInOneRevisionAsDeleteEventsWithPrevKv(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        string lease = LeaseId(await ctl.RunOkAsync("lease", "grant", "600"), ttlSeconds: 600);
        await ctl.RunOkAsync("put", "/r/1", "a", $"--lease={lease}"); // 2
        await ctl.RunOkAsync("put", "/r/3", "c", $"--lease={lease}"); // 3
        await ctl.RunOkAsync("put", "/r/2", "b", $"--lease={lease}"); // 4
        await ctl.RunOkAsync("put", "/r/other", "kept");              // 5

        await using EtcdctlProcess watch = EtcdctlProcess.Start(member, "watch", "/r/", "--prefix", "--prev-kv", "--rev", "6", "-w", "json");
        await ctl.RunOkAsync("lease", "revoke", lease);               // 6
        await watch.WaitForStdoutAsync(s => WatchOutput.EventKeys(s).Count == 3, "three DELETE events");

        string events = (await watch.StopAsync()).Stdout;
        var normalizer = OutputNormalizer.For(member);
        normalizer.Id(ulong.Parse(lease, NumberStyles.HexNumber, CultureInfo.InvariantCulture)); // <id1> is the lease.
        Assert.Equal(
            """
            {"Header":{"cluster_id":"<id2>","member_id":"<id3>","revision":6,"raft_term":"<term1>"},"Events":[{"type":1,"kv":{"key":"/r/1","mod_revision":6},"prev_kv":{"key":"/r/1","create_revision":2,"mod_revision":2,"version":1,"value":"a","lease":"<id1>"}},{"type":1,"kv":{"key":"/r/2","mod_revision":6},"prev_kv":{"key":"/r/2","create_revision":4,"mod_revision":4,"version":1,"value":"b","lease":"<id1>"}},{"type":1,"kv":{"key":"/r/3","mod_revision":6},"prev_kv":{"key":"/r/3","create_revision":3,"mod_revision":3,"version":1,"value":"c","lease":"<id1>"}}],"CompactRevision":0,"Canceled":false,"Created":false}

            """,
            WatchOutput.Responses(events, normalizer));
        Assert.Equal("/r/other\nkept\n", await ctl.RunOkAsync("get", "/r/", "--prefix"));
        Assert.Equal(6, await CurrentRevisionAsync(member));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task ALeaseExpiresNoEarlierThanItsTtlAndWithinASecondAfterWithItsKeysInOneRevision(MemberKind kind)
    {
        const int TtlSeconds = 3;
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        var clock = System.Diagnostics.Stopwatch.StartNew();

        TimeSpan grantSent = clock.Elapsed;
        string lease = LeaseId(await ctl.RunOkAsync("lease", "grant", $"{TtlSeconds}"), TtlSeconds);
        TimeSpan grantAnswered = clock.Elapsed;
        await ctl.RunOkAsync("put", "/e/1", "a", $"--lease={lease}"); // 2
        await ctl.RunOkAsync("put", "/e/2", "b", $"--lease={lease}"); // 3
        await using EtcdctlProcess watch = EtcdctlProcess.Start(member, "watch", "/e/", "--prefix", "--prev-kv", "--rev", "4", "-w", "json");

        LeaseExpiry expiry = await LeaseExpiry.ObserveAsync(member, "/e/", keyCount: 2, clock, grantAnswered + TimeSpan.FromSeconds(TtlSeconds + 5));
        expiry.AssertWithin(notBefore: grantSent + TimeSpan.FromSeconds(TtlSeconds), notAfter: grantAnswered + TimeSpan.FromSeconds(TtlSeconds + 1));

        await watch.WaitForStdoutAsync(s => WatchOutput.EventKeys(s).Count == 2, "two DELETE events");
        string expired = (await watch.StopAsync()).Stdout;
        Assert.Empty(WatchOutput.AtomicityViolations(expired));
        var normalizer = OutputNormalizer.For(member);
        normalizer.Id(ulong.Parse(lease, NumberStyles.HexNumber, CultureInfo.InvariantCulture)); // <id1> is the lease.
        Assert.Equal(
            """
            event {"type":1,"kv":{"key":"/e/1","mod_revision":4},"prev_kv":{"key":"/e/1","create_revision":2,"mod_revision":2,"version":1,"value":"a","lease":"<id1>"}}
            event {"type":1,"kv":{"key":"/e/2","mod_revision":4},"prev_kv":{"key":"/e/2","create_revision":3,"mod_revision":3,"version":1,"value":"b","lease":"<id1>"}}

            """,
            WatchOutput.Events(expired, normalizer));
        Assert.Equal(4, await CurrentRevisionAsync(member));
        Assert.Equal($"lease {lease} already expired\n", await ctl.RunOkAsync("lease", "timetolive", lease));
        Assert.Equal(["found 0 leases"], LeaseList(await ctl.RunOkAsync("lease", "list")));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task KeepAliveHoldsALeasePastItsTtlUntilTheLeaseIsRevoked(MemberKind kind)
    {
        const int TtlSeconds = 2;
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        string lease = LeaseId(await ctl.RunOkAsync("lease", "grant", $"{TtlSeconds}"), TtlSeconds);
        await ctl.RunOkAsync("put", "/k", "v", $"--lease={lease}");

        await using EtcdctlProcess keepAlive = EtcdctlProcess.Start(member, "lease", "keep-alive", lease);
        string renewed = $"lease {lease} keepalived with TTL({TtlSeconds})\n";
        await keepAlive.WaitForStdoutAsync(renewed);
        await Task.Delay(TimeSpan.FromSeconds(TtlSeconds + 1)); // Past the TTL; the client renews every TTL/3.
        Assert.Equal("/k\nv\n", await ctl.RunOkAsync("get", "/k"));
        Assert.Matches($"^lease {lease} granted with TTL\\({TtlSeconds}s\\), remaining\\([12]s\\)\n$", await ctl.RunOkAsync("lease", "timetolive", lease));

        await ctl.RunOkAsync("lease", "revoke", lease);
        EtcdctlResult ended = await keepAlive.WaitForExitAsync(TimeSpan.FromSeconds(TtlSeconds + 3));
        Assert.Equal(0, ended.ExitCode);
        string[] lines = ended.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 4, $"expected a renewal about every {TtlSeconds / 3.0:F1} s: {ended.Stdout}");
        Assert.All(lines[..^1], line => Assert.Equal(renewed.TrimEnd('\n'), line));
        Assert.Equal($"lease {lease} expired or revoked.", lines[^1]);
        Assert.Equal("", await ctl.RunOkAsync("get", "/k"));
    }

    /// <summary>The ID from "lease 694d7a3f84e7e00b granted with TTL(600s)", after checking the line.</summary>
    internal static string LeaseId(string granted, int ttlSeconds)
    {
        Match match = GrantedPattern().Match(granted);
        Assert.True(match.Success, $"not a grant line: {granted}");
        Assert.Equal($"{ttlSeconds}", match.Groups["ttl"].Value);
        return match.Groups["id"].Value;
    }

    /// <summary>"found 2 leases" then the IDs, in no particular order: the count line, then the IDs sorted.</summary>
    internal static string[] LeaseList(string stdout)
    {
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return [lines[0], .. lines[1..].Order()];
    }

    [GeneratedRegex(@"^lease (?<id>[0-9a-f]{16}) granted with TTL\((?<ttl>\d+)s\)\n$")]
    private static partial Regex GrantedPattern();

    [GeneratedRegex(@"^lease (?<id>[0-9a-f]{16}) granted with TTL\((?<granted>\d+)s\), remaining\((?<remaining>\d+)s\), attached keys\(\[(?<keys>[^\]]*)\]\)\n$")]
    internal static partial Regex TimeToLivePattern();
}

/// <summary>
/// When a lease's keys vanished, as a client can prove it: a read that still finds the keys
/// shows the lease alive at some moment after the read was sent; a read that finds them gone
/// shows it expired before that read returned. Reads go one after another, ~50 ms apart.
/// </summary>
internal sealed record LeaseExpiry(string Prefix, TimeSpan LastSeenAliveSent, TimeSpan? FirstSeenGoneAnswered)
{
    public static async Task<LeaseExpiry> ObserveAsync(
        MemberProcess member, string prefix, int keyCount, System.Diagnostics.Stopwatch clock, TimeSpan giveUpAt)
    {
        TimeSpan lastSeenAliveSent = TimeSpan.Zero;
        while (clock.Elapsed < giveUpAt)
        {
            TimeSpan sent = clock.Elapsed;
            JsonNode read = Parse(await member.Etcdctl.RunOkAsync("get", prefix, "--prefix", "--keys-only", "-w", "json"));
            if (Kvs(read).Count != keyCount)
            {
                Assert.Empty(Kvs(read)); // All keys or none: one revision takes them all.
                return new LeaseExpiry(prefix, lastSeenAliveSent, clock.Elapsed);
            }

            lastSeenAliveSent = sent;
            await Task.Delay(50);
        }

        return new LeaseExpiry(prefix, lastSeenAliveSent, null);
    }

    public void AssertWithin(TimeSpan notBefore, TimeSpan notAfter)
    {
        Assert.True(FirstSeenGoneAnswered is not null, $"the keys under {Prefix} were still there at the end: the lease never expired");
        Assert.True(
            FirstSeenGoneAnswered >= notBefore,
            $"expired early: gone by {FirstSeenGoneAnswered.Value.TotalSeconds:F2} s, must live until {notBefore.TotalSeconds:F2} s");
        Assert.True(
            LastSeenAliveSent <= notAfter,
            $"expired late: still alive at {LastSeenAliveSent.TotalSeconds:F2} s, must be gone by {notAfter.TotalSeconds:F2} s");
    }
}
