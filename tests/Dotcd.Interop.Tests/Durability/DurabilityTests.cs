using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Dotcd.Interop.Tests.Harness;
using Dotcd.Interop.Tests.Interop;
using Xunit.Abstractions;

namespace Dotcd.Interop.Tests.Durability;

/// <summary>
/// Ring 5: writers put keys through the real etcdctl while the member is killed with SIGKILL
/// at random moments and restarted on the same data dir. Every write etcdctl reported as done
/// must be there afterwards with the revision it was acknowledged at, and revisions must go on
/// from where they were (never reused, never behind an acknowledged one).
/// </summary>
public sealed class DurabilityTests(ITestOutputHelper output)
{
    private const int Writers = 3;

    private sealed record Acknowledged(string Key, long Revision);

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task AcknowledgedWritesSurviveKillNine(MemberKind kind)
    {
        // A dotcd restart takes several seconds on a loaded machine (20 cycles took ~80 s), so its
        // default run is short and the long one sits behind the slow switch like etcd's 100.
        int kills = (kind, TestSwitches.SlowTestsEnabled) switch
        {
            (MemberKind.Etcd, true) => 100,
            (MemberKind.Etcd, false) => 20,
            (_, true) => 20,
            (_, false) => 5,
        };
        int seed = int.TryParse(Environment.GetEnvironmentVariable("DOTCD_DURABILITY_SEED"), CultureInfo.InvariantCulture, out int s)
            ? s
            : Random.Shared.Next();
        output.WriteLine($"seed {seed} (DOTCD_DURABILITY_SEED={seed} replays the kill timings), {kills} kills");
        var random = new Random(seed);

        // A restarted single member waits one election timeout before it leads again; a short
        // one (etcd's flags, so dotcd must take them too) keeps 20 restarts within seconds.
        using MemberProcess member = await MemberProcess.StartAsync(
            kind, new MemberOptions { Name = "durability", ExtraFlags = ["--heartbeat-interval=20", "--election-timeout=200"] });
        var acknowledged = new List<Acknowledged>();
        long floor = await EtcdctlJson.CurrentRevisionAsync(member); // Every new write lands above this.
        TimeSpan restarts = TimeSpan.Zero;
        for (int cycle = 0; cycle < kills; cycle++)
        {
            var acks = new ConcurrentQueue<Acknowledged>();
            using var stopStarting = new CancellationTokenSource();
            using var killClients = new CancellationTokenSource();
            Task[] writers = [.. Enumerable.Range(0, Writers).Select(w => WriteAsync(member, cycle, w, acks, stopStarting.Token, killClients.Token))];

            await Task.Delay(random.Next(50, 600));
            stopStarting.Cancel(); // Puts in flight now race the kill.
            member.Kill();
            killClients.Cancel();  // A client killed before it printed "done" did not get an acknowledgement.
            await Task.WhenAll(writers);

            long lowest = acks.IsEmpty ? long.MaxValue : acks.Min(a => a.Revision);
            Assert.True(lowest > floor, $"cycle {cycle}: a write was acknowledged at revision {lowest}, not above {floor} (seed {seed})");
            acknowledged.AddRange(acks);
            long highest = acknowledged.Count == 0 ? floor : Math.Max(floor, acknowledged.Max(a => a.Revision));

            var restart = System.Diagnostics.Stopwatch.StartNew();
            await member.RestartAsync();
            restarts += restart.Elapsed;
            floor = await EtcdctlJson.CurrentRevisionAsync(member);
            Assert.True(
                floor >= highest,
                $"after kill {cycle + 1} the revision is {floor}, below the acknowledged {highest} (seed {seed}):\n{member.Output.Tail()}");
        }

        output.WriteLine($"{acknowledged.Count} writes acknowledged, final revision {floor}, restarts took {restarts.TotalSeconds:F1} s");
        Assert.True(acknowledged.Count >= kills, $"only {acknowledged.Count} writes were acknowledged in {kills} cycles: too few to mean anything");
        Assert.Equal(acknowledged.Count, acknowledged.Select(a => a.Revision).Distinct().Count());

        JsonNode stored = EtcdctlJson.Parse(await member.Etcdctl.RunOkAsync("get", "/durability/", "--prefix", "-w", "json"));
        var found = EtcdctlJson.Kvs(stored).ToDictionary(kv => EtcdctlJson.Key(kv!), kv => (Revision: EtcdctlJson.Number(kv!, "mod_revision"), Value: EtcdctlJson.Value(kv!)));
        var lost = acknowledged.Where(a => !found.TryGetValue(a.Key, out var kv) || kv.Revision != a.Revision || kv.Value != a.Key).ToList();
        Assert.True(
            lost.Count == 0,
            $"{lost.Count} of {acknowledged.Count} acknowledged writes are missing or changed (seed {seed}), e.g. " +
            string.Join(", ", lost.Take(5).Select(a => $"{a.Key}@{a.Revision} -> {(found.TryGetValue(a.Key, out var kv) ? $"{kv.Value}@{kv.Revision}" : "absent")}")));
    }

    // Writes /durability/<cycle>/<writer>/<seq> = its own key until told to stop; a put counts
    // as acknowledged when etcdctl exits 0 with the response's revision.
    private static async Task WriteAsync(
        MemberProcess member, int cycle, int writer, ConcurrentQueue<Acknowledged> acks, CancellationToken stopStarting, CancellationToken killClients)
    {
        for (int seq = 0; !stopStarting.IsCancellationRequested; seq++)
        {
            string key = $"/durability/{cycle:D3}/{writer}/{seq:D5}";
            EtcdctlResult result = await member.Etcdctl.RunAsync(
                ["put", key, key, "-w", "json", "--dial-timeout=1s", "--command-timeout=2s"], timeout: TimeSpan.FromSeconds(10), kill: killClients);
            if (result.ExitCode != 0)
            {
                return;
            }

            acks.Enqueue(new Acknowledged(key, EtcdctlJson.Revision(EtcdctlJson.Parse(result.Stdout))));
        }
    }
}
