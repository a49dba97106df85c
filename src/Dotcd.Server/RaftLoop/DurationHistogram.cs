namespace Dotcd.Server.RaftLoop;

/// <summary>
/// A cumulative-bucket histogram of durations in seconds, the shape Prometheus exposes
/// (etcd_disk_wal_fsync_duration_seconds uses buckets 0.001 * 2^i for i in 0..13). Observe is
/// lock-free and safe from any thread; Snapshot may tear slightly between buckets, as Prometheus
/// client libraries do.
/// </summary>
public sealed class DurationHistogram
{
    private readonly double[] _upperBounds; // Ascending; an implicit +Inf bucket follows.
    private readonly long[] _counts;        // Per bucket (not cumulative); the last is +Inf.
    private long _count;
    private long _sumTicks;                 // TimeSpan ticks, so Observe needs no floating-point CAS loop.

    public DurationHistogram(IReadOnlyList<double> upperBoundsSeconds)
    {
        ArgumentNullException.ThrowIfNull(upperBoundsSeconds);
        for (int i = 1; i < upperBoundsSeconds.Count; i++)
        {
            if (upperBoundsSeconds[i] <= upperBoundsSeconds[i - 1]) throw new ArgumentException("bucket bounds must ascend", nameof(upperBoundsSeconds));
        }
        _upperBounds = upperBoundsSeconds.ToArray();
        _counts = new long[_upperBounds.Length + 1];
    }

    /// <summary>etcd's WAL fsync buckets: 1 ms doubling up to 8.192 s.</summary>
    public static DurationHistogram ForWalFsync() => new(ExponentialBuckets(0.001, 2, 14));

    /// <summary>start, start*factor, ... (count bounds), as prometheus.ExponentialBuckets.</summary>
    public static double[] ExponentialBuckets(double start, double factor, int count)
    {
        var bounds = new double[count];
        for (int i = 0; i < count; i++) bounds[i] = start * Math.Pow(factor, i);
        return bounds;
    }

    public IReadOnlyList<double> UpperBoundsSeconds => _upperBounds;

    public long Count => Interlocked.Read(ref _count);

    public TimeSpan Sum => TimeSpan.FromTicks(Interlocked.Read(ref _sumTicks));

    public void Observe(TimeSpan duration)
    {
        double seconds = duration.TotalSeconds;
        int bucket = Array.BinarySearch(_upperBounds, seconds);
        if (bucket < 0) bucket = ~bucket; // First bound above the value; le means "<=", so an exact hit stays.
        Interlocked.Increment(ref _counts[bucket]);
        Interlocked.Add(ref _sumTicks, duration.Ticks);
        Interlocked.Increment(ref _count);
    }

    /// <summary>Cumulative counts per upper bound (the +Inf bucket last, equal to the total).</summary>
    public long[] CumulativeCounts()
    {
        var cumulative = new long[_counts.Length];
        long running = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            running += Interlocked.Read(ref _counts[i]);
            cumulative[i] = running;
        }
        return cumulative;
    }
}
