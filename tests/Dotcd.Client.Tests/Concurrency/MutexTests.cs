using Dotcd.Api.Etcdserverpb;
using Dotcd.Client.Concurrency;

namespace Dotcd.Client.Tests;

/// <summary>The lock recipe against a real etcd, between our clients and against etcdctl's own lock.</summary>
public sealed class MutexTests(EtcdServer etcd) : IClassFixture<EtcdServer>
{
    private static string UniqueName(string name) => $"/{name}/{Guid.NewGuid():N}";

    [EtcdFact]
    public async Task AMutexExcludesASecondClientUntilUnlocked()
    {
        string name = UniqueName("mutex");
        using EtcdClient first = etcd.CreateClient();
        using EtcdClient second = etcd.CreateClient();
        await using EtcdSession firstSession = await EtcdSession.CreateAsync(first, ttlSeconds: 10);
        await using EtcdSession secondSession = await EtcdSession.CreateAsync(second, ttlSeconds: 10);
        var a = new EtcdMutex(firstSession, name);
        var b = new EtcdMutex(secondSession, name);

        await a.LockAsync();
        Assert.Equal($"{name}/{firstSession.LeaseId:x}", a.Key);
        long firstRevision = a.Revision;
        Task waiting = b.LockAsync();
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);

        await a.UnlockAsync();
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(b.Revision > firstRevision);
        Assert.Equal(-1, a.Revision);
        await b.UnlockAsync();
    }

    [EtcdFact]
    public async Task ContendersNeverOverlap()
    {
        string name = UniqueName("contended");
        string counter = name + "-counter";
        using EtcdClient writer = etcd.CreateClient();
        await writer.KV.PutAsync(counter, "0");

        // A read-modify-write without compare: it loses updates unless the lock serialises it.
        async Task WorkAsync()
        {
            using EtcdClient client = etcd.CreateClient();
            await using EtcdSession session = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
            var mutex = new EtcdMutex(session, name);
            for (int i = 0; i < 5; i++)
            {
                await mutex.LockAsync();
                int value = int.Parse((await client.KV.GetAsync(counter)).Kvs[0].Value.ToStringUtf8());
                await Task.Delay(5);
                await client.KV.PutAsync(counter, (value + 1).ToString());
                await mutex.UnlockAsync();
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(WorkAsync))).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("20", (await writer.KV.GetAsync(counter)).Kvs[0].Value.ToStringUtf8());
    }

    [EtcdFact]
    public async Task TheFencingRevisionStopsAHolderWhoseSessionWasLost()
    {
        string name = UniqueName("fenced");
        using EtcdClient client = etcd.CreateClient();
        await using EtcdSession stale = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        await using EtcdSession fresh = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        var old = new EtcdMutex(stale, name);
        await old.LockAsync();

        await client.Lease.RevokeAsync(stale.LeaseId); // What expiry during a long pause does.
        var current = new EtcdMutex(fresh, name);
        await current.LockAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(current.Revision > old.Revision);

        TxnResponse late = await client.KV.Txn().If(old.IsOwner()).Then(Ops.Put(name + "-data", "late")).CommitAsync();
        Assert.False(late.Succeeded);
        TxnResponse owner = await client.KV.Txn().If(current.IsOwner()).Then(Ops.Put(name + "-data", "owner")).CommitAsync();
        Assert.True(owner.Succeeded);
    }

    [EtcdFact]
    public async Task TryLockFailsWithoutLeavingAKeyWhileHeld()
    {
        string name = UniqueName("trylock");
        using EtcdClient client = etcd.CreateClient();
        await using EtcdSession holder = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        await using EtcdSession other = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        var held = new EtcdMutex(holder, name);
        Assert.True(await held.TryLockAsync());

        Assert.False(await new EtcdMutex(other, name).TryLockAsync());
        Assert.Equal(1, (await client.KV.GetPrefixAsync(name + "/")).Count);
    }

    [EtcdFact]
    public async Task ACancelledLockWithdrawsItsKey()
    {
        string name = UniqueName("cancelled");
        using EtcdClient client = etcd.CreateClient();
        await using EtcdSession holder = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        await using EtcdSession waiter = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        await new EtcdMutex(holder, name).LockAsync();

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new EtcdMutex(waiter, name).LockAsync(cancel.Token));
        RangeResponse keys = await client.KV.GetPrefixAsync(name + "/");
        Assert.Equal($"{name}/{holder.LeaseId:x}", Assert.Single(keys.Kvs).Key.ToStringUtf8());
    }

    [EtcdctlFact]
    public async Task EtcdctlLockWaitsForOurMutex()
    {
        string name = UniqueName("etcdctl-waits");
        using EtcdClient client = etcd.CreateClient();
        await using EtcdSession session = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        var mutex = new EtcdMutex(session, name);
        await mutex.LockAsync();

        Task<(int ExitCode, string Output)> etcdctl = Tools.RunAsync(Tools.Etcdctl, "--endpoints", etcd.Endpoint,
            "lock", name, "--", "sh", "-c", "echo rev=$ETCD_LOCK_REV");
        await WatchTests.WaitForAsync(async () => (await client.KV.GetPrefixAsync(name + "/")).Count == 2); // It queued behind us.
        await Task.Delay(300);
        Assert.False(etcdctl.IsCompleted);

        await mutex.UnlockAsync();
        (int exitCode, string output) = await etcdctl;
        Assert.True(exitCode == 0, output);
        long etcdctlRevision = long.Parse(output.Trim()["rev=".Length..]);
        Assert.True(etcdctlRevision > 0);
    }

    [EtcdctlFact]
    public async Task OurMutexWaitsForEtcdctlLock()
    {
        string name = UniqueName("we-wait");
        using EtcdClient client = etcd.CreateClient();
        string marker = name + "-released";

        // etcdctl holds the lock for a second, then writes a marker while still holding it.
        Task<(int ExitCode, string Output)> etcdctl = Tools.RunAsync(Tools.Etcdctl, "--endpoints", etcd.Endpoint,
            "lock", name, "--", "sh", "-c", $"echo rev=$ETCD_LOCK_REV; sleep 1; ETCDCTL_API=3 {Tools.Etcdctl} --endpoints {etcd.Endpoint} put {marker} done >/dev/null");
        await WatchTests.WaitForAsync(async () => (await client.KV.GetPrefixAsync(name + "/")).Count == 1);

        await using EtcdSession session = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        var mutex = new EtcdMutex(session, name);
        await mutex.LockAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1, (await client.KV.GetAsync(marker)).Count); // It finished its critical section before we entered ours.
        (int exitCode, string output) = await etcdctl;
        Assert.True(exitCode == 0, output);
        long etcdctlRevision = long.Parse(output.Trim()["rev=".Length..]);
        Assert.True(mutex.Revision > etcdctlRevision);
        await mutex.UnlockAsync();
    }
}
