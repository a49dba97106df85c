using Dotcd.Api.Etcdserverpb;
using Dotcd.Mvcc;
using Dotcd.Server.Apply;
using Dotcd.Server.Leases;
using Google.Protobuf;

namespace Dotcd.Server.Tests.Leases;

/// <summary>A clock that moves only when told: wall time, monotonic timestamps and timers together.</summary>
internal sealed class FakeClock : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly List<FakeTimer> _timers = [];
    private long _ticks; // TimeSpan ticks since the start.

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp()
    {
        lock (_lock)
        {
            return _ticks;
        }
    }

    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(GetTimestamp());

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new FakeTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves the clock and fires the timers that came due.</summary>
    public void Advance(TimeSpan by)
    {
        List<FakeTimer> due;
        lock (_lock)
        {
            _ticks += by.Ticks;
            due = _timers.Where(t => t.Due <= _ticks).ToList();
            foreach (FakeTimer timer in due)
            {
                _timers.Remove(timer);
            }
        }

        foreach (FakeTimer timer in due)
        {
            timer.Fire();
        }
    }

    private sealed class FakeTimer(FakeClock clock, TimerCallback callback, object? state) : ITimer
    {
        public long Due;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._lock)
            {
                clock._timers.Remove(this);
                if (dueTime != Timeout.InfiniteTimeSpan)
                {
                    Due = clock._ticks + dueTime.Ticks;
                    clock._timers.Add(this);
                }
            }

            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (clock._lock)
            {
                clock._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>
/// A backend, a lessor and a KV applier wired as a member wires them, driven by hand: each call
/// is one applied entry in its own batch. Reopen closes the store and loads everything again.
/// </summary>
internal sealed class LessorHarness : IDisposable
{
    private readonly string _directory;

    public LessorHarness(long minTtlSeconds = 2)
    {
        MinTtlSeconds = minTtlSeconds;
        _directory = Path.Combine(Path.GetTempPath(), "dotcd-lease-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        Open();
    }

    public long MinTtlSeconds { get; private set; }

    public MvccStore Store { get; private set; } = null!;

    public Lessor Lessor { get; private set; } = null!;

    public KvApplier Kv { get; private set; } = null!;

    /// <summary>The changes the last batch committed (what watchers would see).</summary>
    public IReadOnlyList<MvccChange> LastChanges { get; private set; } = [];

    public T InBatch<T>(Func<MvccStore.WriteBatch, T> apply)
    {
        using MvccStore.WriteBatch batch = Store.BeginBatch();
        T result = apply(batch);
        LastChanges = [.. batch.Commit()];
        return result;
    }

    public LeaseGrantResponse Grant(long id, long ttl) => Must(InBatch(b => Lessor.Grant(b, new LeaseGrantRequest { ID = id, TTL = ttl })));

    public LeaseRevokeResponse Revoke(long id) => Must(InBatch(b => Lessor.Revoke(b, new LeaseRevokeRequest { ID = id })));

    public ApplyResult<PutResponse> Put(string key, string value, long lease = 0) =>
        InBatch(b => Kv.Put(b, new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value), Lease = lease }));

    public DeleteRangeResponse Delete(string key) =>
        Must(InBatch(b => Kv.DeleteRange(b, new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(key) })));

    public List<string> KeysOf(long lease) =>
        Lessor.Describe(lease) is { } d ? d.Keys.Select(k => k.ToStringUtf8()).ToList() : [];

    public void Reopen(long? minTtlSeconds = null)
    {
        Store.Dispose();
        MinTtlSeconds = minTtlSeconds ?? MinTtlSeconds;
        Open();
    }

    public void Dispose()
    {
        Store.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static T Must<T>(ApplyResult<T> result) where T : class =>
        result.Response ?? throw new InvalidOperationException($"unexpected error {result.Error}");

    private void Open()
    {
        Store = MvccStore.Open(Path.Combine(_directory, "db"), new MvccOptions { BackgroundCompaction = false });
        Lessor = Lessor.Open(Store, MinTtlSeconds);
        Kv = new KvApplier(Lessor, Lessor);
    }
}
