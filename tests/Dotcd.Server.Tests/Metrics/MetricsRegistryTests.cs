using Dotcd.Server.Metrics;

namespace Dotcd.Server.Tests.Metrics;

public sealed class MetricsRegistryTests
{
    [Theory]
    [InlineData(0.001, "0.001")]
    [InlineData(8.192, "8.192")]
    [InlineData(0.070944914, "0.070944914")]
    [InlineData(20480, "20480")]
    [InlineData(123456, "123456")]
    [InlineData(1234567, "1.234567e+06")]
    [InlineData(2147483648, "2.147483648e+09")]
    [InlineData(1e6, "1e+06")]
    [InlineData(1e21, "1e+21")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00001, "1e-05")]
    [InlineData(1.5e-7, "1.5e-07")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(1, "1")]
    [InlineData(0, "0")]
    [InlineData(-1, "-1")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(double.NaN, "NaN")]
    public void ValuesAreWrittenAsGoWritesThem(double value, string expected) =>
        Assert.Equal(expected, PrometheusText.FormatValue(value));

    [Fact]
    public void DiskBucketsPrintExactlyAsEtcdsDo()
    {
        // Taken from a real etcd 3.4.23's /metrics (etcd_disk_wal_fsync_duration_seconds_bucket).
        string[] etcd = ["0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256", "0.512",
            "1.024", "2.048", "4.096", "8.192"];
        Assert.Equal(etcd, EtcdMetrics.DiskDurationBuckets.Select(PrometheusText.FormatValue));
    }

    [Fact]
    public void ExpositionReadsBackWithHelpTypeLabelsAndBuckets()
    {
        var registry = new MetricsRegistry();
        Counter requests = registry.Counter("test_requests_total", "Requests seen, with a \\ backslash\nand a newline.");
        MetricVec<Gauge> temperature = registry.GaugeVec("test_temperature", "Temperature by room.", "room", "floor");
        Histogram latency = registry.Histogram("test_latency_seconds", "Latency.", Histogram.ExponentialBuckets(0.001, 2, 4));
        requests.Inc();
        requests.Add(2);
        requests.Add(0.5);
        temperature.WithLabels("kitchen \"main\"", "1").Set(21.5);
        temperature.WithLabels("attic\\n", "3\nbis").Set(-4);
        foreach (double seconds in new[] { 0.0005, 0.001, 0.0015, 0.003, 0.0075, 1.0 })
        {
            latency.Observe(seconds);
        }

        string text = registry.Expose();
        Dictionary<string, ParsedFamily> families = Exposition.Parse(text);

        ParsedFamily counter = families["test_requests_total"];
        Assert.Equal("counter", counter.Type);
        Assert.Equal("Requests seen, with a \\ backslash\nand a newline.", counter.Help);
        Assert.Equal(3.5, Assert.Single(counter.Samples).Value);
        Assert.Contains("# HELP test_requests_total Requests seen, with a \\\\ backslash\\nand a newline.\n", text);

        ParsedFamily gauge = families["test_temperature"];
        Assert.Equal("gauge", gauge.Type);
        Assert.Equal(2, gauge.Samples.Count);
        Sample kitchen = Assert.Single(gauge.Samples, s => s.Label("room") == "kitchen \"main\"");
        Assert.Equal("1", kitchen.Label("floor"));
        Assert.Equal(21.5, kitchen.Value);
        Sample attic = Assert.Single(gauge.Samples, s => s.Label("room") == "attic\\n");
        Assert.Equal("3\nbis", attic.Label("floor"));
        Assert.Equal(-4, attic.Value);
        // Label pairs go out sorted by name, as client_golang writes them.
        Assert.Contains("test_temperature{floor=\"1\",room=\"kitchen \\\"main\\\"\"} 21.5\n", text);

        ParsedFamily histogram = families["test_latency_seconds"];
        Exposition.AssertWellFormedHistogram(histogram);
        var buckets = histogram.Samples.Where(s => s.Name == "test_latency_seconds_bucket").ToList();
        Assert.Equal(["0.001", "0.002", "0.004", "0.008", "+Inf"], buckets.Select(b => b.Label("le")));
        // A value equal to a bound counts in that bound's bucket (le means "less or equal").
        Assert.Equal([2.0, 3, 4, 5, 6], buckets.Select(b => b.Value));
        Assert.Equal(6, histogram.Samples.Single(s => s.Name == "test_latency_seconds_count").Value);
        Assert.Equal(1.0135, histogram.Samples.Single(s => s.Name == "test_latency_seconds_sum").Value, 9);
    }

    [Fact]
    public void FamiliesAreSortedAndSeriesSortedByLabelValues()
    {
        var registry = new MetricsRegistry();
        MetricVec<Counter> calls = registry.CounterVec("zz_calls_total", "Calls.", "method");
        registry.Gauge("aa_first", "First by name.").Set(1);
        calls.WithLabels("Range").Inc();
        calls.WithLabels("Compact").Inc();
        calls.WithLabels("Put").Inc();

        string text = registry.Expose();
        Assert.True(text.IndexOf("aa_first", StringComparison.Ordinal) < text.IndexOf("zz_calls_total", StringComparison.Ordinal));
        ParsedFamily family = Exposition.Parse(text)["zz_calls_total"];
        Assert.Equal(["Compact", "Put", "Range"], family.Samples.Select(s => s.Label("method")));
    }

    [Fact]
    public void FamiliesWithoutSeriesAreLeftOut()
    {
        var registry = new MetricsRegistry();
        registry.HistogramVec("peer_rtt_seconds", "Round trips.", [0.1, 1], "To");
        registry.Counter("present_total", "Present.");

        string text = registry.Expose();
        Assert.DoesNotContain("peer_rtt_seconds", text);
        Assert.Equal(0, Assert.Single(Exposition.Parse(text)["present_total"].Samples).Value); // Unlabelled series exist from the start.
    }

    [Fact]
    public void InvalidNamesAndDuplicateFamiliesAreRefused()
    {
        var registry = new MetricsRegistry();
        Assert.Throws<ArgumentException>(() => registry.Counter("1bad", "x"));
        Assert.Throws<ArgumentException>(() => registry.CounterVec("ok_total", "x", "__reserved"));
        Assert.Throws<ArgumentException>(() => registry.HistogramVec("h_seconds", "x", [1.0], "le"));
        Assert.Throws<ArgumentException>(() => registry.Histogram("h2_seconds", "x", [1.0, 1.0]));
        registry.Counter("once_total", "x");
        Assert.Throws<InvalidOperationException>(() => registry.Gauge("once_total", "x"));
        MetricVec<Counter> vec = registry.CounterVec("two_labels_total", "x", "a", "b");
        Assert.Throws<ArgumentException>(() => vec.WithLabels("only-one"));
        Assert.Throws<ArgumentOutOfRangeException>(() => vec.WithLabels("1", "2").Add(-1));
    }

    [Fact]
    public void ConcurrentRecordingLosesNothing()
    {
        var registry = new MetricsRegistry();
        Counter counter = registry.Counter("c_total", "x");
        Gauge gauge = registry.Gauge("g", "x");
        Histogram histogram = registry.Histogram("h_seconds", "x", [0.5]);
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                counter.Inc();
                counter.Add(0.5);
                gauge.Add(1);
                histogram.Observe(i % 2 == 0 ? 0.25 : 0.75);
            }
        });

        Assert.Equal(60_000, counter.Value);
        Assert.Equal(40_000, gauge.Value);
        HistogramSnapshot snapshot = histogram.Snapshot();
        Assert.Equal([20_000L, 40_000L], snapshot.CumulativeCounts);
        Assert.Equal(20_000, snapshot.Sum);
    }

    [Fact]
    public void HistogramFuncReadsItsOwnerAtScrapeTime()
    {
        var registry = new MetricsRegistry();
        long observed = 0;
        registry.HistogramFunc("owned_seconds", "Owned elsewhere.",
            () => new HistogramSnapshot([0.1, 0.2], [observed, observed, observed], 0.05 * observed));
        observed = 3;

        ParsedFamily family = Exposition.Parse(registry.Expose())["owned_seconds"];
        Exposition.AssertWellFormedHistogram(family);
        Assert.Equal(3, family.Samples.Single(s => s.Name == "owned_seconds_count").Value);
    }
}
