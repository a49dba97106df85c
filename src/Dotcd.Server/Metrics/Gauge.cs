using System.Text;

namespace Dotcd.Server.Metrics;

/// <summary>A value that goes up and down (a Prometheus gauge series). Thread-safe; recording allocates nothing.</summary>
public sealed class Gauge : MetricSeries
{
    private long _bits; // The double value's bits.

    internal Gauge()
    {
    }

    public double Value => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _bits));

    public void Set(double value) => Interlocked.Exchange(ref _bits, BitConverter.DoubleToInt64Bits(value));

    public void Add(double amount) => AtomicDouble.Add(ref _bits, amount);

    public void Inc() => Add(1);

    public void Dec() => Add(-1);

    internal override void AppendSamples(StringBuilder text, string name, LabelSet labels)
    {
        text.Append(name).Append(labels.Rendered).Append(' ');
        PrometheusText.AppendValue(text, Value);
        text.Append('\n');
    }
}

internal static class AtomicDouble
{
    /// <summary>Adds to a double stored as its bits, by compare-and-swap.</summary>
    public static void Add(ref long bits, double amount)
    {
        while (true)
        {
            long old = Interlocked.Read(ref bits);
            long updated = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(old) + amount);
            if (Interlocked.CompareExchange(ref bits, updated, old) == old)
            {
                return;
            }
        }
    }
}
