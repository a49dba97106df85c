using System.Runtime.CompilerServices;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;

namespace Dotcd.Client.Concurrency;

/// <summary>
/// Leader election with clientv3's algorithm and key layout, so it interoperates with
/// <c>etcdctl elect NAME</c>:
/// <code>
///   NAME/&lt;lease id in lowercase hex&gt;   value: the candidate's proposal, attached to its session's lease
/// </code>
/// The candidate whose key has the lowest create revision leads; its key's value is the
/// election's current value. <see cref="Revision"/> (that key's create revision) fences the
/// leadership as <see cref="EtcdMutex.Revision"/> fences a lock.
/// </summary>
public sealed class EtcdElection
{
    /// <summary>clientv3's text for ErrElectionNotLeader.</summary>
    public const string NotLeaderMessage = "election: not leader";

    private readonly EtcdSession _session;
    private readonly string _prefix;
    private bool _leading; // This session campaigned and has not resigned or lost a proclaim.

    public EtcdElection(EtcdSession session, string name)
    {
        ArgumentNullException.ThrowIfNull(session);
        _session = session;
        _prefix = name + "/";
    }

    /// <summary>This session's key when campaigning or leading; empty otherwise.</summary>
    public string Key { get; private set; } = "";

    /// <summary>The create revision of <see cref="Key"/>: the fencing token of this leadership.</summary>
    public long Revision { get; private set; }

    /// <summary>The response header of the last successful campaign, proclaim or resign.</summary>
    public ResponseHeader? Header { get; private set; }

    /// <summary>A compare that holds only while this session's leadership lasts.</summary>
    public Compare IsLeader() => Compares.CreateRevision(Key, CompareOperator.Equal, Revision);

    /// <summary>
    /// Puts <paramref name="value"/> up as this session's proposal and waits until it leads. When
    /// cancelled, the candidacy is withdrawn.
    /// </summary>
    public async Task CampaignAsync(string value, CancellationToken cancellationToken = default)
    {
        EtcdClient client = _session.Client;
        string key = $"{_prefix}{_session.LeaseId:x}";
        TxnResponse response = await client.KV.Txn()
            .If(Compares.CreateRevision(key, CompareOperator.Equal, 0))
            .Then(Ops.Put(key, value, new PutOptions { Lease = _session.LeaseId }))
            .Else(Ops.Get(key))
            .CommitAsync(cancellationToken).ConfigureAwait(false);
        (Key, Revision, _leading) = (key, response.Header.Revision, true);
        if (!response.Succeeded)
        {
            // This session already campaigns (a retry, or leadership held across a restart).
            KeyValue existing = response.Responses[0].ResponseRange.Kvs[0];
            Revision = existing.CreateRevision;
            if (existing.Value.ToStringUtf8() != value)
            {
                try
                {
                    await ProclaimAsync(value, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    await ResignQuietlyAsync().ConfigureAwait(false);
                    throw;
                }
            }
        }

        try
        {
            await KeyWaits.WaitDeletesAsync(client, _prefix, Revision - 1, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (cancellationToken.IsCancellationRequested)
            {
                await ResignQuietlyAsync().ConfigureAwait(false);
            }
            else
            {
                _leading = false;
            }

            throw;
        }

        Header = response.Header;
    }

    /// <summary>Changes the leader's value without a new election; throws when this session does not lead.</summary>
    public async Task ProclaimAsync(string value, CancellationToken cancellationToken = default)
    {
        if (!_leading)
        {
            throw new InvalidOperationException(NotLeaderMessage);
        }

        TxnResponse response = await _session.Client.KV.Txn()
            .If(IsLeader())
            .Then(Ops.Put(Key, value, new PutOptions { Lease = _session.LeaseId }))
            .CommitAsync(cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            Key = "";
            _leading = false;
            throw new InvalidOperationException(NotLeaderMessage);
        }

        Header = response.Header;
    }

    /// <summary>Gives up leadership (or candidacy): the next candidate leads.</summary>
    public async Task ResignAsync(CancellationToken cancellationToken = default)
    {
        if (!_leading)
        {
            return;
        }

        try
        {
            TxnResponse response = await _session.Client.KV.Txn()
                .If(IsLeader())
                .Then(Ops.Delete(Key))
                .CommitAsync(cancellationToken).ConfigureAwait(false);
            Header = response.Header;
        }
        finally
        {
            Key = "";
            _leading = false;
        }
    }

    /// <summary>The current leader's key and value; null when nobody leads.</summary>
    public async Task<KeyValue?> LeaderAsync(CancellationToken cancellationToken = default)
    {
        RangeResponse response = await _session.Client.KV.GetPrefixAsync(_prefix, KeyWaits.FirstCreated, cancellationToken).ConfigureAwait(false);
        return response.Kvs.Count == 0 ? null : response.Kvs[0];
    }

    /// <summary>
    /// The leader's key and value now, then every change of either, in order: each new leader and
    /// each proclaimed value (intermediate values may be skipped between leaders, never the latest).
    /// Ends with the watch's error when it fails.
    /// </summary>
    public async IAsyncEnumerable<KeyValue> ObserveAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        EtcdClient client = _session.Client;
        while (true)
        {
            RangeResponse current = await client.KV.GetPrefixAsync(_prefix, KeyWaits.FirstCreated, cancellationToken).ConfigureAwait(false);
            KeyValue? leader = current.Kvs.Count > 0 ? current.Kvs[0] : null;
            long seenAt = current.Header.Revision;
            if (leader is null)
            {
                // Nobody leads: the first key put under the prefix is the next leader.
                using Watcher first = client.Watch.Prefix(_prefix, new WatchOptions { StartRevision = seenAt, NoDelete = true });
                await foreach (WatchResponse response in first.WithCancellation(cancellationToken).ConfigureAwait(false))
                {
                    if (response.Events.Count > 0)
                    {
                        leader = response.Events[0].Kv;
                        seenAt = leader.ModRevision;
                        break;
                    }
                }

                if (leader is null)
                {
                    yield break;
                }
            }

            yield return leader;

            // Follow the leader's key until it is deleted; then find the next leader.
            using Watcher follow = client.Watch.Key(leader.Key.ToByteArray(), new WatchOptions { StartRevision = seenAt + 1 });
            bool deleted = false;
            await foreach (WatchResponse response in follow.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                foreach (Event change in response.Events)
                {
                    if (change.Type == Event.Types.EventType.Delete)
                    {
                        deleted = true;
                        break;
                    }

                    yield return change.Kv;
                }

                if (deleted)
                {
                    break;
                }
            }

            if (!deleted)
            {
                yield break;
            }
        }
    }

    private async Task ResignQuietlyAsync()
    {
        try
        {
            // A fresh deadline: the caller's token may be the reason we are here.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await ResignAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is EtcdException or OperationCanceledException or ObjectDisposedException)
        {
            // The key goes with the session's lease in the end.
        }
    }
}
