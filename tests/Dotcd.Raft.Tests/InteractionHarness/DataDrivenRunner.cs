using System.Text;

namespace Dotcd.Raft.Tests.InteractionHarness;

/// <summary>What running a script gave: a failure description (null when it passed) and, in rewrite mode, the new text.</summary>
public sealed record DataDrivenResult(string? Failure, string? RewrittenText);

/// <summary>Runs the directives of a script through a handler and compares each output with the expected block.</summary>
public static class DataDrivenRunner
{
    public const string RewriteVariable = "DOTCD_REWRITE";

    /// <summary>True when DOTCD_REWRITE=1: expected blocks are regenerated instead of compared.</summary>
    public static bool RewriteRequested => Environment.GetEnvironmentVariable(RewriteVariable) == "1";

    /// <summary>
    /// Stops at the first mismatch (later state would differ anyway). In rewrite mode every directive
    /// runs and the result carries the file with each expected block replaced by the actual output.
    /// A handler exception always fails, naming the directive, so a crash is never recorded as expected.
    /// </summary>
    public static DataDrivenResult Run(DataDrivenFile file, Func<Directive, string> handler, bool rewrite)
    {
        var outputs = new List<string>();
        foreach (Directive directive in file.Directives)
        {
            string actual;
            try
            {
                actual = DataDrivenFile.NormalizeOutput(handler(directive));
            }
            catch (Exception e)
            {
                return new DataDrivenResult($"{directive.Position}: {directive.CommandLine}\nthrew {e}", null);
            }

            if (rewrite)
            {
                outputs.Add(actual);
            }
            else if (actual != directive.Expected)
            {
                return new DataDrivenResult(DescribeMismatch(directive, actual), null);
            }
        }
        return new DataDrivenResult(null, rewrite ? file.Rewrite(outputs) : null);
    }

    private static string DescribeMismatch(Directive directive, string actual)
    {
        var sb = new StringBuilder();
        sb.Append(directive.Position).Append(": ").Append(directive.CommandLine).Append('\n');
        if (directive.Input.Length > 0) sb.Append(directive.Input).Append('\n');
        sb.Append("output didn't match expected (-expected +actual):\n");
        sb.Append(LineDiff.Unified(directive.Expected, actual));
        sb.Append("actual output:\n").Append(actual);
        sb.Append($"(run with {RewriteVariable}=1 to rewrite the expected output, then review it with git diff)\n");
        return sb.ToString();
    }
}
