using System.Text;

namespace Dotcd.Raft.Tests.InteractionHarness;

/// <summary>One argument of a directive: a bare key, key=value, or key=(v1, v2, ...).</summary>
public sealed record DirectiveArg(string Key, IReadOnlyList<string> Values)
{
    public override string ToString() => Values.Count switch
    {
        0 => Key,
        1 => $"{Key}={Values[0]}",
        _ => $"{Key}=({string.Join(", ", Values)})",
    };
}

/// <summary>A command of a script with its input lines and the output the script expects.</summary>
public sealed class Directive
{
    public required string File { get; init; }
    public required int Line { get; init; }            // 1-based line of the command.
    public required string Command { get; init; }
    public required IReadOnlyList<DirectiveArg> Args { get; init; }
    public required string Input { get; init; }        // Lines between the command and "----", trimmed.
    public required string Expected { get; init; }     // Every line ends in '\n'; "" when the block is empty.

    // The expected block occupies source lines [ExpectedStart, ExpectedEnd) (0-based), including the
    // inner "----" lines of the double-separator form; a rewrite replaces exactly that range.
    internal int ExpectedStart { get; init; }
    internal int ExpectedEnd { get; init; }

    public string Position => $"{File}:{Line}";

    /// <summary>The command line as written, normalized (for error messages).</summary>
    public string CommandLine => Args.Count == 0 ? Command : $"{Command} {string.Join(" ", Args)}";
}

/// <summary>A script (or its expected output) is malformed; the message names file and line.</summary>
public sealed class DataDrivenFormatException(string message) : Exception(message);

/// <summary>
/// A datadriven script in the format of cockroachdb/datadriven, which etcd's raft interaction
/// tests use. Parsing keeps every source line so that a rewrite changes only expected blocks.
/// </summary>
public sealed class DataDrivenFile
{
    // File format:
    //
    //   # comment (only where a command may start)        <- skipped, kept verbatim on rewrite
    //   command arg key=value key=(v1, v2) \              <- '\' joins the next line
    //     more-args
    //   input line                                        <- optional input, up to "----"
    //   ----
    //   expected output                                   <- ends at a blank line or end of file
    //   <blank line>
    //   command2
    //   ----
    //   ----                                              <- double form: the output may hold
    //   output with                                          blank lines and ends at the
    //                                                        "----" "----" pair below
    //   a blank line
    //   ----
    //   ----
    //   <blank line>
    private const string Separator = "----";

    private readonly string[] _lines;

    private DataDrivenFile(string name, string[] lines, IReadOnlyList<Directive> directives)
    {
        Name = name;
        _lines = lines;
        Directives = directives;
    }

    public string Name { get; }

    public IReadOnlyList<Directive> Directives { get; }

    public static DataDrivenFile Parse(string name, string text)
    {
        string[] lines = SplitLines(text);
        var directives = new List<Directive>();
        int i = 0;
        while (i < lines.Length)
        {
            string trimmed = lines[i].Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                i++;
                continue;
            }

            int commandLine = i;
            string directiveText = trimmed;
            while (directiveText.EndsWith('\\') && i + 1 < lines.Length)
            {
                i++;
                directiveText = directiveText[..^1] + " " + lines[i].Trim();
            }
            (string command, IReadOnlyList<DirectiveArg> args) = ParseCommandLine(directiveText, name, commandLine + 1);
            i++;

            var input = new StringBuilder();
            while (i < lines.Length && !IsSeparator(lines[i]))
            {
                input.Append(lines[i]).Append('\n');
                i++;
            }
            if (i == lines.Length)
            {
                throw new DataDrivenFormatException(
                    $"{name}:{commandLine + 1}: command '{command}' has no '----' line before the end of the file");
            }
            i++; // Past the separator.

            int expectedStart = i;
            var expected = new StringBuilder();
            if (i < lines.Length && IsSeparator(lines[i]))
            {
                // Double form: read to the closing "----" "----" pair.
                i++;
                while (true)
                {
                    if (i + 1 >= lines.Length)
                    {
                        throw new DataDrivenFormatException(
                            $"{name}:{expectedStart + 1}: output of '{command}' opened with '----' '----' is never closed by '----' '----'");
                    }
                    if (IsSeparator(lines[i]) && IsSeparator(lines[i + 1])) break;
                    expected.Append(lines[i]).Append('\n');
                    i++;
                }
                i += 2;
                if (i < lines.Length && lines[i].Trim().Length != 0)
                {
                    throw new DataDrivenFormatException(
                        $"{name}:{i + 1}: a blank line must follow the closing '----' '----' of '{command}'");
                }
            }
            else
            {
                while (i < lines.Length && lines[i].Trim().Length != 0)
                {
                    expected.Append(lines[i]).Append('\n');
                    i++;
                }
            }

            directives.Add(new Directive
            {
                File = name,
                Line = commandLine + 1,
                Command = command,
                Args = args,
                Input = input.ToString().Trim(),
                Expected = expected.ToString(),
                ExpectedStart = expectedStart,
                ExpectedEnd = i,
            });
        }
        return new DataDrivenFile(name, lines, directives);
    }

    /// <summary>
    /// The file with each directive's expected block replaced by the given output (in directive
    /// order); comments, blank lines, commands and inputs stay byte for byte.
    /// </summary>
    public string Rewrite(IReadOnlyList<string> outputs)
    {
        if (outputs.Count > Directives.Count)
            throw new ArgumentException($"{outputs.Count} outputs for {Directives.Count} directives", nameof(outputs));

        var sb = new StringBuilder();
        int cursor = 0;
        for (int d = 0; d < outputs.Count; d++)
        {
            Directive directive = Directives[d];
            AppendLines(sb, cursor, directive.ExpectedStart);
            string output = NormalizeOutput(outputs[d]);
            if (HasBlankLine(output))
            {
                sb.Append(Separator).Append('\n').Append(output).Append(Separator).Append('\n').Append(Separator).Append('\n');
            }
            else
            {
                sb.Append(output);
            }
            cursor = directive.ExpectedEnd;
        }
        AppendLines(sb, cursor, _lines.Length);
        return sb.ToString();
    }

    /// <summary>Output as it is compared and written: non-empty output ends in exactly one newline per line.</summary>
    public static string NormalizeOutput(string output) =>
        output.Length == 0 || output.EndsWith('\n') ? output : output + "\n";

    /// <summary>Parses "cmd a b=c d=(e, f(g,h))" into the command and its arguments.</summary>
    public static (string Command, IReadOnlyList<DirectiveArg> Args) ParseCommandLine(string line, string file = "<string>", int lineNumber = 1)
    {
        string text = line.Trim();
        int pos = 0;

        string command = Until(" ");
        if (command.Length == 0) throw Error("missing command");

        var args = new List<DirectiveArg>();
        SkipSpaces();
        while (pos < text.Length)
        {
            int argStart = pos;
            string key = Until(" =");
            if (key.Length == 0) throw Error("empty argument name", argStart);
            var values = new List<string>();
            if (pos < text.Length && text[pos] == '=')
            {
                pos++;
                if (pos == text.Length || text[pos] == ' ')
                {
                    values.Add("");
                }
                else if (text[pos] != '(')
                {
                    values.Add(Until(" "));
                }
                else
                {
                    // A parenthesized list: split at top-level commas, nested parentheses stay inside a value.
                    int open = pos;
                    pos++;
                    int depth = 1;
                    int valueStart = pos;
                    while (depth > 0)
                    {
                        if (pos == text.Length) throw Error("'(' is never closed", open);
                        char c = text[pos++];
                        if (c == '(') depth++;
                        else if (c == ')') depth--;
                        else if (c == ',' && depth == 1)
                        {
                            values.Add(text[valueStart..(pos - 1)].Trim());
                            valueStart = pos;
                        }
                    }
                    values.Add(text[valueStart..(pos - 1)].Trim());
                    if (pos < text.Length && text[pos] != ' ') throw Error("expected a space after ')'", pos);
                }
            }
            args.Add(new DirectiveArg(key, values));
            SkipSpaces();
        }
        return (command, args);

        string Until(string stops)
        {
            int start = pos;
            while (pos < text.Length && stops.IndexOf(text[pos]) < 0) pos++;
            return text[start..pos];
        }

        void SkipSpaces()
        {
            while (pos < text.Length && text[pos] == ' ') pos++;
        }

        DataDrivenFormatException Error(string what, int at = 0) =>
            new($"{file}:{lineNumber}: cannot parse directive at column {at + 1} ({what}): {text}");
    }

    private static bool IsSeparator(string line) => line.TrimEnd() == Separator;

    private static bool HasBlankLine(string output)
    {
        // Output ends in '\n'; every line before that end must have content.
        string body = output.EndsWith('\n') ? output[..^1] : output;
        foreach (string line in body.Split('\n'))
        {
            if (line.Trim().Length == 0) return true;
        }
        return false;
    }

    private void AppendLines(StringBuilder sb, int from, int to)
    {
        for (int i = from; i < to; i++) sb.Append(_lines[i]).Append('\n');
    }

    private static string[] SplitLines(string text)
    {
        if (text.Length == 0) return [];
        string[] lines = text.Replace("\r\n", "\n").Split('\n');
        // A final newline ends the last line rather than starting an empty one.
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }
}
