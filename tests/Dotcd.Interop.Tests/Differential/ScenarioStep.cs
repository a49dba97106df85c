namespace Dotcd.Interop.Tests.Differential;

/// <summary>
/// One etcdctl command of a differential scenario. Args may hold "{name}" for a value captured
/// by an earlier step (a lease ID differs per server, so it cannot be written in the script).
/// The Expect* fields state what the step is there to show (checked on every transcript), so
/// that a scenario that stopped exercising, say, a successful compare-and-swap fails loudly
/// instead of comparing equal.
/// </summary>
public sealed record ScenarioStep(IReadOnlyList<string> Args)
{
    /// <summary>Text written to etcdctl's stdin (txn).</summary>
    public string? Stdin { get; init; }

    /// <summary>A command that reads a local file and talks to no server (snapshot status).</summary>
    public bool Offline { get; init; }

    public int ExpectExit { get; init; }

    /// <summary>Substring of the normalized stdout.</summary>
    public string? ExpectStdout { get; init; }

    /// <summary>Substring of the normalized stderr.</summary>
    public string? ExpectStderr { get; init; }

    /// <summary>Saves the "ID" of this step's JSON output, in hex, under this name.</summary>
    public string? CaptureIdAs { get; init; }

    /// <summary>The value of -w/--write-out, or "simple".</summary>
    public string OutputFormat
    {
        get
        {
            for (int i = 0; i < Args.Count; i++)
            {
                if (Args[i] is "-w" or "--write-out" && i + 1 < Args.Count)
                {
                    return Args[i + 1];
                }

                if (Args[i].StartsWith("--write-out=", StringComparison.Ordinal) || Args[i].StartsWith("-w=", StringComparison.Ordinal))
                {
                    return Args[i][(Args[i].IndexOf('=') + 1)..];
                }
            }

            return "simple";
        }
    }

    /// <summary>How the step reads in a transcript: the command line with quotes where needed, then stdin.</summary>
    public string Display
    {
        get
        {
            string line = "$ etcdctl " + string.Join(' ', Args.Select(Quote));
            return Stdin is null ? line : line + "\n<<< stdin:\n" + Stdin.TrimEnd('\n').Replace("\n", "\n<<< ", StringComparison.Ordinal);
        }
    }

    /// <summary>A txn read from stdin: compares, then success ops, then failure ops, each section ended by a blank line.</summary>
    public static ScenarioStep Txn(string[] compares, string[] success, string[] failure, params string[] args) =>
        new(["txn", .. args])
        {
            Stdin = Section(compares) + Section(success) + Section(failure),
        };

    private static string Section(string[] lines) => string.Concat(lines.Select(l => l + "\n")) + "\n";

    private static string Quote(string arg) =>
        arg.Length == 0 || arg.Contains(' ', StringComparison.Ordinal) ? $"'{arg}'" : arg;
}
