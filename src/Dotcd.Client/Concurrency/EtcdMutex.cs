using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client.Concurrency;

/// <summary>
/// A distributed lock with etcd's clientv3 algorithm and key layout, so it excludes
/// <c>etcdctl lock NAME</c> and Go programs locking the same name:
/// <code>
///   NAME/&lt;lease id in lowercase hex&gt;   value "", attached to the session's lease
/// </code>
/// Every contender puts its key; the key with the lowest create revision holds the lock. A
/// contender waits for the deletion of the newest key older than its own, again and again, until
/// none is older. The holder's create revision (<see cref="Revision"/>) grows with every new
/// holder: pass it to the guarded resource as a fencing token, or put <see cref="IsOwner"/> in a
/// transaction, so a holder that lost its lease (a long pause, a partition) cannot write late.
/// </summary>
public sealed class EtcdMutex
{
    private readonly EtcdSession _session;
    private readonly string _prefix;

    public EtcdMutex(EtcdSession session, string name)
    {
        ArgumentNullException.ThrowIfNull(session);
        _session = session;
        _prefix = name + "/";
    }

    /// <summary>This session's key under the lock's name; empty when not locked.</summary>
    public string Key { get; private set; } = "";

    /// <summary>The create revision of <see cref="Key"/>: the fencing token of this holding. -1 when not locked.</summary>
    public long Revision { get; private set; } = -1;

    /// <summary>The response header of the read or write that made this session the holder.</summary>
    public ResponseHeader? Header { get; private set; }

    /// <summary>A compare that holds only while this session still holds the lock it acquired.</summary>
    public Compare IsOwner() => Compares.CreateRevision(Key, CompareOperator.Equal, Revision);

    /// <summary>
    /// Waits until this session holds the lock. If the wait fails or is cancelled, this session's
    /// key is deleted so it does not block others. Throws <see cref="LeaseExpiredException"/> when
    /// the session's lease (and with it the key) vanished while waiting.
    /// </summary>
    public async Task LockAsync(CancellationToken cancellationToken = default)
    {
        (TxnResponse response, bool holds) = await EnqueueAsync(cancellationToken).ConfigureAwait(false);
        if (holds)
        {
            Header = response.Header;
            return;
        }

        EtcdClient client = _session.Client;
        try
        {
            await KeyWaits.WaitDeletesAsync(client, _prefix, Revision - 1, cancellationToken).ConfigureAwait(false);

            // Every older key is gone; ours must still be there, or the session expired meanwhile.
            RangeResponse mine = await client.KV.GetAsync(Key, call: cancellationToken).ConfigureAwait(false);
            if (mine.Kvs.Count == 0)
            {
                Reset();
                throw new LeaseExpiredException(_session.LeaseId, serverConfirmed: true);
            }

            Header = mine.Header;
        }
        catch (Exception e) when (e is not LeaseExpiredException)
        {
            await AbandonAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Takes the lock if nobody holds it; false (and no key left behind) otherwise.</summary>
    public async Task<bool> TryLockAsync(CancellationToken cancellationToken = default)
    {
        (TxnResponse response, bool holds) = await EnqueueAsync(cancellationToken).ConfigureAwait(false);
        if (holds)
        {
            Header = response.Header;
            return true;
        }

        await _session.Client.KV.DeleteAsync(Key, call: cancellationToken).ConfigureAwait(false);
        Reset();
        return false;
    }

    /// <summary>Releases the lock (deletes this session's key); the next contender then holds it.</summary>
    public async Task UnlockAsync(CancellationToken cancellationToken = default)
    {
        await _session.Client.KV.DeleteAsync(Key, call: cancellationToken).ConfigureAwait(false);
        Reset();
    }

    /// <summary>
    /// Puts this session's key (or finds it, when the session already contends) and reads the
    /// oldest key in one transaction; true when that is ours.
    /// </summary>
    private async Task<(TxnResponse Response, bool Holds)> EnqueueAsync(CancellationToken cancellationToken)
    {
        Key = $"{_prefix}{_session.LeaseId:x}";
        TxnResponse response = await _session.Client.KV.Txn()
            .If(Compares.CreateRevision(Key, CompareOperator.Equal, 0))
            .Then(Ops.Put(Key, "", new PutOptions { Lease = _session.LeaseId }), Ops.GetPrefix(_prefix, KeyWaits.FirstCreated))
            .Else(Ops.Get(Key), Ops.GetPrefix(_prefix, KeyWaits.FirstCreated))
            .CommitAsync(cancellationToken).ConfigureAwait(false);
        Revision = response.Succeeded ? response.Header.Revision : response.Responses[0].ResponseRange.Kvs[0].CreateRevision;
        var oldest = response.Responses[1].ResponseRange.Kvs;
        return (response, oldest.Count == 0 || oldest[0].CreateRevision == Revision);
    }

    // Best effort, on a fresh deadline: the caller's token may be the reason we are here.
    private async Task AbandonAsync()
    {
        try
        {
            await _session.Client.KV.DeleteAsync(Key, call: EtcdCallOptions.WithTimeout(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
            Reset();
        }
        catch (Exception e) when (e is EtcdException or OperationCanceledException or ObjectDisposedException)
        {
            // The key goes with the session's lease in the end.
        }
    }

    private void Reset()
    {
        Key = "";
        Revision = -1;
    }
}
