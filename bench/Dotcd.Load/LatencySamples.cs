using System.Diagnostics;

namespace Dotcd.Load;

/// <summary>
/// Every latency of one client, in Stopwatch ticks. One writer (its client); read only after the
/// clients finished. Percentiles are exact: all samples are kept and sorted, no histogram buckets
/// (a million samples is 8 MB, far beyond what one run records).
/// </summary>
internal sealed class LatencySamples
{
    private long[] _ticks = new long[1024];

    public int Count { get; private set; }

    public void Add(long ticks)
    {
        if (Count == _ticks.Length)
        {
            Array.Resize(ref _ticks, _ticks.Length * 2);
        }

        _ticks[Count++] = ticks;
    }

    public IEnumerable<long> InRecordedOrder() => _ticks.Take(Count);

    /// <summary>All clients' samples in one sorted array.</summary>
    public static long[] MergeSorted(IReadOnlyList<LatencySamples> parts)
    {
        long[] all = new long[parts.Sum(p => p.Count)];
        int at = 0;
        foreach (LatencySamples part in parts)
        {
            Array.Copy(part._ticks, 0, all, at, part.Count);
            at += part.Count;
        }

        Array.Sort(all);
        return all;
    }

    /// <summary>
    /// Nearest-rank percentile of sorted samples, in milliseconds: the smallest sample with at
    /// least <paramref name="percent"/>% of the samples at or below it. NaN when there are none.
    /// </summary>
    public static double PercentileMilliseconds(long[] sorted, double percent)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        long rank = (long)Math.Ceiling(percent / 100.0 * sorted.Length); // 1-based
        long index = Math.Clamp(rank, 1, sorted.Length) - 1;
        return ToMilliseconds(sorted[index]);
    }

    public static double ToMilliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
