using System.Text;

namespace Dotcd.Server.Metrics;

/// <summary>
/// A read of a histogram: the upper bounds (ascending, without +Inf) and the cumulative count at
/// each bound with the +Inf bucket last, so CumulativeCounts.Length == UpperBounds.Count + 1.
/// </summary>
public readonly record struct HistogramSnapshot(IReadOnlyList<double> UpperBounds, long[] CumulativeCounts, double Sum)
{
    /// <summary>Observations in total: the +Inf bucket, so _count always equals it in the exposition.</summary>
    public long Count => CumulativeCounts.Length == 0 ? 0 : CumulativeCounts[^1];
}

/// <summary>
/// Observations counted into buckets with upper bounds (a Prometheus histogram series; a value
/// equal to a bound counts in that bound's bucket). Thread-safe, lock-free, allocates nothing on
/// Observe; a scrape may see one observation in the counts but not yet in the sum, as client_golang can.
/// </summary>
public sealed class Histogram : MetricSeries
{
    private readonly double[] _upperBounds; // Ascending; the +Inf bucket is implicit.
    private readonly long[] _counts;        // Per bucket, not cumulative; the last is +Inf.
    private long _sumBits;

    internal Histogram(double[] upperBounds)
    {
        _upperBounds = upperBounds;
        _counts = new long[upperBounds.Length + 1];
    }

    public IReadOnlyList<double> UpperBounds => _upperBounds;

    /// <summary>start, start*factor, ... (count bounds): prometheus.ExponentialBuckets, computed the same way.</summary>
    public static double[] ExponentialBuckets(double start, double factor, int count)
    {
        if (count < 1 || start <= 0 || factor <= 1)
        {
            throw new ArgumentException("Exponential buckets need count >= 1, start > 0 and factor > 1.");
        }

        var bounds = new double[count];
        for (int i = 0; i < count; i++)
        {
            bounds[i] = start;
            start *= factor; // Repeated multiplication, as Go does, so the bounds print the same.
        }

        return bounds;
    }

    /// <summary>start, start+width, ... (count bounds): prometheus.LinearBuckets.</summary>
    public static double[] LinearBuckets(double start, double width, int count)
    {
        if (count < 1 || width <= 0)
        {
            throw new ArgumentException("Linear buckets need count >= 1 and width > 0.");
        }

        var bounds = new double[count];
        for (int i = 0; i < count; i++)
        {
            bounds[i] = start;
            start += width;
        }

        return bounds;
    }

    internal static double[] ValidateBounds(IReadOnlyList<double> upperBounds)
    {
        ArgumentNullException.ThrowIfNull(upperBounds);
        var bounds = upperBounds.ToList();
        if (bounds.Count > 0 && double.IsPositiveInfinity(bounds[^1]))
        {
            bounds.RemoveAt(bounds.Count - 1); // +Inf is always there.
        }

        for (int i = 0; i < bounds.Count; i++)
        {
            if (double.IsNaN(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            {
                throw new ArgumentException("Histogram bounds must be numbers in strictly ascending order.", nameof(upperBounds));
            }
        }

        return bounds.ToArray();
    }

    public void Observe(double value)
    {
        int bucket;
        if (double.IsNaN(value))
        {
            bucket = _counts.Length - 1; // Go's sort.SearchFloat64s puts NaN past every bound.
        }
        else
        {
            bucket = Array.BinarySearch(_upperBounds, value);
            if (bucket < 0)
            {
                bucket = ~bucket; // The first bound above the value.
            }
        }

        Interlocked.Increment(ref _counts[bucket]);
        AtomicDouble.Add(ref _sumBits, value);
    }

    /// <summary>Observes a duration in seconds (the unit of every etcd *_seconds histogram).</summary>
    public void Observe(TimeSpan duration) => Observe(duration.TotalSeconds);

    public HistogramSnapshot Snapshot()
    {
        var cumulative = new long[_counts.Length];
        long running = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            running += Interlocked.Read(ref _counts[i]);
            cumulative[i] = running;
        }

        return new HistogramSnapshot(_upperBounds, cumulative, BitConverter.Int64BitsToDouble(Interlocked.Read(ref _sumBits)));
    }

    internal override void AppendSamples(StringBuilder text, string name, LabelSet labels) =>
        AppendSnapshot(text, name, labels, Snapshot());

    internal static void AppendSnapshot(StringBuilder text, string name, LabelSet labels, HistogramSnapshot snapshot)
    {
        if (snapshot.CumulativeCounts.Length != snapshot.UpperBounds.Count + 1)
        {
            throw new InvalidOperationException($"{name}: a histogram snapshot needs one count per bound plus +Inf.");
        }

        for (int i = 0; i <= snapshot.UpperBounds.Count; i++)
        {
            text.Append(name).Append("_bucket").Append(labels.BucketPrefix);
            PrometheusText.AppendValue(text, i < snapshot.UpperBounds.Count ? snapshot.UpperBounds[i] : double.PositiveInfinity);
            text.Append("\"} ");
            PrometheusText.AppendValue(text, snapshot.CumulativeCounts[i]);
            text.Append('\n');
        }

        text.Append(name).Append("_sum").Append(labels.Rendered).Append(' ');
        PrometheusText.AppendValue(text, snapshot.Sum);
        text.Append('\n');
        text.Append(name).Append("_count").Append(labels.Rendered).Append(' ');
        PrometheusText.AppendValue(text, snapshot.Count);
        text.Append('\n');
    }
}
