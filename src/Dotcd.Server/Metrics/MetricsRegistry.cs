using System.Text;

namespace Dotcd.Server.Metrics;

/// <summary>
/// A member's metrics (client_golang's registry, our own since no Prometheus package is available
/// here): families are registered once, recorded from any thread, and written out in the text
/// format 0.0.4 sorted by family name, as /metrics serves them.
/// </summary>
public sealed class MetricsRegistry
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, MetricFamily> _families = new(StringComparer.Ordinal); // Guarded by _lock.

    /// <summary>Registers a family; a second family with the same name is a programming error.</summary>
    public T Register<T>(T family) where T : MetricFamily
    {
        ArgumentNullException.ThrowIfNull(family);
        lock (_lock)
        {
            if (!_families.TryAdd(family.Name, family))
            {
                throw new InvalidOperationException($"The metric {family.Name} is already registered.");
            }
        }

        return family;
    }

    /// <summary>The family registered under name, or null.</summary>
    public MetricFamily? Find(string name)
    {
        lock (_lock)
        {
            return _families.GetValueOrDefault(name);
        }
    }

    public Counter Counter(string name, string help) => CounterVec(name, help).WithLabels();

    public MetricVec<Counter> CounterVec(string name, string help, params string[] labelNames) =>
        Register(new MetricVec<Counter>(name, help, MetricType.Counter, labelNames, static () => new Counter()));

    public Gauge Gauge(string name, string help) => GaugeVec(name, help).WithLabels();

    public MetricVec<Gauge> GaugeVec(string name, string help, params string[] labelNames) =>
        Register(new MetricVec<Gauge>(name, help, MetricType.Gauge, labelNames, static () => new Gauge()));

    public Histogram Histogram(string name, string help, IReadOnlyList<double> upperBounds) =>
        HistogramVec(name, help, upperBounds).WithLabels();

    public MetricVec<Histogram> HistogramVec(string name, string help, IReadOnlyList<double> upperBounds, params string[] labelNames)
    {
        double[] bounds = Metrics.Histogram.ValidateBounds(upperBounds);
        return Register(new MetricVec<Histogram>(name, help, MetricType.Histogram, labelNames, () => new Histogram(bounds)));
    }

    /// <summary>A gauge read from its owner at each scrape (client_golang's GaugeFunc).</summary>
    public void GaugeFunc(string name, string help, Func<double> read) =>
        Register(new FuncFamily(name, help, MetricType.Gauge, read));

    /// <summary>A counter kept by its owner and read at each scrape (client_golang's CounterFunc).</summary>
    public void CounterFunc(string name, string help, Func<double> read) =>
        Register(new FuncFamily(name, help, MetricType.Counter, read));

    /// <summary>A histogram kept by its owner (for example the raft loop's WAL fsync durations), read at each scrape.</summary>
    public void HistogramFunc(string name, string help, Func<HistogramSnapshot> read) =>
        Register(new HistogramFuncFamily(name, help, read));

    /// <summary>Appends every non-empty family in the text format, sorted by name.</summary>
    public void WriteTo(StringBuilder text)
    {
        ArgumentNullException.ThrowIfNull(text);
        MetricFamily[] families;
        lock (_lock)
        {
            families = _families.Values.ToArray();
        }

        foreach (MetricFamily family in families)
        {
            if (family.HasSeries)
            {
                family.AppendTo(text);
            }
        }
    }

    /// <summary>The whole exposition as text.</summary>
    public string Expose()
    {
        var text = new StringBuilder(16 * 1024);
        WriteTo(text);
        return text.ToString();
    }
}
