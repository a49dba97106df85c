using System.Globalization;
using System.Text;

namespace Dotcd.Server.Tests.Metrics;

/// <summary>One sample line: its full name ("x_bucket"), labels, and value.</summary>
internal sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string Label(string name) => Labels.TryGetValue(name, out string? value) ? value : "";
}

/// <summary>A parsed family: HELP, TYPE and its samples in exposition order.</summary>
internal sealed record ParsedFamily(string Name, string Help, string Type, List<Sample> Samples);

/// <summary>
/// A strict reader of the Prometheus text format 0.0.4, for checking what /metrics writes:
/// it fails on anything Prometheus itself would reject (a sample before its TYPE, a sample of
/// another family, bad escapes, unparsable values, a repeated family).
/// </summary>
internal static class Exposition
{
    public static Dictionary<string, ParsedFamily> Parse(string text)
    {
        Assert.EndsWith("\n", text);
        var families = new Dictionary<string, ParsedFamily>(StringComparer.Ordinal);
        var order = new List<string>();
        ParsedFamily? current = null;
        string? pendingHelpName = null;
        string? pendingHelp = null;
        foreach (string line in text[..^1].Split('\n'))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                string rest = line["# HELP ".Length..];
                int space = rest.IndexOf(' ');
                pendingHelpName = rest[..space];
                pendingHelp = UnescapeHelp(rest[(space + 1)..]);
                continue;
            }

            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line["# TYPE ".Length..].Split(' ');
                Assert.Equal(2, parts.Length);
                Assert.Equal(pendingHelpName, parts[0]); // HELP comes right before TYPE.
                Assert.Contains(parts[1], new[] { "counter", "gauge", "histogram" });
                Assert.False(families.ContainsKey(parts[0]), $"family {parts[0]} appears twice");
                current = new ParsedFamily(parts[0], pendingHelp!, parts[1], []);
                families.Add(current.Name, current);
                order.Add(current.Name);
                continue;
            }

            Assert.False(line.StartsWith('#'), $"unexpected comment: {line}");
            Assert.NotNull(current);
            Sample sample = ParseSample(line);
            string expectedBase = current.Type == "histogram"
                ? StripAny(sample.Name, "_bucket", "_sum", "_count")
                : sample.Name;
            Assert.Equal(current.Name, expectedBase);
            current.Samples.Add(sample);
        }

        Assert.Equal(order.Order(StringComparer.Ordinal), order); // Families sorted by name, as client_golang writes them.
        return families;
    }

    private static string StripAny(string name, params string[] suffixes)
    {
        foreach (string suffix in suffixes)
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal))
            {
                return name[..^suffix.Length];
            }
        }

        return name;
    }

    private static Sample ParseSample(string line)
    {
        int i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ')
        {
            i++;
        }

        string name = line[..i];
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                int eq = line.IndexOf('=', i);
                string label = line[i..eq];
                Assert.Equal('"', line[eq + 1]);
                i = eq + 2;
                var value = new StringBuilder();
                while (line[i] != '"')
                {
                    if (line[i] == '\\')
                    {
                        i++;
                        value.Append(line[i] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            _ => throw new FormatException($"bad escape \\{line[i]} in {line}"),
                        });
                    }
                    else
                    {
                        Assert.NotEqual('\n', line[i]);
                        value.Append(line[i]);
                    }

                    i++;
                }

                i++; // Closing quote.
                Assert.True(labels.TryAdd(label, value.ToString()), $"label {label} repeated in {line}");
                if (line[i] == ',')
                {
                    i++;
                }
            }

            i++; // '}'
        }

        Assert.Equal(' ', line[i]);
        string number = line[(i + 1)..];
        double parsed = number switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            _ => double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture),
        };
        return new Sample(name, labels, parsed);
    }

    private static string UnescapeHelp(string help)
    {
        var text = new StringBuilder();
        for (int i = 0; i < help.Length; i++)
        {
            if (help[i] == '\\')
            {
                i++;
                text.Append(help[i] switch
                {
                    '\\' => '\\',
                    'n' => '\n',
                    _ => throw new FormatException($"bad escape in HELP {help}"),
                });
            }
            else
            {
                text.Append(help[i]);
            }
        }

        return text.ToString();
    }

    /// <summary>Checks a histogram family's series: ascending le ending in +Inf, cumulative counts, +Inf == _count.</summary>
    public static void AssertWellFormedHistogram(ParsedFamily family)
    {
        Assert.Equal("histogram", family.Type);
        foreach (IGrouping<string, Sample> series in family.Samples.GroupBy(s => SeriesKey(s)))
        {
            var buckets = series.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(buckets);
            Assert.Equal("+Inf", buckets[^1].Label("le"));
            double previousBound = double.NegativeInfinity;
            double previousCount = 0;
            foreach (Sample bucket in buckets)
            {
                double bound = bucket.Label("le") == "+Inf" ? double.PositiveInfinity
                    : double.Parse(bucket.Label("le"), NumberStyles.Float, CultureInfo.InvariantCulture);
                Assert.True(bound > previousBound, $"le {bound} after {previousBound}");
                Assert.True(bucket.Value >= previousCount, "bucket counts are cumulative");
                previousBound = bound;
                previousCount = bucket.Value;
            }

            Sample count = Assert.Single(series, s => s.Name.EndsWith("_count", StringComparison.Ordinal));
            Assert.Single(series, s => s.Name.EndsWith("_sum", StringComparison.Ordinal));
            Assert.Equal(buckets[^1].Value, count.Value);
        }
    }

    private static string SeriesKey(Sample sample) =>
        string.Join(",", sample.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value));
}
