using System.Collections.Immutable;
using Dotcd.Logging;

namespace Dotcd.Configuration;

/// <summary>How reading the configuration ended.</summary>
internal enum LoadOutcome
{
    Run,          // A valid MemberConfig.
    Help,         // -h/--help: usage to stderr, flags to stdout, exit 0.
    Version,      // --version: exit 0.
    UsageError,   // Go flag error: the error and usage to stderr, exit 2.
    Invalid,      // etcd's "failed to verify flags": exit 1.
    NotSupported, // A feature dotcd has not built yet: exit 1.
    Fatal,        // etcd's fatal conflict between a flag and its ETCD_* variable: exit 1.
}

/// <summary>A log line produced while reading the configuration, written once the logger exists.</summary>
internal sealed record PendingLog(LogLevel Level, string Message, ImmutableArray<LogField> Fields, string CallerFile, int CallerLine)
{
    /// <summary>A line that will name the code creating it as its caller.</summary>
    public static PendingLog Create(
        LogLevel level,
        string message,
        ImmutableArray<LogField> fields,
        [System.Runtime.CompilerServices.CallerFilePath] string callerFile = "",
        [System.Runtime.CompilerServices.CallerLineNumber] int callerLine = 0) =>
        new(level, message, fields, callerFile, callerLine);
}

/// <summary>The result of <see cref="ConfigLoader.Load"/>.</summary>
internal sealed class ConfigLoadResult
{
    public required LoadOutcome Outcome { get; init; }

    public MemberConfig? Config { get; init; }

    /// <summary>The error for every outcome but Run, Help and Version.</summary>
    public string Message { get; init; } = "";

    /// <summary>Lines to log before anything else (recognized ETCD_* variables, ignored flags, ...).</summary>
    public ImmutableArray<PendingLog> Notes { get; init; } = [];

    /// <summary>For Invalid: the logging the configuration asked for, when that part was valid (etcd logs the error with it).</summary>
    public LogLevel? ErrorLogLevel { get; init; }

    public ImmutableArray<string> ErrorLogOutputs { get; init; } = [];
}

/// <summary>
/// Turns arguments, environment and config file into a <see cref="MemberConfig"/> the way
/// etcd 3.4's etcdmain does:
/// <list type="number">
/// <item>command-line flags (Go flag syntax); errors exit 2 with usage;</item>
/// <item>leftover arguments are refused; --version prints and exits;</item>
/// <item>--config-file (or ETCD_CONFIG_FILE): the file alone decides, other flags and ETCD_*
/// variables are ignored (dotcd warns which flags it ignored);</item>
/// <item>otherwise each flag not given on the command line is read from its ETCD_* variable; a
/// variable whose flag was also given is a fatal conflict; unknown ETCD_* variables are warned
/// about;</item>
/// <item>flags dotcd has not built refuse any value other than etcd's default;</item>
/// <item>etcd's derivations (advertise-client-urls dropped when listen-client-urls is set
/// alone, initial-cluster following --name, data-dir from the name) and validation.</item>
/// </list>
/// </summary>
internal static class ConfigLoader
{
    private const string EnvironmentPrefix = "ETCD_";

    public static ConfigLoadResult Load(IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment)
    {
        var notes = new List<PendingLog>();
        ParsedCommandLine commandLine = GoFlagParser.Parse(args, EtcdFlags.ByName);
        if (commandLine.HelpRequested)
        {
            return new ConfigLoadResult { Outcome = LoadOutcome.Help };
        }

        foreach (string ignored in commandLine.IgnoredFlags)
        {
            notes.Add(IgnoredFlagNote(ignored));
        }

        if (commandLine.Error is not null)
        {
            return new ConfigLoadResult { Outcome = LoadOutcome.UsageError, Message = commandLine.Error, Notes = [.. notes] };
        }

        if (commandLine.Remaining.Count > 0)
        {
            return Invalid($"'{commandLine.Remaining[0]}' is not a valid flag", notes, null);
        }

        if (Last(commandLine.Values, EtcdFlags.VersionFlag) is true)
        {
            return new ConfigLoadResult { Outcome = LoadOutcome.Version };
        }

        string configFile = Last(commandLine.Values, EtcdFlags.ConfigFileFlag) as string ?? "";
        if (configFile.Length == 0)
        {
            configFile = environment.GetValueOrDefault(EtcdFlags.Get(EtcdFlags.ConfigFileFlag).EnvironmentVariable, "");
        }

        List<FlagValue> values;
        if (configFile.Length > 0)
        {
            ConfigFileContent? content = ConfigFile.Load(configFile, out string fileError);
            if (content is null)
            {
                return Invalid(fileError, notes, null);
            }

            notes.Add(PendingLog.Create(
                LogLevel.Info,
                "loaded server configuration, other configuration command line flags and environment variables will be ignored if provided",
                [LogField.String("path", configFile)]));
            string[] ignoredFlags = [.. commandLine.Values.Select(v => v.Flag.Name).Where(n => n != EtcdFlags.ConfigFileFlag).Distinct()];
            if (ignoredFlags.Length > 0)
            {
                notes.Add(PendingLog.Create(LogLevel.Warn, "ignoring command-line flags because a configuration file is given", [LogField.Strings("ignored-flags", ignoredFlags)]));
            }

            if (content.UnknownKeys.Count > 0)
            {
                notes.Add(PendingLog.Create(LogLevel.Warn, "ignoring unknown configuration file keys", [LogField.Strings("keys", content.UnknownKeys)]));
            }

            values = content.Values;
        }
        else
        {
            values = [.. commandLine.Values];
            ConfigLoadResult? failure = ReadEnvironment(commandLine, environment, values, notes);
            if (failure is not null)
            {
                return failure;
            }
        }

        // Go's flag package and etcd's file decoding both keep the last value given.
        var effective = new Dictionary<string, FlagValue>(StringComparer.Ordinal);
        foreach (FlagValue value in values)
        {
            effective[value.Flag.Name] = value;
        }

        ConfigLoadResult? refusal = RefuseUnbuilt(effective.Values, notes);
        if (refusal is not null)
        {
            return refusal;
        }

        var draft = new ConfigDraft { ConfigFile = configFile };
        foreach (FlagValue value in values)
        {
            value.Flag.Apply?.Invoke(draft, value.Value);
        }

        // etcd drops its default advertise-client-urls when only the listen side was set.
        if (configFile.Length == 0 && effective.ContainsKey("listen-client-urls") && !effective.ContainsKey("advertise-client-urls"))
        {
            draft.AdvertiseClientUrls = null;
        }

        // etcd's default initial cluster follows a changed name (an empty one counts as
        // "default" there) and the advertised peer URLs.
        if (draft.Name != "default" && draft.InitialCluster == ConfigDraft.DefaultInitialCluster)
        {
            string member = draft.Name.Length == 0 ? "default" : draft.Name;
            draft.InitialCluster = string.Join(",", draft.AdvertisePeerUrls.Select(u => member + "=" + u));
        }

        // A config file's empty initial-cluster-state means "new" to etcd.
        if (draft.InitialClusterState.Length == 0)
        {
            draft.InitialClusterState = "new";
        }

        string? error = draft.Validate();
        if (error is not null)
        {
            return Invalid(error, notes, draft);
        }

        if (draft.DataDir.Length == 0)
        {
            draft.DataDir = draft.Name + ".dotcd";
            notes.Add(PendingLog.Create(LogLevel.Warn, "'data-dir' was empty; using default", [LogField.String("data-dir", draft.DataDir)]));
        }

        return new ConfigLoadResult { Outcome = LoadOutcome.Run, Config = draft.Build(), Notes = [.. notes] };
    }

    // etcd's flags.SetFlagsFromEnv: flags are visited in name order; a variable fills its flag
    // only when the command line did not set it; then every variable is checked.
    private static ConfigLoadResult? ReadEnvironment(
        ParsedCommandLine commandLine, IReadOnlyDictionary<string, string> environment, List<FlagValue> values, List<PendingLog> notes)
    {
        var setOnCommandLine = new HashSet<string>(StringComparer.Ordinal);
        foreach (FlagValue value in commandLine.Values)
        {
            setOnCommandLine.Add(value.Flag.EnvironmentVariable);
        }

        foreach (string ignored in commandLine.IgnoredFlags)
        {
            setOnCommandLine.Add(EtcdFlags.Get(ignored).EnvironmentVariable);
        }

        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (FlagSpec flag in EtcdFlags.All.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            string key = flag.EnvironmentVariable;
            if (setOnCommandLine.Contains(key) || !environment.TryGetValue(key, out string? text) || text.Length == 0)
            {
                continue;
            }

            used.Add(key);
            if (!flag.TryParse(text, out object typed, out string error))
            {
                return Invalid($"invalid value \"{text}\" for {key}: {error}", notes, null);
            }

            notes.Add(PendingLog.Create(
                LogLevel.Info,
                "recognized and used environment variable",
                [LogField.String("variable-name", key), LogField.String("variable-value", text)]));
            if (flag.Support == FlagSupport.Ignored)
            {
                notes.Add(IgnoredFlagNote(flag.Name));
                continue;
            }

            values.Add(new FlagValue(flag, typed, ValueSource.Environment, key));
        }

        foreach ((string key, string text) in environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (used.Contains(key))
            {
                continue;
            }

            if (setOnCommandLine.Contains(key))
            {
                return new ConfigLoadResult
                {
                    Outcome = LoadOutcome.Fatal,
                    Message = $"conflicting environment variable \"{key}\" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)",
                    Notes = [.. notes],
                };
            }

            if (key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
            {
                notes.Add(PendingLog.Create(LogLevel.Warn, "unrecognized environment variable", [LogField.String("environment-variable", key + "=" + text)]));
            }
        }

        return null;
    }

    // A flag whose feature dotcd lacks may only carry etcd's default: anything else would be
    // silently ignored, which an operator could not tell from a working setting.
    private static ConfigLoadResult? RefuseUnbuilt(IEnumerable<FlagValue> effective, List<PendingLog> notes)
    {
        foreach (FlagValue value in effective)
        {
            string? message = value.Flag.Name switch
            {
                _ when value.Flag.Support == FlagSupport.NotYet && !value.Flag.IsDefault(value.Value) =>
                    $"dotcd: flag {value.Describe()} is not supported yet",
                "logger" when (string)value.Value == "capnslog" =>
                    $"dotcd: {value.Describe()}=capnslog is not supported: dotcd writes etcd's zap JSON log lines; use --logger=zap",
                "log-outputs" when ((ImmutableArray<string>)value.Value).Contains(LogOutputs.Journal) =>
                    $"dotcd: {value.Describe()}={LogOutputs.Journal} is not supported yet",
                _ => null,
            };
            if (message is not null)
            {
                return new ConfigLoadResult { Outcome = LoadOutcome.NotSupported, Message = message, Notes = [.. notes] };
            }
        }

        return null;
    }

    private static PendingLog IgnoredFlagNote(string name) =>
        PendingLog.Create(LogLevel.Warn, "flag is no longer supported - ignoring", [LogField.String("flag", "-" + name)]);

    private static object? Last(List<FlagValue> values, string name) => values.LastOrDefault(v => v.Flag.Name == name)?.Value;

    private static ConfigLoadResult Invalid(string message, List<PendingLog> notes, ConfigDraft? draft)
    {
        // etcd sets its logger up first in Validate, so a later error is logged where the user asked.
        LogLevel? level = null;
        ImmutableArray<string> outputs = [];
        if (draft is not null
            && draft.Logger == "zap"
            && LogLevels.TryParse(draft.LogLevel, out LogLevel parsed)
            && LogOutputs.Validate(draft.LogOutputs) is null)
        {
            level = parsed;
            outputs = draft.LogOutputs;
        }

        return new ConfigLoadResult
        {
            Outcome = LoadOutcome.Invalid,
            Message = message,
            Notes = [.. notes],
            ErrorLogLevel = level,
            ErrorLogOutputs = outputs,
        };
    }
}
