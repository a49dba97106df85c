using System.Text;

namespace Dotcd.Server.Metrics;

/// <summary>A value that only grows (a Prometheus counter series). Thread-safe; recording allocates nothing.</summary>
public sealed class Counter : MetricSeries
{
    // As in client_golang: whole increments (nearly all of them) go to an integer with one atomic
    // add; fractional ones to a double updated by compare-and-swap. The value is their sum.
    private long _whole;
    private long _fractionBits;

    internal Counter()
    {
    }

    public double Value => Interlocked.Read(ref _whole) + BitConverter.Int64BitsToDouble(Interlocked.Read(ref _fractionBits));

    public void Inc() => Interlocked.Increment(ref _whole);

    /// <summary>Adds a non-negative amount.</summary>
    public void Add(double amount)
    {
        if (!(amount >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(amount), amount, "A counter only grows.");
        }

        if (amount <= long.MaxValue / 2 && amount == Math.Floor(amount))
        {
            Interlocked.Add(ref _whole, (long)amount);
            return;
        }

        AtomicDouble.Add(ref _fractionBits, amount);
    }

    internal override void AppendSamples(StringBuilder text, string name, LabelSet labels)
    {
        text.Append(name).Append(labels.Rendered).Append(' ');
        PrometheusText.AppendValue(text, Value);
        text.Append('\n');
    }
}
