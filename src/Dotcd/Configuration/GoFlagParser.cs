namespace Dotcd.Configuration;

/// <summary>Where a value came from; it names the source in dotcd's refusals.</summary>
internal enum ValueSource
{
    CommandLine,
    Environment,
    ConfigFile,
}

/// <summary>One value given for a flag.</summary>
internal sealed record FlagValue(FlagSpec Flag, object Value, ValueSource Source, string SourceName)
{
    /// <summary>"--name", "--name (from ETCD_NAME)", "--name (config file key name)".</summary>
    public string Describe() => Source switch
    {
        ValueSource.Environment => $"--{Flag.Name} (from {SourceName})",
        ValueSource.ConfigFile => $"--{Flag.Name} (config file key {SourceName})",
        _ => "--" + Flag.Name,
    };
}

/// <summary>The outcome of reading the command line.</summary>
internal sealed class ParsedCommandLine
{
    /// <summary>-h, -help or --help was given.</summary>
    public bool HelpRequested { get; init; }

    /// <summary>Go's flag error ("flag provided but not defined: -foo"); etcd then prints usage and exits 2.</summary>
    public string? Error { get; init; }

    public List<FlagValue> Values { get; } = [];

    /// <summary>Arguments left after the flags (etcd refuses them: "'x' is not a valid flag").</summary>
    public List<string> Remaining { get; } = [];

    /// <summary>Names of etcd's removed flags that were given (etcd warns and ignores them).</summary>
    public List<string> IgnoredFlags { get; } = [];

    public bool IsSet(string name) => Values.Any(v => v.Flag.Name == name);
}

/// <summary>
/// Reads arguments exactly as Go's flag package (which etcd uses) does:
/// <list type="bullet">
/// <item>"-name v", "-name=v", "--name v" and "--name=v" are the same;</item>
/// <item>a boolean takes a value only after "=": "-x" means true, and in "-x false" the "false" is an argument;</item>
/// <item>a non-boolean takes the next argument whatever it looks like ("--name --foo" names the member "--foo");</item>
/// <item>parsing stops at the first argument that is not a flag, or after "--";</item>
/// <item>"-h" and "-help" ask for help unless defined; "---x", "-=x" are bad syntax.</item>
/// </list>
/// </summary>
internal static class GoFlagParser
{
    public static ParsedCommandLine Parse(IReadOnlyList<string> args, IReadOnlyDictionary<string, FlagSpec> flags)
    {
        var result = new ParsedCommandLine();
        int i = 0;
        while (i < args.Count)
        {
            string arg = args[i];
            if (arg.Length < 2 || arg[0] != '-')
            {
                break;
            }

            int dashes = 1;
            if (arg[1] == '-')
            {
                dashes = 2;
                if (arg.Length == 2)
                {
                    i++; // "--" ends the flags and is consumed.
                    break;
                }
            }

            string name = arg[dashes..];
            if (name.Length == 0 || name[0] == '-' || name[0] == '=')
            {
                return Fail(result, $"bad flag syntax: {arg}");
            }

            i++;
            string? value = null;
            int equals = name.IndexOf('=', 1);
            if (equals >= 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }

            if (!flags.TryGetValue(name, out FlagSpec? flag))
            {
                if (name is "help" or "h")
                {
                    return new ParsedCommandLine { HelpRequested = true };
                }

                return Fail(result, $"flag provided but not defined: -{name}");
            }

            if (flag.IsBoolean)
            {
                string text = value ?? "true";
                if (!flag.TryParse(text, out object parsed, out string error))
                {
                    return Fail(result, value is null ? $"invalid boolean flag {name}: {error}" : $"invalid boolean value \"{text}\" for -{name}: {error}");
                }

                if (flag.Support == FlagSupport.Ignored)
                {
                    result.IgnoredFlags.Add(name);
                    continue;
                }

                result.Values.Add(new FlagValue(flag, parsed, ValueSource.CommandLine, "-" + name));
                continue;
            }

            if (value is null)
            {
                if (i >= args.Count)
                {
                    return Fail(result, $"flag needs an argument: -{name}");
                }

                value = args[i++];
            }

            if (!flag.TryParse(value, out object typed, out string failure))
            {
                return Fail(result, $"invalid value \"{value}\" for flag -{name}: {failure}");
            }

            result.Values.Add(new FlagValue(flag, typed, ValueSource.CommandLine, "-" + name));
        }

        for (; i < args.Count; i++)
        {
            result.Remaining.Add(args[i]);
        }

        return result;
    }

    private static ParsedCommandLine Fail(ParsedCommandLine partial, string error)
    {
        var failed = new ParsedCommandLine { Error = error };
        failed.IgnoredFlags.AddRange(partial.IgnoredFlags);
        return failed;
    }
}
