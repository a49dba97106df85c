using System.Buffers.Binary;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Mvcc;
using Dotcd.Mvcc.Backend;
using Dotcd.Server.Apply;
using Dotcd.Storage;
using Google.Protobuf;
using LeaseRecord = Dotcd.Api.Leasepb.Lease;

namespace Dotcd.Server.Leases;

/// <summary>
/// etcd's lessor, the replicated half: the leases, their TTLs and attached keys, changed only by
/// applied entries (LeaseGrant, LeaseRevoke, LeaseCheckpoint, and the KV writes that attach and
/// detach keys) and persisted in the lease bucket inside the apply loop's backend transaction.
/// </summary>
/// <remarks>
/// Nothing here reads a clock: every member reaches the same state from the same entries. Time
/// belongs to <see cref="LeaseExpiry"/>, which runs on the leader; the apply side leaves it a
/// queue of what changed (TakeEvents) and never waits for it.
/// <code>
/// lease bucket:  key   = lease ID, 8 bytes big-endian (etcd's int64ToBytes)
///                value = leasepb.Lease { ID = 1, TTL = 2, RemainingTTL = 3 }
/// </code>
/// </remarks>
public sealed class Lessor : ILeaseLookup, ILeaseAttachments
{
    /// <summary>etcd's MaxLeaseTTL: a longer TTL is refused ("too large lease TTL").</summary>
    public const long MaxTtlSeconds = 9_000_000_000;

    // All state below is guarded by Gate; LeaseExpiry takes the same lock.
    private readonly Dictionary<long, Lease> _leases = [];
    private readonly Dictionary<ByteString, long> _keyLeases = []; // Invariant: key k maps to L iff _leases[L].Keys holds k.
    private readonly List<LeaseEvent> _events = [];                 // Applied changes LeaseExpiry has not seen yet.
    private int _attachedKeys;                                      // _keyLeases.Count, readable without the lock.
    private Action? _eventsQueued;

    private Lessor(long minTtlSeconds) => MinTtlSeconds = minTtlSeconds;

    /// <summary>The one lock of the lease state (the lessor's and the leader's expiry half).</summary>
    internal Lock Gate { get; } = new();

    /// <summary>
    /// Called on the apply thread, outside the lock, when an event lands in an empty queue: the
    /// expiry loop takes a look at once, so a new lease's expiry starts as soon as it is applied.
    /// </summary>
    internal void OnEventsQueued(Action? wake) => _eventsQueued = wake;

    /// <summary>Where grants, revokes, renewals and expiries are counted; null: not counted.</summary>
    public LeaseMetrics? Metrics { get; set; }

    /// <summary>etcd's minLeaseTTL: shorter TTLs are raised to it.</summary>
    public long MinTtlSeconds { get; }

    /// <summary>etcd's minimum TTL for a member: ceil((3 * electionTicks / 2) * heartbeat) in seconds.</summary>
    public static long MinTtlFor(int electionTicks, TimeSpan heartbeatInterval)
    {
        TimeSpan minimum = (3 * electionTicks / 2) * heartbeatInterval;
        return (long)Math.Ceiling(minimum.TotalSeconds);
    }

    /// <summary>
    /// Loads the persisted leases (TTLs raised to today's minimum, no expiry until a leader
    /// promotes them) and attaches every live key that names one (etcd's initAndRecover plus the
    /// key restore of mvcc).
    /// </summary>
    public static Lessor Open(MvccStore store, long minTtlSeconds, IStorageLog? log = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var lessor = new Lessor(minTtlSeconds);
        foreach (KeyValuePair<byte[], byte[]> row in store.ReadBucket(Bucket.Lease))
        {
            LeaseRecord record;
            try
            {
                record = LeaseRecord.Parser.ParseFrom(row.Value);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new InvalidDataException($"failed to Unmarshal lease proto item; lease ID={Hex(IdFromKey(row.Key))}", e);
            }

            long ttl = Math.Max(record.TTL, minTtlSeconds);
            lessor._leases[record.ID] = new Lease(record.ID, ttl, record.RemainingTTL);
        }

        foreach ((byte[] key, long leaseId) in store.KeysWithLeases())
        {
            if (lessor._leases.TryGetValue(leaseId, out Lease? lease))
            {
                ByteString k = UnsafeByteOperations.UnsafeWrap(key);
                lease.Keys.Add(k);
                lessor._keyLeases[k] = leaseId;
            }
            else
            {
                log?.Write(StorageLogLevel.Warn, "failed to attach a lease", ("lease-id", Hex(leaseId)), ("error", "lease not found"));
            }
        }

        lessor._attachedKeys = lessor._keyLeases.Count;
        return lessor;
    }

    /// <summary>How many leases exist.</summary>
    public int Count
    {
        get
        {
            lock (Gate)
            {
                return _leases.Count;
            }
        }
    }

    public bool Exists(long leaseId)
    {
        lock (Gate)
        {
            return _leases.ContainsKey(leaseId);
        }
    }

    // ---- Applied entries --------------------------------------------------------------------

    /// <summary>etcd's applierV3backend.LeaseGrant: the ID was chosen before proposing.</summary>
    public ApplyResult<LeaseGrantResponse> Grant(MvccStore.WriteBatch batch, LeaseGrantRequest request)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(request);
        if (request.ID == 0)
        {
            return EtcdErrors.LeaseNotFound; // etcd's Grant refuses NoLease with ErrLeaseNotFound.
        }

        if (request.TTL > MaxTtlSeconds)
        {
            return EtcdErrors.LeaseTtlTooLarge;
        }

        Lease lease;
        bool wake;
        lock (Gate)
        {
            if (_leases.ContainsKey(request.ID))
            {
                return EtcdErrors.LeaseExists;
            }

            lease = new Lease(request.ID, Math.Max(request.TTL, MinTtlSeconds), 0);
            _leases.Add(lease.Id, lease);
            wake = Queue(new LeaseEvent(LeaseEventKind.Granted, lease));
        }

        Persist(batch, lease);
        Wake(wake);
        Metrics?.Granted.Inc();
        Metrics?.Ttls.Observe(lease.TtlSeconds);
        return new LeaseGrantResponse
        {
            Header = new ResponseHeader { Revision = batch.CurrentRevision },
            ID = lease.Id,
            TTL = lease.TtlSeconds,
        };
    }

    /// <summary>
    /// etcd's Revoke: deletes every attached key in one write txn (one revision, keys in byte
    /// order so every member writes the same rows) and the lease's row, in the same batch.
    /// </summary>
    public ApplyResult<LeaseRevokeResponse> Revoke(MvccStore.WriteBatch batch, LeaseRevokeRequest request)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(request);
        Lease? lease;
        ByteString[] keys;
        lock (Gate)
        {
            if (!_leases.TryGetValue(request.ID, out lease))
            {
                return EtcdErrors.LeaseNotFound;
            }

            keys = [.. lease.Keys];
        }

        if (keys.Length > 0)
        {
            Array.Sort(keys, static (a, b) => a.Span.SequenceCompareTo(b.Span));
            using WriteTxn txn = batch.BeginWrite();
            foreach (ByteString key in keys)
            {
                txn.DeleteRange(KeyRange.Single(key.Memory));
            }

            Track(txn.Changes);
        }

        bool wake;
        lock (Gate)
        {
            _leases.Remove(lease.Id);
            wake = Queue(new LeaseEvent(LeaseEventKind.Revoked, lease));
        }

        batch.Delete(Bucket.Lease, KeyOf(lease.Id));
        lease.Revoked.TrySetResult();
        Wake(wake);
        Metrics?.Revoked.Inc();
        return new LeaseRevokeResponse { Header = new ResponseHeader { Revision = batch.CurrentRevision } };
    }

    /// <summary>
    /// etcd's Checkpoint: records each lease's remaining TTL (0 clears it) and persists it, as
    /// etcd does once the cluster is at 3.6 (the version dotcd reports), so the remainder also
    /// survives a restart. A leader applies it to the expiry only when it is promoted.
    /// </summary>
    public LeaseCheckpointResponse Checkpoint(MvccStore.WriteBatch batch, LeaseCheckpointRequest request)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(request);
        var changed = new List<Lease>(request.Checkpoints.Count);
        bool wake = false;
        lock (Gate)
        {
            foreach (LeaseCheckpoint checkpoint in request.Checkpoints)
            {
                if (_leases.TryGetValue(checkpoint.ID, out Lease? lease))
                {
                    lease.RemainingTtlSeconds = checkpoint.RemainingTTL;
                    changed.Add(lease);
                    wake |= Queue(new LeaseEvent(LeaseEventKind.Checkpointed, lease));
                }
            }
        }

        foreach (Lease lease in changed)
        {
            Persist(batch, lease);
        }

        Wake(wake);
        return new LeaseCheckpointResponse { Header = new ResponseHeader { Revision = batch.CurrentRevision } };
    }

    /// <summary>
    /// The apply loop saw a leader's empty entry of term (etcd promotes its lessor there when it
    /// leads: every entry of earlier terms is applied by then).
    /// </summary>
    public void NewTermApplied(ulong term)
    {
        bool wake;
        lock (Gate)
        {
            wake = Queue(new LeaseEvent(LeaseEventKind.NewTerm, null, term));
        }

        Wake(wake);
    }

    public void Track(IReadOnlyList<MvccChange> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (Volatile.Read(ref _attachedKeys) == 0 && !AnyLease(changes))
        {
            return; // Nothing attached and nothing to attach: the common write skips the lock.
        }

        lock (Gate)
        {
            foreach (MvccChange change in changes)
            {
                ByteString key = change.Kv.Key;
                long leaseId = change.IsDelete ? 0 : change.Kv.Lease;
                if (_keyLeases.TryGetValue(key, out long previous))
                {
                    if (previous == leaseId)
                    {
                        continue;
                    }

                    _keyLeases.Remove(key);
                    if (_leases.TryGetValue(previous, out Lease? old))
                    {
                        old.Keys.Remove(key);
                    }
                }

                if (leaseId != 0 && _leases.TryGetValue(leaseId, out Lease? lease))
                {
                    lease.Keys.Add(key);
                    _keyLeases[key] = leaseId;
                }
            }

            Volatile.Write(ref _attachedKeys, _keyLeases.Count);
        }
    }

    // ---- Reads (any thread) ------------------------------------------------------------------

    /// <summary>The lease's granted TTL and attached keys (byte order), or null when it does not exist.</summary>
    public (long TtlSeconds, long RemainingTtlSeconds, IReadOnlyList<ByteString> Keys)? Describe(long leaseId)
    {
        lock (Gate)
        {
            if (!_leases.TryGetValue(leaseId, out Lease? lease))
            {
                return null;
            }

            ByteString[] keys = [.. lease.Keys];
            Array.Sort(keys, static (a, b) => a.Span.SequenceCompareTo(b.Span));
            return (lease.TtlSeconds, lease.RemainingTtlSeconds, keys);
        }
    }

    /// <summary>The lease a key is attached to; 0 for none (etcd's GetLease).</summary>
    public long LeaseOf(ByteString key)
    {
        lock (Gate)
        {
            return _keyLeases.GetValueOrDefault(key);
        }
    }

    // ---- For LeaseExpiry (callers hold Gate) ---------------------------------------------------

    internal Dictionary<long, Lease> LeasesUnderLock => _leases;

    /// <summary>Moves the queued events into output; the caller holds Gate.</summary>
    internal void TakeEvents(List<LeaseEvent> output)
    {
        output.AddRange(_events);
        _events.Clear();
    }

    // Queues an event; true when the queue was empty (the one case that needs a wake-up). Caller holds Gate.
    private bool Queue(LeaseEvent e)
    {
        _events.Add(e);
        return _events.Count == 1;
    }

    private void Wake(bool wake)
    {
        if (wake)
        {
            _eventsQueued?.Invoke();
        }
    }

    private static void Persist(MvccStore.WriteBatch batch, Lease lease)
    {
        var record = new LeaseRecord { ID = lease.Id, TTL = lease.TtlSeconds, RemainingTTL = lease.RemainingTtlSeconds };
        batch.Put(Bucket.Lease, KeyOf(lease.Id), record.ToByteArray());
    }

    internal static byte[] KeyOf(long leaseId)
    {
        byte[] key = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(key, leaseId);
        return key;
    }

    private static long IdFromKey(byte[] key) =>
        key.Length == 8 ? BinaryPrimitives.ReadInt64BigEndian(key) : throw new InvalidDataException("lease ID must be 8-byte");

    internal static string Hex(long leaseId) => ((ulong)leaseId).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    private static bool AnyLease(IReadOnlyList<MvccChange> changes)
    {
        foreach (MvccChange change in changes)
        {
            if (!change.IsDelete && change.Kv.Lease != 0)
            {
                return true;
            }
        }

        return false;
    }
}

internal enum LeaseEventKind
{
    Granted,
    Revoked,
    Checkpointed,
    NewTerm,
}

/// <summary>An applied change the leader's expiry half has to take into account.</summary>
internal readonly record struct LeaseEvent(LeaseEventKind Kind, Lease? Lease, ulong Term = 0);
