using System.Globalization;
using System.Text.Json.Nodes;
using Dotcd.Interop.Tests.Harness;

namespace Dotcd.Interop.Tests.Differential;

/// <summary>One step as it ran: the command, its exit code and its normalized stdout and stderr.</summary>
public sealed record TranscriptEntry(ScenarioStep Step, string Stdout, string Stderr, EtcdctlResult Raw)
{
    // Layout of a normalized entry, compared as a whole:
    //   exit <code>
    //   stdout:
    //   <normalized stdout>
    //   stderr:
    //   <normalized stderr>
    public string Normalized =>
        $"exit {Raw.ExitCode}{(Raw.TimedOut ? " (timed out)" : "")}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";

    public override string ToString() => Step.Display + "\n" + Normalized;
}

/// <summary>A scenario run against one member, normalized for comparison with another run.</summary>
public sealed class Transcript
{
    private Transcript(string server, IReadOnlyList<TranscriptEntry> entries)
    {
        Server = server;
        Entries = entries;
    }

    public string Server { get; }

    public IReadOnlyList<TranscriptEntry> Entries { get; }

    public static async Task<Transcript> RunAsync(MemberProcess member, IReadOnlyList<ScenarioStep> steps)
    {
        var normalizer = OutputNormalizer.For(member);
        var captured = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<TranscriptEntry>(steps.Count);
        foreach (ScenarioStep step in steps)
        {
            string[] args = [.. step.Args.Select(a => Substitute(a, captured))];
            EtcdctlResult result = step.Offline
                ? await Etcdctl.RunOfflineAsync(args, member.WorkDir)
                : await member.Etcdctl.RunAsync(args, step.Stdin);
            entries.Add(new TranscriptEntry(
                step,
                NormalizeStdout(step, result, normalizer).TrimEnd('\n'),
                normalizer.Stderr(result.Stderr).TrimEnd('\n'),
                result));
            if (step.CaptureIdAs is { } name && result.ExitCode == 0)
            {
                ulong id = JsonNode.Parse(result.Stdout)!["ID"]!.GetValue<ulong>();
                captured[name] = id.ToString("x", CultureInfo.InvariantCulture);
            }
        }

        return new Transcript(member.ToString(), entries);
    }

    /// <summary>Steps whose normalized output differs, each with both sides; empty when equal.</summary>
    public static IReadOnlyList<string> Differences(Transcript expected, Transcript actual)
    {
        var differences = new List<string>();
        int count = Math.Max(expected.Entries.Count, actual.Entries.Count);
        for (int i = 0; i < count; i++)
        {
            TranscriptEntry? left = i < expected.Entries.Count ? expected.Entries[i] : null;
            TranscriptEntry? right = i < actual.Entries.Count ? actual.Entries[i] : null;
            if (left?.Normalized != right?.Normalized)
            {
                differences.Add(
                    $"step {i + 1}: {(left ?? right)!.Step.Display}\n" +
                    $"--- {expected.Server}:\n{left?.Normalized ?? "(missing)"}\n" +
                    $"+++ {actual.Server}:\n{right?.Normalized ?? "(missing)"}");
            }
        }

        return differences;
    }

    /// <summary>Steps whose outcome is not what the scenario says it shows.</summary>
    public IReadOnlyList<string> UnmetExpectations()
    {
        var unmet = new List<string>();
        for (int i = 0; i < Entries.Count; i++)
        {
            TranscriptEntry entry = Entries[i];
            ScenarioStep step = entry.Step;
            if (entry.Raw.ExitCode != step.ExpectExit
                || (step.ExpectStdout is { } o && !entry.Stdout.Contains(o, StringComparison.Ordinal))
                || (step.ExpectStderr is { } e && !entry.Stderr.Contains(e, StringComparison.Ordinal)))
            {
                unmet.Add(
                    $"step {i + 1} on {Server}: {step.Display}\nexpected exit {step.ExpectExit}" +
                    (step.ExpectStdout is null ? "" : $", stdout containing {step.ExpectStdout}") +
                    (step.ExpectStderr is null ? "" : $", stderr containing {step.ExpectStderr}") +
                    $"\ngot (normalized):\n{entry.Normalized}");
            }
        }

        return unmet;
    }

    /// <summary>Writes the transcript to a file for a person to read; returns the path.</summary>
    public string Save(string name)
    {
        string directory = Path.Combine(Path.GetTempPath(), "dotcd-interop-transcripts");
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, name + ".txt");
        File.WriteAllText(path, $"# {Server}\n\n" + string.Join("\n\n", Entries));
        return path;
    }

    private static string NormalizeStdout(ScenarioStep step, EtcdctlResult result, OutputNormalizer normalizer) =>
        step.OutputFormat switch
        {
            "json" => normalizer.Json(result.Stdout, step.Args[0]),
            "protobuf" when result.ExitCode == 0 => normalizer.Protobuf(result.StdoutBytes, ProtoSchema.ForCommand(step.Args[0])),
            _ => normalizer.Text(result.Stdout),
        };

    private static string Substitute(string arg, Dictionary<string, string> captured)
    {
        foreach ((string name, string value) in captured)
        {
            arg = arg.Replace("{" + name + "}", value, StringComparison.Ordinal);
        }

        return arg;
    }
}
