using System.Reflection;
using System.Text;

namespace Dotcd.Tools;

/// <summary>One command of an etcdctl-like tool ("member list").</summary>
internal sealed record ToolCommand(string Name, string Description);

/// <summary>
/// The shared front of dotcdctl and dotcdutl (compiled into both): etcdctl's help layout,
/// version output, global flags, and a clear "not built yet" refusal for every command,
/// since the client and the offline tools (issue #2) do not exist yet.
/// </summary>
internal sealed class ToolCommandLine
{
    private readonly string _tool;
    private readonly string _summary;
    private readonly IReadOnlyList<ToolCommand> _commands;
    private readonly IReadOnlyList<(string Flag, string Description)> _options;
    private readonly HashSet<string> _flagsWithValues;

    public ToolCommandLine(
        string tool,
        string summary,
        IReadOnlyList<ToolCommand> commands,
        IReadOnlyList<(string Flag, string Description)> options,
        IEnumerable<string> flagsWithValues)
    {
        _tool = tool;
        _summary = summary;
        _commands = commands;
        _options = options;
        _flagsWithValues = new HashSet<string>(flagsWithValues, StringComparer.Ordinal);
    }

    /// <summary>The etcd API version the tools speak (dotcd reports etcd 3.6.0).</summary>
    public const string ApiVersion = "3.6";

    public string Version { get; } =
        typeof(ToolCommandLine).Assembly // Compiled into each tool, so this is the tool's own assembly.
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public string HelpText
    {
        get
        {
            var text = new StringBuilder();
            text.Append("NAME:\n\t").Append(_tool).Append(" - ").Append(_summary).Append("\n\n");
            text.Append("USAGE:\n\t").Append(_tool).Append(" [flags]\n\n");
            text.Append("VERSION:\n\t").Append(Version).Append("\n\n");
            text.Append("API VERSION:\n\t").Append(ApiVersion).Append("\n\n\n");
            text.Append("COMMANDS:\n");
            foreach (ToolCommand command in _commands)
            {
                text.Append('\t').Append(command.Name).Append("\t\t").Append(command.Description).Append('\n');
            }

            text.Append("\nOPTIONS:\n");
            foreach ((string flag, string description) in _options)
            {
                text.Append(flag).Append("\t\t").Append(description).Append('\n');
            }

            text.Append("\nNot built yet: every command other than help and version stops with an error (see issue #2).\n");
            return text.ToString();
        }
    }

    public string VersionText => $"{_tool} version: {Version}\nAPI version: {ApiVersion}\n";

    /// <summary>Runs the tool; returns the exit code.</summary>
    public int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var words = new List<string>();
        bool help = false;
        bool version = false;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg == "--")
            {
                words.AddRange(args.Skip(i + 1));
                break;
            }

            if (arg.Length > 1 && arg[0] == '-')
            {
                string name = arg.TrimStart('-');
                int equals = name.IndexOf('=');
                string bare = equals < 0 ? name : name[..equals];
                if (bare is "h" or "help")
                {
                    help = true;
                }
                else if (bare == "version")
                {
                    version = true;
                }
                else if (equals < 0 && _flagsWithValues.Contains(bare))
                {
                    i++; // The flag's value is the next argument.
                }

                continue;
            }

            words.Add(arg);
        }

        if (version || (words.Count > 0 && words[0] == "version"))
        {
            output.Write(VersionText);
            return 0;
        }

        if (help || words.Count == 0 || words[0] == "help")
        {
            output.Write(HelpText);
            return 0;
        }

        ToolCommand? command = _commands
            .Where(c => Matches(c.Name, words))
            .OrderByDescending(c => c.Name.Length)
            .FirstOrDefault();
        if (command is null)
        {
            error.Write($"Error: unknown command \"{words[0]}\" for \"{_tool}\"\nRun '{_tool} --help' for usage.\n");
            return 1;
        }

        string named = string.Join(' ', words.Take(command.Name.Split(' ').Length));
        error.Write($"{_tool}: command \"{named}\" is not built yet: see issue #2\n");
        return 1;
    }

    // "member list" matches ["member", "list", ...]; a group word alone ("member") matches too.
    private static bool Matches(string commandName, List<string> words)
    {
        string[] parts = commandName.Split(' ');
        if (parts[0] != words[0])
        {
            return false;
        }

        for (int i = 1; i < parts.Length && i < words.Count; i++)
        {
            if (parts[i] != words[i])
            {
                return false;
            }
        }

        return true;
    }
}
