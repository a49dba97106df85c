using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Server.Leases;

/// <summary>How the leader's lease clock behaves (etcd's LessorConfig and its constants).</summary>
public sealed record LeaseExpiryOptions
{
    /// <summary>Added to every TTL when this member is promoted (etcd: the election timeout).</summary>
    public TimeSpan ExtendOnPromote { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long after proposing a revoke the lease is looked at again (etcd: the request timeout).</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(7);

    /// <summary>Between remaining-TTL checkpoints of a lease; null: checkpoints off (--experimental-enable-lease-checkpoint).</summary>
    public TimeSpan? CheckpointInterval { get; init; }

    /// <summary>The longest the loop sleeps between looks (etcd polls every 500 ms).</summary>
    public TimeSpan MaxSleep { get; init; } = TimeSpan.FromMilliseconds(500);
}

/// <summary>What renewing a lease came to.</summary>
public enum RenewStatus
{
    Renewed,

    /// <summary>No such lease, or it expired and its revoke was applied meanwhile.</summary>
    NotFound,

    /// <summary>This member is not (or no longer) the primary: only the leader renews.</summary>
    NotPrimary,
}

/// <summary>What the expiry loop must propose now.</summary>
internal readonly record struct LeaseWork(List<long> Expired, List<LeaseCheckpoint> Checkpoints, long WaitTicks);

/// <summary>
/// etcd's primary lessor: the leader's clock over the leases. Expiries exist only while this
/// member is the primary (promoted when it applies the empty entry of a term it leads, demoted
/// the moment it stops leading); an expired lease is revoked through raft by the loop
/// (<see cref="RunAsync"/>), renewals reset the expiry without raft.
/// </summary>
/// <remarks>
/// Clock values are <see cref="TimeSpan"/> ticks since this object was made, read through the
/// TimeProvider (monotonic timestamps). Applied changes reach here through the lessor's event
/// queue, taken under the shared lock (<see cref="Lessor.Gate"/>) before any decision: the apply
/// thread never waits for this half and never reads its clock.
/// </remarks>
public sealed partial class LeaseExpiry
{
    private const int RevokeBatch = 500;          // etcd: leaseRevokeRate / 2 per look.
    private const int CheckpointBatch = 1000;     // etcd: maxLeaseCheckpointBatchSize.
    private const int PileUpThreshold = 1000;     // etcd: leaseRevokeRate; fewer leases cannot pile up.
    private const int TargetExpiresPerSecond = 750;

    private readonly Lessor _lessor;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly Func<ulong, bool> _leadsTerm;
    private readonly LeaseExpiryOptions _options;
    private readonly List<LeaseEvent> _events = [];

    // Guarded by _lessor.Gate.
    private bool _primary;
    private TaskCompletionSource _demoted = Completed();   // Completes when the current primacy ends.
    private TaskCompletionSource _promoted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SortedSet<(long At, long Id)> _notify = [];     // Invariant: holds (l.NotifyAt, l.Id) for each lease with NotifyAt != Forever.
    private readonly PriorityQueue<long, long> _checkpoints = new(); // Lease IDs by due time; an entry counts only while it equals the lease's CheckpointAt.

    /// <param name="leadsTerm">True when this member is the leader of the given term right now.</param>
    public LeaseExpiry(Lessor lessor, TimeProvider time, Func<ulong, bool> leadsTerm, LeaseExpiryOptions options)
    {
        ArgumentNullException.ThrowIfNull(lessor);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(leadsTerm);
        ArgumentNullException.ThrowIfNull(options);
        _lessor = lessor;
        _time = time;
        _origin = time.GetTimestamp();
        _leadsTerm = leadsTerm;
        _options = options;
    }

    public Lessor Lessor => _lessor;

    public LeaseExpiryOptions Options => _options;

    /// <summary>True while this member manages expiries.</summary>
    public bool IsPrimary
    {
        get
        {
            lock (_lessor.Gate)
            {
                Sync(Now);
                return _primary;
            }
        }
    }

    /// <summary>Completes the next time this member becomes the primary (at once if it is).</summary>
    public Task WhenPrimary
    {
        get
        {
            lock (_lessor.Gate)
            {
                Sync(Now);
                return _primary ? Task.CompletedTask : _promoted.Task;
            }
        }
    }

    private long Now => _time.GetElapsedTime(_origin).Ticks;

    /// <summary>etcd's Demote: every lease lives forever here until this member is promoted again.</summary>
    public void Demote()
    {
        lock (_lessor.Gate)
        {
            foreach (Lease lease in _lessor.LeasesUnderLock.Values)
            {
                lease.Expiry = Lease.Forever;
                lease.NotifyAt = Lease.Forever;
                lease.CheckpointAt = Lease.Forever;
            }

            _notify.Clear();
            _checkpoints.Clear();
            if (_primary)
            {
                _primary = false;
                _demoted.TrySetResult();
                _promoted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>
    /// etcd's Renew: the leader resets the lease's expiry to a full TTL and answers the granted
    /// TTL. An expired lease waits for its revoke (NotFound) or this member's demotion. With
    /// checkpoints on, a checkpointed remainder is first cleared through raft.
    /// </summary>
    public async Task<(RenewStatus Status, long TtlSeconds)> RenewAsync(
        long leaseId, Func<LeaseCheckpointRequest, CancellationToken, Task>? proposeCheckpoint, CancellationToken cancellationToken)
    {
        Lease? lease;
        Task? revoked = null, demoted = null;
        bool clearRemaining;
        lock (_lessor.Gate)
        {
            long now = Now;
            Sync(now);
            if (!_primary)
            {
                return (RenewStatus.NotPrimary, -1);
            }

            if (!_lessor.LeasesUnderLock.TryGetValue(leaseId, out lease))
            {
                return (RenewStatus.NotFound, -1);
            }

            if (lease.Expiry <= now)
            {
                revoked = lease.Revoked.Task;
                demoted = _demoted.Task;
            }

            clearRemaining = _options.CheckpointInterval is not null && proposeCheckpoint is not null && lease.RemainingTtlSeconds > 0;
        }

        if (revoked is not null)
        {
            Task done = await Task.WhenAny(revoked, demoted!).WaitAsync(cancellationToken).ConfigureAwait(false);
            return (done == revoked ? RenewStatus.NotFound : RenewStatus.NotPrimary, -1);
        }

        if (clearRemaining)
        {
            var clear = new LeaseCheckpointRequest { Checkpoints = { new LeaseCheckpoint { ID = leaseId, RemainingTTL = 0 } } };
            await proposeCheckpoint!(clear, cancellationToken).ConfigureAwait(false);
        }

        lock (_lessor.Gate)
        {
            long now = Now;
            Sync(now);
            if (!_primary)
            {
                return (RenewStatus.NotPrimary, -1);
            }

            if (!_lessor.LeasesUnderLock.TryGetValue(leaseId, out Lease? current) || current != lease)
            {
                return (RenewStatus.NotFound, -1);
            }

            Refresh(lease, 0, now);
            _lessor.Metrics?.Renewed.Inc();
            return (RenewStatus.Renewed, lease.TtlSeconds);
        }
    }

    /// <summary>
    /// etcd's TimeToLive on the leader: the remaining seconds (truncated, as Go's int64 of a
    /// float), the granted TTL and, when asked, the keys in byte order; null when no such lease.
    /// </summary>
    public LeaseTimeToLiveResponse? TimeToLive(long leaseId, bool keys)
    {
        lock (_lessor.Gate)
        {
            long now = Now;
            Sync(now);
            if (!_lessor.LeasesUnderLock.TryGetValue(leaseId, out Lease? lease))
            {
                return null;
            }

            var response = new LeaseTimeToLiveResponse
            {
                Header = new ResponseHeader(),
                ID = leaseId,
                TTL = RemainingSeconds(lease, now),
                GrantedTTL = lease.TtlSeconds,
            };
            if (keys)
            {
                var sorted = lease.Keys.ToArray();
                Array.Sort(sorted, static (a, b) => a.Span.SequenceCompareTo(b.Span));
                response.Keys.AddRange(sorted);
            }

            return response;
        }
    }

    /// <summary>etcd's Leases: every lease ID, soonest expiry first.</summary>
    public IReadOnlyList<long> Leases()
    {
        lock (_lessor.Gate)
        {
            Sync(Now);
            var leases = _lessor.LeasesUnderLock.Values.ToList();
            leases.Sort(static (a, b) => a.Expiry != b.Expiry ? a.Expiry.CompareTo(b.Expiry) : a.Id.CompareTo(b.Id));
            return leases.ConvertAll(static l => l.Id);
        }
    }

    /// <summary>
    /// The expired leases to revoke (each looked at again after RetryInterval, in case the revoke
    /// does not get through) and the checkpoints that are due; WaitTicks is how long until the next look is due.
    /// </summary>
    internal LeaseWork Poll()
    {
        var expired = new List<long>();
        var checkpoints = new List<LeaseCheckpoint>();
        lock (_lessor.Gate)
        {
            long now = Now;
            Sync(now);
            if (!_primary)
            {
                return new LeaseWork(expired, checkpoints, Lease.Forever);
            }

            Dictionary<long, Lease> leases = _lessor.LeasesUnderLock;
            while (expired.Count < RevokeBatch && _notify.Count > 0 && _notify.Min.At <= now)
            {
                (long at, long id) = _notify.Min;
                _notify.Remove((at, id));
                if (!leases.TryGetValue(id, out Lease? lease))
                {
                    continue;
                }

                SetNotifyAt(lease, now + _options.RetryInterval.Ticks);
                if (lease.Expiry <= now)
                {
                    expired.Add(id);
                }
            }

            if (_options.CheckpointInterval is not null)
            {
                while (checkpoints.Count < CheckpointBatch && _checkpoints.TryPeek(out long id, out long due) && due <= now)
                {
                    _checkpoints.Dequeue();
                    if (!leases.TryGetValue(id, out Lease? lease) || lease.CheckpointAt != due)
                    {
                        continue; // Revoked, or a stale entry.
                    }

                    lease.CheckpointAt = Lease.Forever;
                    if (now >= lease.Expiry)
                    {
                        continue;
                    }

                    long remaining = (long)Math.Ceiling((double)(lease.Expiry - now) / TimeSpan.TicksPerSecond);
                    if (remaining < lease.TtlSeconds)
                    {
                        checkpoints.Add(new LeaseCheckpoint { ID = id, RemainingTTL = remaining });
                    }
                }
            }

            long next = Lease.Forever;
            if (_notify.Count > 0)
            {
                next = _notify.Min.At;
            }

            if (_checkpoints.TryPeek(out _, out long checkpointDue))
            {
                next = Math.Min(next, checkpointDue);
            }

            return new LeaseWork(expired, checkpoints, next == Lease.Forever ? Lease.Forever : next - now);
        }
    }

    // Takes the lessor's queued events into account; the caller holds Gate.
    private void Sync(long now)
    {
        _lessor.TakeEvents(_events);
        if (_events.Count == 0)
        {
            return;
        }

        Dictionary<long, Lease> leases = _lessor.LeasesUnderLock;
        foreach (LeaseEvent e in _events)
        {
            switch (e.Kind)
            {
                case LeaseEventKind.Granted when _primary && leases.ContainsKey(e.Lease!.Id):
                    Refresh(e.Lease, 0, now);
                    ScheduleCheckpoint(e.Lease, now);
                    break;
                case LeaseEventKind.Checkpointed when _primary && leases.ContainsKey(e.Lease!.Id):
                    ScheduleCheckpoint(e.Lease, now);
                    break;
                case LeaseEventKind.Revoked:
                    SetNotifyAt(e.Lease!, Lease.Forever);
                    e.Lease!.Expiry = Lease.Forever;
                    break;
                case LeaseEventKind.NewTerm when _leadsTerm(e.Term):
                    Promote(now);
                    break;
            }
        }

        _events.Clear();
    }

    // etcd's Promote: every lease gets its (remaining) TTL plus the election timeout from now;
    // with many leases, expiries bunched within a second are spread out so that revoking them
    // does not flood raft.
    private void Promote(long now)
    {
        if (!_primary)
        {
            _primary = true;
            _demoted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _promoted.TrySetResult();
        }

        long extend = _options.ExtendOnPromote.Ticks;
        Dictionary<long, Lease> leases = _lessor.LeasesUnderLock;
        foreach (Lease lease in leases.Values)
        {
            Refresh(lease, extend, now);
            ScheduleCheckpoint(lease, now);
        }

        if (leases.Count < PileUpThreshold)
        {
            return;
        }

        var sorted = leases.Values.ToList();
        sorted.Sort(static (a, b) => a.Expiry.CompareTo(b.Expiry));
        long baseWindow = sorted[0].Expiry - now;
        long nextWindow = baseWindow + TimeSpan.TicksPerSecond;
        int expires = 0;
        foreach (Lease lease in sorted)
        {
            long remaining = lease.Expiry - now;
            if (remaining > nextWindow)
            {
                baseWindow = remaining;
                nextWindow = baseWindow + TimeSpan.TicksPerSecond;
                expires = 1;
                continue;
            }

            expires++;
            if (expires <= TargetExpiresPerSecond)
            {
                continue;
            }

            double rateDelay = TimeSpan.TicksPerSecond * ((double)expires / TargetExpiresPerSecond);
            rateDelay -= remaining - baseWindow; // Leases already further out need less delay.
            long delay = (long)rateDelay;
            nextWindow = baseWindow + delay;
            Refresh(lease, delay + extend, now);
            ScheduleCheckpoint(lease, now);
        }
    }

    // etcd's refresh: expiry = now + extend + the remaining (or full) TTL.
    private void Refresh(Lease lease, long extend, long now)
    {
        long ttl = lease.EffectiveRemainingTtlSeconds;
        long expiry = ttl >= (Lease.Forever - now - extend) / TimeSpan.TicksPerSecond
            ? Lease.Forever - 1
            : now + extend + ttl * TimeSpan.TicksPerSecond;
        lease.Expiry = expiry;
        SetNotifyAt(lease, expiry);
    }

    private void SetNotifyAt(Lease lease, long at)
    {
        if (lease.NotifyAt != Lease.Forever)
        {
            _notify.Remove((lease.NotifyAt, lease.Id));
        }

        lease.NotifyAt = at;
        if (at != Lease.Forever)
        {
            _notify.Add((at, lease.Id));
        }
    }

    private void ScheduleCheckpoint(Lease lease, long now)
    {
        if (_options.CheckpointInterval is not { } interval)
        {
            return;
        }

        if (lease.CheckpointAt == Lease.Forever && lease.EffectiveRemainingTtlSeconds > (long)interval.TotalSeconds)
        {
            lease.CheckpointAt = now + interval.Ticks;
            _checkpoints.Enqueue(lease.Id, lease.CheckpointAt);
        }
    }

    // Go's int64(d.Seconds()): truncated toward zero; a lease without expiry reports MaxInt64 ns.
    private static long RemainingSeconds(Lease lease, long now)
    {
        if (lease.Expiry == Lease.Forever)
        {
            return long.MaxValue / 1_000_000_000;
        }

        return (lease.Expiry - now) / TimeSpan.TicksPerSecond;
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }
}
