using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;

namespace Dotcd.Client.Concurrency;

/// <summary>The waits the lock and election recipes share: "until every older contender's key is gone".</summary>
internal static class KeyWaits
{
    /// <summary>Range options of "the oldest key under the prefix" (clientv3's WithFirstCreate).</summary>
    public static GetOptions FirstCreated { get; } = new() { SortTarget = SortTarget.CreateRevision, SortOrder = SortOrder.Ascend, Limit = 1 };

    /// <summary>
    /// Waits until no key under <paramref name="prefix"/> was created at or before
    /// <paramref name="maxCreateRevision"/>; returns the header of the read that saw none. Each
    /// round waits for the newest such key only, so contenders are woken one at a time rather
    /// than all at once.
    /// </summary>
    public static async Task<ResponseHeader> WaitDeletesAsync(EtcdClient client, string prefix, long maxCreateRevision, CancellationToken cancellationToken)
    {
        var newestOlder = new GetOptions
        {
            SortTarget = SortTarget.CreateRevision, SortOrder = SortOrder.Descend, Limit = 1, MaxCreateRevision = maxCreateRevision,
        };
        while (true)
        {
            RangeResponse older = await client.KV.GetPrefixAsync(prefix, newestOlder, cancellationToken).ConfigureAwait(false);
            if (older.Kvs.Count == 0)
            {
                return older.Header;
            }

            await WaitDeleteAsync(client, older.Kvs[0].Key.ToByteArray(), older.Header.Revision, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for a DELETE of <paramref name="key"/> at or after <paramref name="revision"/>.</summary>
    public static async Task WaitDeleteAsync(EtcdClient client, byte[] key, long revision, CancellationToken cancellationToken)
    {
        using Watcher watcher = client.Watch.Key(key, new WatchOptions { StartRevision = revision });
        await foreach (WatchResponse response in watcher.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            foreach (Event change in response.Events)
            {
                if (change.Type == Event.Types.EventType.Delete)
                {
                    return;
                }
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        throw new InvalidOperationException("lost watcher waiting for delete");
    }
}
