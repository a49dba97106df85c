using System.Diagnostics;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Server.Tests.Composition;

namespace Dotcd.Server.Tests.Leases;

/// <summary>Expiry by the real clock, in a class of its own so it runs beside the others.</summary>
public sealed class LeaseTimingTests
{
    [Fact]
    public async Task LeasesExpireNoEarlierThanTheirTtlAndWithinOneSecondMoreInOneRevision()
    {
        await using RunningMember running = await RunningMember.StartAsync(LeaseMemberTests.Fast);
        using var rpc = new LeaseRpc(running.Endpoint);

        // Two leases at once keep the test short; each expiry is timed on its own.
        Task<(TimeSpan FromRequest, TimeSpan FromAnswer, long HalfDeletedRevisions)> two = ExpireAsync(rpc, "/two/", 2);
        Task<(TimeSpan FromRequest, TimeSpan FromAnswer, long HalfDeletedRevisions)> three = ExpireAsync(rpc, "/three/", 3);

        foreach (((TimeSpan fromRequest, TimeSpan fromAnswer, long halfDeleted), int ttl) in new[] { (await two, 2), (await three, 3) })
        {
            // The lease's clock starts when its grant is applied: after the request left, before the answer came.
            Assert.True(fromRequest >= TimeSpan.FromSeconds(ttl), $"a {ttl} s lease expired after {fromRequest}");
            Assert.True(fromAnswer <= TimeSpan.FromSeconds(ttl + 1), $"a {ttl} s lease lived {fromAnswer}");
            Assert.Equal(0, halfDeleted);
        }
    }

    // Grants a lease with two keys and polls (every 20 ms) for them to vanish; then counts the
    // revisions at which the pair was partly gone, which must be none.
    private static async Task<(TimeSpan FromRequest, TimeSpan FromAnswer, long HalfDeletedRevisions)> ExpireAsync(LeaseRpc rpc, string prefix, long ttl)
    {
        long requested = Stopwatch.GetTimestamp();
        LeaseGrantResponse granted = await rpc.GrantAsync(ttl);
        long answered = Stopwatch.GetTimestamp();
        await rpc.PutAsync(prefix + "a", "1", granted.ID);
        long bothPut = (await rpc.PutAsync(prefix + "b", "2", granted.ID)).Header.Revision;
        while (true)
        {
            RangeResponse now = await rpc.GetPrefixAsync(prefix);
            long seen = Stopwatch.GetTimestamp();
            if (now.Kvs.Count == 0)
            {
                Assert.Equal(-1, (await rpc.TimeToLiveAsync(granted.ID)).TTL);
                long halfDeleted = 0;
                for (long revision = bothPut; revision <= now.Header.Revision; revision++)
                {
                    long count = (await rpc.GetPrefixAsync(prefix, revision)).Count;
                    halfDeleted += count is 0 or 2 ? 0 : 1;
                }

                return (Stopwatch.GetElapsedTime(requested, seen), Stopwatch.GetElapsedTime(answered, seen), halfDeleted);
            }

            if (Stopwatch.GetElapsedTime(answered) > TimeSpan.FromSeconds(ttl + 5))
            {
                Assert.Fail($"a {ttl} s lease never expired");
            }

            await Task.Delay(20);
        }
    }
}
