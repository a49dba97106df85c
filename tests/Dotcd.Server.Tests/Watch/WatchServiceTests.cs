using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;
using Dotcd.Server.Tests.Composition;
using Google.Protobuf;

namespace Dotcd.Server.Tests.Watch;

public sealed class WatchServiceTests
{
    private static string Show(WatchResponse r) =>
        $"id={r.WatchId} rev={r.Header.Revision} created={r.Created} canceled={r.Canceled} compact={r.CompactRevision} reason={r.CancelReason} fragment={r.Fragment} " +
        string.Join(";", r.Events.Select(e => $"{e.Type.ToString().ToUpperInvariant()} {e.Kv.Key.ToStringUtf8()}={e.Kv.Value.ToStringUtf8()}@{e.Kv.ModRevision}" +
            (e.PrevKv is null ? "" : $" prev={e.PrevKv.Value.ToStringUtf8()}")));

    [Fact]
    public async Task WatchAnswersAsEtcdDoesForCreateCancelAndProgress()
    {
        await using RunningMember m = await RunningMember.StartAsync();
        using var wire = new WatchWire(m.Endpoint);
        long rev = await wire.PutAsync("k", "1");
        await using WatchCall call = wire.Watch();

        await call.CreateAsync("k", prevKv: true);
        WatchResponse created = await call.ExpectAsync();
        Assert.Equal($"id=0 rev={rev} created=True canceled=False compact=0 reason= fragment=False ", Show(created));
        Assert.Equal(m.Member.ClusterId, created.Header.ClusterId);
        Assert.Equal(m.Member.MemberId, created.Header.MemberId);
        Assert.NotEqual(0UL, created.Header.RaftTerm);

        await wire.PutAsync("k", "2");
        Assert.Equal($"id=0 rev={rev + 1} created=False canceled=False compact=0 reason= fragment=False PUT k=2@{rev + 1} prev=1",
            Show(await call.ExpectAsync()));

        await call.ProgressAsync();
        Assert.Equal($"id=-1 rev={rev + 1} created=False canceled=False compact=0 reason= fragment=False ", Show(await call.ExpectAsync()));

        await call.CancelAsync(42); // Unknown: etcd says nothing.
        await call.CancelAsync(0);
        Assert.Equal($"id=0 rev={rev + 1} created=False canceled=True compact=0 reason= fragment=False ", Show(await call.ExpectAsync()));
        await wire.PutAsync("k", "3");
        Assert.Null(await call.NextAsync(300));
    }

    [Fact]
    public async Task BadCreatesGetEtcdsAnswersAndTheStreamGoesOn()
    {
        await using RunningMember m = await RunningMember.StartAsync();
        using var wire = new WatchWire(m.Endpoint);
        for (int i = 0; i < 4; i++)
        {
            await wire.PutAsync("k", $"{i}");
        }
        await wire.CompactAsync(3);
        await using WatchCall call = wire.Watch();

        await call.CreateAsync("b", end: "a");
        Assert.Equal("id=-1 rev=5 created=True canceled=True compact=0 reason=mvcc: watcher range is empty fragment=False ", Show(await call.ExpectAsync()));
        await call.CreateAsync("k", id: 5);
        await call.CreateAsync("k", id: 5);
        Assert.Equal("id=5 rev=5 created=True canceled=False compact=0 reason= fragment=False ", Show(await call.ExpectAsync()));
        Assert.Equal("id=-1 rev=5 created=True canceled=True compact=0 reason=mvcc: duplicate watch ID provided on the WatchStream fragment=False ",
            Show(await call.ExpectAsync()));
        // etcd 3.4: a negative or compacted start revision is created, then canceled with the compaction revision.
        await call.CreateAsync("k", start: -1);
        Assert.Equal("id=0 rev=5 created=True canceled=False compact=0 reason= fragment=False ", Show(await call.ExpectAsync()));
        Assert.Equal("id=0 rev=0 created=False canceled=True compact=3 reason= fragment=False ", Show(await call.ExpectAsync()));
        await call.CreateAsync("k", start: 2);
        Assert.Equal("id=1 rev=5 created=True canceled=False compact=0 reason= fragment=False ", Show(await call.ExpectAsync()));
        Assert.Equal("id=1 rev=0 created=False canceled=True compact=3 reason= fragment=False ", Show(await call.ExpectAsync()));
        await call.SendAsync(new WatchRequest()); // Empty: ignored.

        // The stream still works.
        await call.CreateAsync("k", start: 3);
        Assert.Equal("id=2 rev=5 created=True canceled=False compact=0 reason= fragment=False ", Show(await call.ExpectAsync()));
        var events = new List<string>();
        while (events.Count < 3)
        {
            events.AddRange((await call.ExpectAsync()).Events.Select(e => $"{e.Kv.Value.ToStringUtf8()}@{e.Kv.ModRevision}"));
        }
        Assert.Equal(["1@3", "2@4", "3@5"], events);
    }

    [Fact]
    public async Task TombstoneAtTheCompactionRevisionReachesAWatchStartingThere()
    {
        await using RunningMember m = await RunningMember.StartAsync();
        using var wire = new WatchWire(m.Endpoint);
        await wire.PutAsync("a", "1");
        await wire.PutAsync("b", "1");
        long deleted = (await wire.DeleteAsync("a")).Header.Revision;
        await wire.CompactAsync(deleted);
        await using WatchCall call = wire.Watch();
        await call.CreateAsync("a", end: "c", start: deleted);
        Assert.True((await call.ExpectAsync()).Created);
        Assert.Equal($"id=0 rev={deleted} created=False canceled=False compact=0 reason= fragment=False DELETE a=@{deleted}", Show(await call.ExpectAsync()));
    }

    [Fact]
    public async Task ALargeRevisionIsFragmentedOnlyForWatchersThatAllowIt()
    {
        await using RunningMember m = await RunningMember.StartAsync(o => o with { MaxRequestBytes = 64 * 1024 });
        using var wire = new WatchWire(m.Endpoint);
        await using WatchCall call = wire.Watch();
        string value = new('x', 30 * 1024);
        for (int i = 0; i < 6; i++)
        {
            await wire.PutAsync($"big/{i}", value);
        }
        // One delete of six keys, each event carrying its 30 KiB previous value: 180 KiB in one revision.
        await call.CreateAsync("big/", end: "big0", fragment: true, prevKv: true, filters: WatchCreateRequest.Types.FilterType.Noput);
        await call.CreateAsync("big/", end: "big0", prevKv: true, filters: WatchCreateRequest.Types.FilterType.Noput);
        Assert.True((await call.ExpectAsync()).Created);
        Assert.True((await call.ExpectAsync()).Created);
        long rev = (await wire.DeleteAsync("big/", "big0")).Header.Revision;
        var fragmented = new List<WatchResponse>();
        WatchResponse? whole = null;
        while (whole is null || fragmented.Count == 0 || fragmented[^1].Fragment)
        {
            WatchResponse r = await call.ExpectAsync();
            if (r.WatchId == 0)
            {
                fragmented.Add(r);
            }
            else
            {
                whole = r;
            }
        }
        Assert.Equal(6, whole.Events.Count);
        Assert.False(whole.Fragment);
        Assert.True(fragmented.Count > 1);
        Assert.All(fragmented, r => Assert.True(r.CalculateSize() < 64 * 1024 + 1024));
        Assert.All(fragmented[..^1], r => Assert.True(r.Fragment));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"big/{i}"), fragmented.SelectMany(r => r.Events).Select(e => e.Kv.Key.ToStringUtf8()));
        Assert.All(fragmented, r => Assert.Equal(rev, r.Header.Revision));
    }

    [Fact]
    public async Task ProgressNotifyFollowsTheConfiguredInterval()
    {
        await using RunningMember m = await RunningMember.StartAsync(o => o with { WatchProgressNotifyInterval = TimeSpan.FromMilliseconds(150) });
        using var wire = new WatchWire(m.Endpoint);
        long rev = await wire.PutAsync("k", "1");
        await using WatchCall call = wire.Watch();
        await call.CreateAsync("k", progressNotify: true);
        await call.CreateAsync("other");
        Assert.True((await call.ExpectAsync()).Created);
        Assert.True((await call.ExpectAsync()).Created);
        WatchResponse progress = await call.ExpectAsync(3000);
        Assert.Equal($"id=0 rev={rev} created=False canceled=False compact=0 reason= fragment=False ", Show(progress));
    }

    [Fact]
    public async Task AWatchWithRequireLeaderWorksWhileTheMemberLeads()
    {
        await using RunningMember m = await RunningMember.StartAsync();
        using var wire = new WatchWire(m.Endpoint);
        await using WatchCall call = wire.Watch(requireLeader: true);
        await call.CreateAsync("k");
        Assert.True((await call.ExpectAsync()).Created);
        long rev = await wire.PutAsync("k", "v");
        Assert.Equal(rev, (await call.ExpectAsync()).Events.Single().Kv.ModRevision);
    }

    [Fact]
    public async Task ManyStreamsOnOneConnectionAreIndependent()
    {
        await using RunningMember m = await RunningMember.StartAsync();
        using var wire = new WatchWire(m.Endpoint);
        var calls = new List<WatchCall>();
        for (int i = 0; i < 8; i++)
        {
            WatchCall call = wire.Watch();
            calls.Add(call);
            await call.CreateAsync($"k{i % 2}");
            Assert.True((await call.ExpectAsync()).Created);
        }
        await calls[0].DisposeAsync(); // One stream going away does not disturb the others.
        long rev = await wire.PutAsync("k1", "v");
        for (int i = 1; i < 8; i += 2)
        {
            Assert.Equal(rev, (await calls[i].ExpectAsync()).Header.Revision);
        }
        for (int i = 2; i < 8; i += 2)
        {
            Assert.Null(await calls[i].NextAsync(100));
        }
        foreach (WatchCall call in calls.Skip(1))
        {
            await call.DisposeAsync();
        }
    }
}
