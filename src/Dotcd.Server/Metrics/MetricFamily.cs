using System.Collections.Concurrent;
using System.Text;

namespace Dotcd.Server.Metrics;

/// <summary>The Prometheus metric types dotcd exposes.</summary>
public enum MetricType
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>
/// One metric family: a name, its HELP and TYPE lines, and its series (one per label-value
/// combination). Families with no series are left out of the exposition, as client_golang does.
/// </summary>
public abstract class MetricFamily
{
    private protected MetricFamily(string name, string help, MetricType type, IReadOnlyList<string> labelNames)
    {
        if (!PrometheusText.IsValidMetricName(name))
        {
            throw new ArgumentException($"\"{name}\" is not a valid metric name.", nameof(name));
        }

        ArgumentNullException.ThrowIfNull(help);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string label in labelNames)
        {
            if (!PrometheusText.IsValidLabelName(label) || !seen.Add(label))
            {
                throw new ArgumentException($"\"{label}\" is not a valid (or is a repeated) label name of {name}.", nameof(labelNames));
            }

            if (type == MetricType.Histogram && label == "le")
            {
                throw new ArgumentException("A histogram cannot have a label named \"le\".", nameof(labelNames));
            }
        }

        Name = name;
        Help = help;
        Type = type;
        LabelNames = labelNames.ToArray();
    }

    public string Name { get; }

    public string Help { get; }

    public MetricType Type { get; }

    public IReadOnlyList<string> LabelNames { get; }

    /// <summary>Appends the sample lines of every series (not the HELP and TYPE lines), sorted by label values.</summary>
    internal abstract void AppendSamples(StringBuilder text);

    internal abstract bool HasSeries { get; }

    internal void AppendTo(StringBuilder text)
    {
        text.Append("# HELP ").Append(Name).Append(' ');
        PrometheusText.AppendEscapedHelp(text, Help);
        text.Append('\n');
        text.Append("# TYPE ").Append(Name).Append(' ').Append(Type switch
        {
            MetricType.Counter => "counter",
            MetricType.Gauge => "gauge",
            _ => "histogram",
        }).Append('\n');
        AppendSamples(text);
    }
}

/// <summary>The label values of one series, rendered once when the series is created.</summary>
internal sealed class LabelSet
{
    public static readonly LabelSet Empty = new([], []);

    public LabelSet(IReadOnlyList<string> names, IReadOnlyList<string> values)
    {
        // Label pairs go out sorted by name (client_golang sorts them); series sort by these values.
        int[] order = Enumerable.Range(0, names.Count).ToArray();
        Array.Sort(order, (a, b) => string.CompareOrdinal(names[a], names[b]));
        SortKey = order.Select(i => values[i]).ToArray();

        var text = new StringBuilder();
        foreach (int i in order)
        {
            text.Append(text.Length == 0 ? '{' : ',');
            text.Append(names[i]).Append("=\"");
            PrometheusText.AppendEscapedLabelValue(text, values[i]);
            text.Append('"');
        }

        // Histograms add le after the other labels: "{a="x",le=" or "{le=".
        BucketPrefix = text.Length == 0 ? "{le=\"" : text + ",le=\"";
        Rendered = text.Length == 0 ? "" : text.Append('}').ToString();
    }

    /// <summary>Values in label-name order.</summary>
    public string[] SortKey { get; }

    /// <summary>"{a="x",b="y"}", or "" without labels.</summary>
    public string Rendered { get; }

    public string BucketPrefix { get; }

    public static int Compare(LabelSet x, LabelSet y)
    {
        for (int i = 0; i < x.SortKey.Length && i < y.SortKey.Length; i++)
        {
            int c = string.CompareOrdinal(x.SortKey[i], y.SortKey[i]);
            if (c != 0)
            {
                return c;
            }
        }

        return x.SortKey.Length.CompareTo(y.SortKey.Length);
    }
}

/// <summary>One series of a family; Counter, Gauge and Histogram are its kinds.</summary>
public abstract class MetricSeries
{
    private protected MetricSeries()
    {
    }

    internal abstract void AppendSamples(StringBuilder text, string name, LabelSet labels);
}

/// <summary>
/// A family of series of one kind, one per combination of label values (client_golang's
/// CounterVec, GaugeVec, HistogramVec). Look a series up once and keep it: recording on a kept
/// series allocates nothing, while the lookup allocates its key.
/// </summary>
public sealed class MetricVec<TSeries> : MetricFamily where TSeries : MetricSeries
{
    private readonly ConcurrentDictionary<LabelKey, Entry> _series = new();
    private readonly Func<TSeries> _create;

    internal MetricVec(string name, string help, MetricType type, IReadOnlyList<string> labelNames, Func<TSeries> create)
        : base(name, help, type, labelNames)
    {
        _create = create;
    }

    /// <summary>The series for these label values (in LabelNames order), created on first use.</summary>
    public TSeries WithLabels(params string[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length != LabelNames.Count)
        {
            throw new ArgumentException(
                $"{Name} has {LabelNames.Count} labels ({string.Join(", ", LabelNames)}), not {values.Length} values.", nameof(values));
        }

        var key = new LabelKey(values);
        if (_series.TryGetValue(key, out Entry? found))
        {
            return found.Series;
        }

        string[] copy = (string[])values.Clone(); // The caller may reuse its array.
        foreach (string value in copy)
        {
            ArgumentNullException.ThrowIfNull(value, nameof(values));
        }

        return _series.GetOrAdd(new LabelKey(copy), k => new Entry(new LabelSet(LabelNames, k.Values), _create())).Series;
    }

    internal override bool HasSeries => !_series.IsEmpty;

    internal override void AppendSamples(StringBuilder text)
    {
        Entry[] entries = _series.Values.ToArray();
        Array.Sort(entries, static (a, b) => LabelSet.Compare(a.Labels, b.Labels));
        foreach (Entry entry in entries)
        {
            entry.Series.AppendSamples(text, Name, entry.Labels);
        }
    }

    private sealed record Entry(LabelSet Labels, TSeries Series);

    private readonly struct LabelKey(string[] values) : IEquatable<LabelKey>
    {
        public string[] Values { get; } = values;

        public bool Equals(LabelKey other) => Values.AsSpan().SequenceEqual(other.Values);

        public override bool Equals(object? obj) => obj is LabelKey other && Equals(other);

        public override int GetHashCode()
        {
            var hash = new HashCode();
            foreach (string value in Values)
            {
                hash.Add(value, StringComparer.Ordinal);
            }

            return hash.ToHashCode();
        }
    }
}

/// <summary>A gauge or counter without labels whose value is read when scraped (client_golang's GaugeFunc/CounterFunc).</summary>
internal sealed class FuncFamily : MetricFamily
{
    private readonly Func<double> _read;

    public FuncFamily(string name, string help, MetricType type, Func<double> read)
        : base(name, help, type, [])
    {
        ArgumentNullException.ThrowIfNull(read);
        _read = read;
    }

    internal override bool HasSeries => true;

    internal override void AppendSamples(StringBuilder text)
    {
        text.Append(Name).Append(' ');
        PrometheusText.AppendValue(text, _read());
        text.Append('\n');
    }
}

/// <summary>A histogram without labels whose buckets are read from another owner when scraped.</summary>
internal sealed class HistogramFuncFamily : MetricFamily
{
    private readonly Func<HistogramSnapshot> _read;

    public HistogramFuncFamily(string name, string help, Func<HistogramSnapshot> read)
        : base(name, help, MetricType.Histogram, [])
    {
        ArgumentNullException.ThrowIfNull(read);
        _read = read;
    }

    internal override bool HasSeries => true;

    internal override void AppendSamples(StringBuilder text) => Histogram.AppendSnapshot(text, Name, LabelSet.Empty, _read());
}
