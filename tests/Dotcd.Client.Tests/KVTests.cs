using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;
using Dotcd.Grpc;
using Google.Protobuf;

namespace Dotcd.Client.Tests;

/// <summary>The KV calls against a real etcd: every option changes what etcd answers.</summary>
public sealed class KVTests(EtcdServer etcd) : IClassFixture<EtcdServer>, IDisposable
{
    private readonly EtcdClient _client = etcd.CreateClient();

    // Each test writes under its own prefix: the member is shared by the whole class.
    private static string Unique(string name) => $"/{name}/{Guid.NewGuid():N}/";

    private KVClient KV => _client.KV;

    public void Dispose() => _client.Dispose();

    [EtcdFact]
    public async Task PutThenGetReturnsTheValueWithItsRevisions()
    {
        string key = Unique("put") + "a";
        PutResponse put = await KV.PutAsync(key, "one");
        RangeResponse get = await KV.GetAsync(key);

        KeyValue kv = Assert.Single(get.Kvs);
        Assert.Equal(key, kv.Key.ToStringUtf8());
        Assert.Equal("one", kv.Value.ToStringUtf8());
        Assert.Equal(put.Header.Revision, kv.CreateRevision);
        Assert.Equal(put.Header.Revision, kv.ModRevision);
        Assert.Equal(1, kv.Version);
        Assert.Equal(1, get.Count);
    }

    [EtcdFact]
    public async Task BytesKeysAndValuesTravelUnchanged()
    {
        byte[] key = [.. "/bytes/"u8, .. Guid.NewGuid().ToByteArray(), 0x00, 0xff, 0x80];
        byte[] value = [0x00, 0x01, 0xfe, 0xff, 0xc3, 0x28];
        await KV.PutAsync(key, value);

        KeyValue kv = Assert.Single((await KV.GetAsync(key)).Kvs);
        Assert.Equal(key, kv.Key.ToByteArray());
        Assert.Equal(value, kv.Value.ToByteArray());
    }

    [EtcdFact]
    public async Task GetOfAMissingKeyReturnsNoKeys()
    {
        RangeResponse get = await KV.GetAsync(Unique("missing") + "nothing");
        Assert.Empty(get.Kvs);
        Assert.Equal(0, get.Count);
    }

    [EtcdFact]
    public async Task PutWithPrevKvReturnsTheOverwrittenValue()
    {
        string key = Unique("prev") + "k";
        PutResponse first = await KV.PutAsync(key, "old", new PutOptions { PrevKv = true });
        PutResponse second = await KV.PutAsync(key, "new", new PutOptions { PrevKv = true });

        Assert.Null(first.PrevKv);
        Assert.Equal("old", second.PrevKv.Value.ToStringUtf8());
        Assert.Equal(2, Assert.Single((await KV.GetAsync(key)).Kvs).Version);
    }

    [EtcdFact]
    public async Task PutWithIgnoreValueKeepsTheValueAndFailsForAMissingKey()
    {
        string key = Unique("ignore") + "k";
        await KV.PutAsync(key, "kept");
        await KV.PutAsync(key, "", new PutOptions { IgnoreValue = true });

        KeyValue kv = Assert.Single((await KV.GetAsync(key)).Kvs);
        Assert.Equal("kept", kv.Value.ToStringUtf8());
        Assert.Equal(2, kv.Version);

        var missing = await Assert.ThrowsAsync<EtcdException>(() => KV.PutAsync(key + "-missing", "", new PutOptions { IgnoreValue = true }));
        Assert.Equal(EtcdError.KeyNotFound, missing.Error);
        Assert.Equal(StatusCode.InvalidArgument, missing.Code);

        var valueGiven = await Assert.ThrowsAsync<EtcdException>(() => KV.PutAsync(key, "x", new PutOptions { IgnoreValue = true }));
        Assert.Equal(EtcdError.ValueProvided, valueGiven.Error);
    }

    [EtcdFact]
    public async Task PutWithAnUnknownLeaseIsRefused()
    {
        var error = await Assert.ThrowsAsync<EtcdException>(() => KV.PutAsync(Unique("lease") + "k", "v", new PutOptions { Lease = 0x7e57 }));
        Assert.Equal(EtcdError.LeaseNotFound, error.Error);
        Assert.Equal(StatusCode.NotFound, error.Code);
        Assert.Equal("etcdserver: requested lease not found", error.Message);

        var ignoreLease = await Assert.ThrowsAsync<EtcdException>(() =>
            KV.PutAsync(Unique("lease") + "k", "v", new PutOptions { IgnoreLease = true, Lease = 0x7e57 }));
        Assert.Equal(EtcdError.LeaseProvided, ignoreLease.Error);
    }

    [EtcdFact]
    public async Task RangePrefixAndFromKeySelectTheRightKeys()
    {
        string prefix = Unique("range");
        foreach (string name in new[] { "a", "b", "c", "d" })
        {
            await KV.PutAsync(prefix + name, name);
        }

        await KV.PutAsync(prefix.TrimEnd('/') + "0", "outside"); // Sorts after the prefix ('0' > '/').

        Assert.Equal(["b", "c"], Values(await KV.GetRangeAsync(prefix + "b", prefix + "d")));
        Assert.Equal(["a", "b", "c", "d"], Values(await KV.GetPrefixAsync(prefix)));
        Assert.Equal(["a", "b", "c", "d"], Values(await KV.GetPrefixAsync(KeyRange.Utf8(prefix))));
        RangeResponse fromKey = await KV.GetFromKeyAsync(prefix + "c");
        Assert.Equal(["c", "d", "outside"], Values(fromKey).Take(3));
    }

    [EtcdFact]
    public async Task LimitCountAndMoreDescribeATruncatedRange()
    {
        string prefix = Unique("limit");
        for (int i = 0; i < 5; i++)
        {
            await KV.PutAsync($"{prefix}{i}", $"v{i}");
        }

        RangeResponse page = await KV.GetPrefixAsync(prefix, new GetOptions { Limit = 2 });
        Assert.Equal(["v0", "v1"], Values(page));
        Assert.True(page.More);
        Assert.Equal(5, page.Count);

        RangeResponse all = await KV.GetPrefixAsync(prefix, new GetOptions { Limit = 5 });
        Assert.False(all.More);
    }

    [EtcdFact]
    public async Task SortOrdersByTheChosenTarget()
    {
        string prefix = Unique("sort");
        await KV.PutAsync(prefix + "a", "3");
        await KV.PutAsync(prefix + "b", "1");
        await KV.PutAsync(prefix + "c", "2");
        await KV.PutAsync(prefix + "b", "1"); // b: version 2, newest mod revision.

        Assert.Equal(["2", "1", "3"], Values(await KV.GetPrefixAsync(prefix, new GetOptions { SortOrder = SortOrder.Descend })));
        Assert.Equal(["1", "2", "3"], Values(await KV.GetPrefixAsync(prefix, new GetOptions { SortOrder = SortOrder.Ascend, SortTarget = SortTarget.Value })));
        Assert.Equal("1", Values(await KV.GetPrefixAsync(prefix, new GetOptions { SortOrder = SortOrder.Descend, SortTarget = SortTarget.Version }))[0]);
        Assert.Equal("1", Values(await KV.GetPrefixAsync(prefix, new GetOptions { SortOrder = SortOrder.Descend, SortTarget = SortTarget.ModRevision }))[0]);
        Assert.Equal(["3", "1", "2"], Values(await KV.GetPrefixAsync(prefix, new GetOptions { SortOrder = SortOrder.Ascend, SortTarget = SortTarget.CreateRevision })));
    }

    [EtcdFact]
    public async Task KeysOnlyAndCountOnlyLeaveOutWhatTheySay()
    {
        string prefix = Unique("shape");
        await KV.PutAsync(prefix + "a", "value-a");
        await KV.PutAsync(prefix + "b", "value-b");

        RangeResponse keys = await KV.GetPrefixAsync(prefix, new GetOptions { KeysOnly = true });
        Assert.Equal([prefix + "a", prefix + "b"], keys.Kvs.Select(kv => kv.Key.ToStringUtf8()));
        Assert.All(keys.Kvs, kv => Assert.True(kv.Value.IsEmpty));

        RangeResponse count = await KV.GetPrefixAsync(prefix, new GetOptions { CountOnly = true });
        Assert.Empty(count.Kvs);
        Assert.Equal(2, count.Count);

        RangeResponse serializable = await KV.GetPrefixAsync(prefix, new GetOptions { Serializable = true });
        Assert.Equal(["value-a", "value-b"], Values(serializable));
    }

    [EtcdFact]
    public async Task RevisionReadsHistoryAndRevisionFiltersSelectByRevision()
    {
        string prefix = Unique("history");
        long r1 = (await KV.PutAsync(prefix + "a", "first")).Header.Revision;
        long r2 = (await KV.PutAsync(prefix + "b", "second")).Header.Revision;
        long r3 = (await KV.PutAsync(prefix + "a", "third")).Header.Revision;

        Assert.Equal(["first"], Values(await KV.GetAsync(prefix + "a", new GetOptions { Revision = r1 })));
        Assert.Equal(["first", "second"], Values(await KV.GetPrefixAsync(prefix, new GetOptions { Revision = r2 })));
        Assert.Equal(["third"], Values(await KV.GetPrefixAsync(prefix, new GetOptions { MinModRevision = r3 })));
        Assert.Equal(["second"], Values(await KV.GetPrefixAsync(prefix, new GetOptions { MaxModRevision = r2 })));
        Assert.Equal(["second"], Values(await KV.GetPrefixAsync(prefix, new GetOptions { MinCreateRevision = r2 })));
        Assert.Equal(["third"], Values(await KV.GetPrefixAsync(prefix, new GetOptions { MaxCreateRevision = r1 })));

        var future = await Assert.ThrowsAsync<EtcdException>(() => KV.GetAsync(prefix + "a", new GetOptions { Revision = r3 + 1000 }));
        Assert.True(future.IsFutureRevision);
        Assert.Equal(StatusCode.OutOfRange, future.Code);
    }

    [EtcdFact]
    public async Task DeleteRemovesOneKeyARangeOrAPrefix()
    {
        string prefix = Unique("delete");
        foreach (string name in new[] { "a", "b", "c", "d", "e" })
        {
            await KV.PutAsync(prefix + name, name);
        }

        DeleteRangeResponse one = await KV.DeleteAsync(prefix + "a", new DeleteOptions { PrevKv = true });
        Assert.Equal(1, one.Deleted);
        Assert.Equal("a", Assert.Single(one.PrevKvs).Value.ToStringUtf8());

        DeleteRangeResponse range = await KV.DeleteRangeAsync(prefix + "b", prefix + "d");
        Assert.Equal(2, range.Deleted);
        Assert.Empty(range.PrevKvs);
        Assert.Equal(["d", "e"], Values(await KV.GetPrefixAsync(prefix)));

        DeleteRangeResponse missing = await KV.DeleteAsync(prefix + "zzz");
        Assert.Equal(0, missing.Deleted);

        DeleteRangeResponse rest = await KV.DeletePrefixAsync(prefix, new DeleteOptions { PrevKv = true });
        Assert.Equal(2, rest.Deleted);
        Assert.Equal(["d", "e"], rest.PrevKvs.Select(kv => kv.Value.ToStringUtf8()));
        Assert.Empty((await KV.GetPrefixAsync(prefix)).Kvs);
    }

    [EtcdFact]
    public async Task TxnCreatesOnlyWhenTheKeyIsAbsent()
    {
        string key = Unique("txn") + "create";
        TxnResponse created = await KV.Txn()
            .If(Compares.ModRevision(key, CompareOperator.Equal, 0))
            .Then(Ops.Put(key, "created"))
            .Else(Ops.Get(key))
            .CommitAsync();
        Assert.True(created.Succeeded);

        TxnResponse refused = await KV.Txn()
            .If(Compares.ModRevision(key, CompareOperator.Equal, 0))
            .Then(Ops.Put(key, "again"))
            .Else(Ops.Get(key))
            .CommitAsync();
        Assert.False(refused.Succeeded);
        Assert.Equal("created", Assert.Single(refused.Responses).ResponseRange.Kvs[0].Value.ToStringUtf8());
        Assert.Equal(1, Assert.Single((await KV.GetAsync(key)).Kvs).Version);
    }

    [EtcdFact]
    public async Task TxnComparesEachTarget()
    {
        string prefix = Unique("compare");
        string key = prefix + "k";
        long revision = (await KV.PutAsync(key, "v1")).Header.Revision;
        await KV.PutAsync(key, "v2");

        async Task<bool> Holds(Compare compare) => (await KV.Txn().If(compare).CommitAsync()).Succeeded;

        Assert.True(await Holds(Compares.Value(key, CompareOperator.Equal, "v2")));
        Assert.True(await Holds(Compares.Value(KeyRange.Utf8(key), CompareOperator.Greater, "v1"u8)));
        Assert.False(await Holds(Compares.Value(key, CompareOperator.NotEqual, "v2")));
        Assert.True(await Holds(Compares.Version(key, CompareOperator.Equal, 2)));
        Assert.True(await Holds(Compares.Version(key, CompareOperator.Less, 3)));
        Assert.True(await Holds(Compares.CreateRevision(key, CompareOperator.Equal, revision)));
        Assert.True(await Holds(Compares.ModRevision(key, CompareOperator.Greater, revision)));
        Assert.True(await Holds(Compares.Lease(key, CompareOperator.Equal, 0)));
        Assert.False(await Holds(Compares.Lease(key, CompareOperator.NotEqual, 0)));

        await KV.PutAsync(prefix + "other", "v1");
        Assert.True(await Holds(Compares.Version(prefix, CompareOperator.Greater, 0).WithPrefix()));
        Assert.False(await Holds(Compares.Version(prefix, CompareOperator.Equal, 2).WithPrefix()));
        Assert.True(await Holds(Compares.Version(key, CompareOperator.Equal, 2).WithRangeEnd(KeyRange.Utf8(prefix + "l"))));
    }

    [EtcdFact]
    public async Task TxnRunsItsOpsInOrderUnderOneRevision()
    {
        string prefix = Unique("order");
        await KV.PutAsync(prefix + "c", "3");
        TxnResponse txn = await KV.Txn()
            .If()
            .Then(Ops.Put(prefix + "a", "1"), Ops.Put(prefix + "b", "2"), Ops.GetPrefix(prefix), Ops.Delete(prefix + "c", new DeleteOptions { PrevKv = true }),
                Ops.Txn(TxnBuilder.Nested().Then(Ops.Get(prefix + "b")).ToRequest()))
            .CommitAsync();

        Assert.True(txn.Succeeded);
        Assert.Equal(["1", "2", "3"], txn.Responses[2].ResponseRange.Kvs.Select(kv => kv.Value.ToStringUtf8()));
        Assert.Equal("3", Assert.Single(txn.Responses[3].ResponseDeleteRange.PrevKvs).Value.ToStringUtf8());
        Assert.Equal("2", txn.Responses[4].ResponseTxn.Responses[0].ResponseRange.Kvs[0].Value.ToStringUtf8());
        RangeResponse after = await KV.GetPrefixAsync(prefix);
        Assert.Equal(["1", "2"], Values(after));
        Assert.All(after.Kvs, kv => Assert.Equal(txn.Header.Revision, kv.ModRevision));
    }

    [EtcdFact]
    public async Task DuplicateKeysInATxnAreRejectedWithEtcdsMessage()
    {
        string key = Unique("dup") + "k";
        var error = await Assert.ThrowsAsync<EtcdException>(() => KV.Txn().Then(Ops.Put(key, "1"), Ops.Put(key, "2")).CommitAsync());
        Assert.Equal(EtcdError.DuplicateKey, error.Error);
        Assert.Equal(StatusCode.InvalidArgument, error.Code);
    }

    [EtcdFact]
    public async Task CompactDropsOlderRevisions()
    {
        string key = Unique("compact") + "k";
        long old = (await KV.PutAsync(key, "old")).Header.Revision;
        long current = (await KV.PutAsync(key, "new")).Header.Revision;

        await KV.CompactAsync(current, physical: true);

        var compacted = await Assert.ThrowsAsync<EtcdException>(() => KV.GetAsync(key, new GetOptions { Revision = old }));
        Assert.True(compacted.IsCompacted);
        Assert.Equal(StatusCode.OutOfRange, compacted.Code);
        Assert.Equal("etcdserver: mvcc: required revision has been compacted", compacted.Message);
        Assert.Equal("new", Assert.Single((await KV.GetAsync(key, new GetOptions { Revision = current })).Kvs).Value.ToStringUtf8());

        var again = await Assert.ThrowsAsync<EtcdException>(() => KV.CompactAsync(old));
        Assert.True(again.IsCompacted);
        var future = await Assert.ThrowsAsync<EtcdException>(() => KV.CompactAsync(current + 1000));
        Assert.True(future.IsFutureRevision);
    }

    [EtcdFact]
    public async Task AnEmptyKeyIsRejectedWithEtcdsMessage()
    {
        var error = await Assert.ThrowsAsync<EtcdException>(() => KV.PutAsync("", "v"));
        Assert.Equal(EtcdError.EmptyKey, error.Error);
        Assert.Equal("etcdserver: key is not provided", error.Message);
    }

    private static string[] Values(RangeResponse response) => [.. response.Kvs.Select(kv => kv.Value.ToStringUtf8())];
}
