using System.Text.RegularExpressions;
using Dotcd.Interop.Tests.Differential;
using Dotcd.Interop.Tests.Harness;

namespace Dotcd.Interop.Tests.Interop;

/// <summary>
/// The real etcdctl's `-w fields`, `-w protobuf` and `-w simple` output of get, put, del and
/// endpoint status: a dotcd member must print what a real etcd prints, after normalizing ids,
/// terms, versions, sizes and times (<see cref="OutputNormalizer"/>). etcdctl renders these
/// formats from the response's fields, so any field dotcd fills differently shows here.
/// </summary>
public sealed class OutputFormatInteropTests
{
    private static ScenarioStep Run(params string[] args) => new(args);

    private static readonly string[] s_formats = ["fields", "protobuf", "simple"];

    /// <summary>Each command once per format, on keys and values that stress the printers.</summary>
    private static IReadOnlyList<ScenarioStep> Scenario()
    {
        var steps = new List<ScenarioStep>
        {
            Run("put", "/fmt/a", "alpha") with { ExpectStdout = "OK" },
            Run("put", "/fmt/b", "two words, \"quoted\"\nand a second line"),
            Run("put", "/fmt/c", ""),
            Run("put", "/fmt/\u00e9t\u00e9", "unicode \u2713"),
        };
        foreach (string format in s_formats)
        {
            steps.AddRange(
            [
                Run("put", "/fmt/a", $"alpha-{format}", "--prev-kv", "-w", format),
                Run("put", "/fmt/new-" + format, "fresh", "-w", format),
                Run("get", "/fmt/a", "-w", format),
                Run("get", "/fmt/", "--prefix", "-w", format) with { ExpectStdout = format == "fields" ? "\"Count\" : 5" : null },
                Run("get", "/fmt/", "--prefix", "--limit", "2", "--sort-by", "MODIFY", "--order", "DESCEND", "-w", format),
                Run("get", "/fmt/", "--prefix", "--keys-only", "-w", format),
                Run("get", "/fmt/", "--prefix", "--hex", "-w", format),
                Run("get", "/fmt/missing", "-w", format),
                Run("get", "/fmt/a", "--rev", "1", "-w", format),
                Run("get", "/fmt/a", "--rev", "999", "-w", format) with { ExpectExit = 1, ExpectStderr = "future revision" },
                Run("del", "/fmt/new-" + format, "--prev-kv", "-w", format),
                Run("del", "/fmt/missing", "-w", format),
                // etcdctl 3.4 has no protobuf printer for endpoint status (exit 4): the same refusal from both.
                Run("endpoint", "status", "-w", format) with
                {
                    ExpectExit = format == "protobuf" ? 4 : 0,
                    ExpectStderr = format == "protobuf" ? "protobuf not supported as output format" : null,
                },
            ]);
        }

        steps.Add(Run("del", "/fmt/", "--prefix", "-w", "fields") with { ExpectStdout = "\"Deleted\" : 4" });
        return steps;
    }

    [Fact]
    public async Task DotcdPrintsEtcdsFieldsProtobufAndSimpleOutput()
    {
        Task<Transcript> etcdRun = RunAsync(MemberKind.Etcd);
        Task<Transcript> dotcdRun = RunAsync(MemberKind.Dotcd);
        Transcript expected = await etcdRun;
        Transcript actual = await dotcdRun;

        string expectedPath = expected.Save("output-formats-etcd");
        string actualPath = actual.Save("output-formats-dotcd");
        IReadOnlyList<string> unmet = expected.UnmetExpectations();
        Assert.True(unmet.Count == 0, $"the etcd run no longer shows what the scenario is for ({expectedPath}):\n\n" + string.Join("\n\n", unmet));

        IReadOnlyList<string> differences = Differences(expected, actual);
        Assert.True(
            differences.Count == 0,
            $"{differences.Count} of {expected.Entries.Count} steps differ (transcripts: {expectedPath}, {actualPath}):\n\n" +
            string.Join("\n\n", differences.Take(8)));
    }

    // `endpoint status -w simple` prints one line: endpoint, member id, version, db size, is leader,
    // is learner, raft term, raft index, raft applied index, errors. OutputNormalizer maps the id
    // but not the rest; version, size, term and indexes legitimately differ (see its class comment).
    private static readonly Regex s_simpleStatus = new(
        @"^(?<endpoint>[^,]+), (?<id>[^,]+), [^,]+, [^,]+, (?<leader>true|false), (?<learner>true|false), \d+, \d+, \d+, (?<errors>.*)$",
        RegexOptions.Multiline);

    private static string Comparable(TranscriptEntry entry) =>
        entry.Step.Args is ["endpoint", "status", ..] && entry.Step.OutputFormat == "simple"
            ? s_simpleStatus.Replace(entry.Normalized, "${endpoint}, ${id}, <version>, <size>, ${leader}, ${learner}, <term>, <index>, <index>, ${errors}")
            : entry.Normalized;

    private static List<string> Differences(Transcript expected, Transcript actual)
    {
        var differences = new List<string>();
        Assert.Equal(expected.Entries.Count, actual.Entries.Count);
        for (int i = 0; i < expected.Entries.Count; i++)
        {
            string left = Comparable(expected.Entries[i]);
            string right = Comparable(actual.Entries[i]);
            if (left != right)
            {
                differences.Add($"step {i + 1}: {expected.Entries[i].Step.Display}\n--- {expected.Server}:\n{left}\n+++ {actual.Server}:\n{right}");
            }
        }

        return differences;
    }

    private static async Task<Transcript> RunAsync(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind, new MemberOptions { Name = "formats" });
        return await Transcript.RunAsync(member, Scenario());
    }
}
