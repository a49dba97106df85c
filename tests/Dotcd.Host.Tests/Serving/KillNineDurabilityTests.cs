using System.Text.Json;

namespace Dotcd.Host.Tests.Serving;

/// <summary>
/// kill -9 at random moments while etcdctl writes: after every restart each acknowledged write
/// is there and revisions continue from where they were. 5 kills by default, 25 with DOTCD_SLOW_TESTS=1.
/// The writer is etcdctl itself: a write counts as acknowledged when etcdctl printed its response.
/// </summary>
public sealed class KillNineDurabilityTests
{
    private static int Kills => Environment.GetEnvironmentVariable("DOTCD_SLOW_TESTS") == "1" ? 25 : 5;

    [Fact]
    public async Task EveryAcknowledgedWriteSurvivesKillNineAndRevisionsContinue()
    {
        // A small --snapshot-count: raft snapshots and WAL segment release happen between the kills too.
        using var dotcd = new DotcdProcess("--snapshot-count", "10");
        var random = new Random(Environment.TickCount);
        var acknowledged = new Dictionary<string, string>(); // key -> value etcdctl said OK to.
        long lastAcknowledgedRevision = 0;

        for (int round = 0; round < Kills; round++)
        {
            await dotcd.StartAsync();
            JsonElement before = (await dotcd.Etcdctl.OkAsync("get", "", "--prefix", "-w", "json")).Json;
            AssertHolds(before, acknowledged, lastAcknowledgedRevision, dotcd.Output);

            using var writing = new CancellationTokenSource();
            Task writer = WriteUntilCancelledAsync(dotcd.Etcdctl, round, acknowledged, revision => lastAcknowledgedRevision = revision, writing.Token);
            await Task.Delay(random.Next(150, 900));
            dotcd.Kill(); // Mid-write: the writer's in-flight put is unacknowledged either way.
            await writing.CancelAsync();
            await writer;
        }

        await dotcd.StartAsync();
        JsonElement after = (await dotcd.Etcdctl.OkAsync("get", "", "--prefix", "-w", "json")).Json;
        AssertHolds(after, acknowledged, lastAcknowledgedRevision, dotcd.Output);
        Assert.True(acknowledged.Count >= Kills, $"only {acknowledged.Count} writes were acknowledged");
        long current = after.GetProperty("header").GetProperty("revision").GetInt64();
        JsonElement next = (await dotcd.Etcdctl.OkAsync("put", "after", "x", "-w", "json")).Json;
        Assert.Equal(current + 1, next.GetProperty("header").GetProperty("revision").GetInt64());
    }

    private static async Task WriteUntilCancelledAsync(Etcdctl ctl, int round, Dictionary<string, string> acknowledged,
        Action<long> onRevision, CancellationToken stop)
    {
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            string key = $"k/{round:D2}/{i:D4}";
            string value = $"v{round}-{i}";
            CtlResult put;
            try
            {
                put = await ctl.RunAsync(["put", key, value, "-w", "json"]);
            }
            catch (TimeoutException)
            {
                return;
            }

            if (put.ExitCode != 0)
            {
                return; // The member is gone; this write was never acknowledged.
            }

            acknowledged[key] = value;
            onRevision(put.Json.GetProperty("header").GetProperty("revision").GetInt64());
        }
    }

    private static void AssertHolds(JsonElement range, Dictionary<string, string> acknowledged, long lastAcknowledgedRevision, string log)
    {
        var present = range.TryGetProperty("kvs", out JsonElement kvs)
            ? kvs.EnumerateArray().ToDictionary(
                kv => System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(kv.GetProperty("key").GetString()!)),
                kv => System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(kv.GetProperty("value").GetString()!)))
            : [];
        foreach ((string key, string value) in acknowledged)
        {
            Assert.True(present.TryGetValue(key, out string? found) && found == value, $"acknowledged {key}={value} is missing\n{log}");
        }

        Assert.True(range.GetProperty("header").GetProperty("revision").GetInt64() >= lastAcknowledgedRevision,
            $"the revision went back below {lastAcknowledgedRevision}");
    }
}
