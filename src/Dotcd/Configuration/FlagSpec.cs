using System.Collections.Immutable;
using System.Globalization;

namespace Dotcd.Configuration;

/// <summary>The Go type behind an etcd flag, which decides its syntax and error wording.</summary>
internal enum FlagKind
{
    String,
    Bool,
    Uint,       // Go uint (64-bit): strconv.ParseUint(s, 0, 64).
    Uint32,     // etcd's uint32Value: errors carry strconv's full text.
    Uint64,
    Int,        // Go int (64-bit).
    Int64,
    Duration,   // time.ParseDuration.
    Urls,       // comma-separated URLs, sorted (etcd's UniqueURLs).
    Cors,       // UniqueURLs that also accept "*".
    UniqueStrings, // comma-separated, de-duplicated and sorted.
    Strings,    // comma-separated, as given.
    Choice,     // one of Choices (etcd's SelectiveStringValue).
    Ignored,    // etcd's list of removed flags: accepted as booleans, warned about, ignored.
}

/// <summary>What dotcd does with a flag.</summary>
internal enum FlagSupport
{
    Supported, // Read into MemberConfig.
    NotYet,    // The feature is not built: any value other than etcd's default stops the process.
    Ignored,   // etcd itself ignores it (with a warning); so does dotcd.
}

/// <summary>How a config-file value is read (sigs.k8s.io/yaml into etcd's Go struct).</summary>
internal enum ConfigValueKind
{
    None,       // Not settable in the config file.
    String,     // Any scalar, as text.
    Bool,
    Number,
    Duration,   // An integer of nanoseconds (etcd); dotcd also reads Go duration text.
    StringList, // A YAML sequence of strings.
}

/// <summary>One etcd flag: how it parses, how --help shows it, and what dotcd does with it.</summary>
internal sealed class FlagSpec
{
    public required string Name { get; init; }

    public required FlagKind Kind { get; init; }

    public required FlagSupport Support { get; init; }

    /// <summary>The help section ("Member", "Clustering", ...).</summary>
    public required string Section { get; init; }

    /// <summary>The default exactly as the help shows it ("'default'", "10", "''").</summary>
    public required string HelpDefault { get; init; }

    public required ImmutableArray<string> Description { get; init; }

    /// <summary>Values (Go flag syntax) that mean "etcd's default": giving one changes nothing.</summary>
    public ImmutableArray<string> DefaultValues { get; init; } = [];

    public ImmutableArray<string> Choices { get; init; } = [];

    /// <summary>Not in etcd's --help output, though etcd accepts it.</summary>
    public bool Hidden { get; init; }

    /// <summary>Key in the YAML config file ("name", "client-transport-security.cert-file"), or null.</summary>
    public string? ConfigKey { get; init; }

    public ConfigValueKind ConfigKind { get; init; }

    /// <summary>Stores a parsed value into the draft; set for supported flags only.</summary>
    public Action<ConfigDraft, object>? Apply { get; init; }

    /// <summary>ETCD_ + the name upper-cased with '-' turned into '_'.</summary>
    public string EnvironmentVariable => "ETCD_" + Name.ToUpperInvariant().Replace('-', '_');

    /// <summary>Go's flag package treats boolean flags specially: "-x" alone means true, "-x false" does not work.</summary>
    public bool IsBoolean => Kind is FlagKind.Bool or FlagKind.Ignored;

    /// <summary>The Go type name used in etcd's config-file type errors.</summary>
    public string GoTypeName => Kind switch
    {
        FlagKind.Bool => "bool",
        FlagKind.Uint => "uint",
        FlagKind.Uint32 => "uint32",
        FlagKind.Uint64 => "uint64",
        FlagKind.Int => "int",
        FlagKind.Int64 => "int64",
        FlagKind.Duration => "time.Duration",
        _ => ConfigKind == ConfigValueKind.StringList ? "[]string" : "string",
    };

    /// <summary>
    /// Parses a flag or environment value as etcd's flag.Value.Set does. On failure
    /// <paramref name="error"/> is the text etcd puts after "invalid value ... for flag -x: ".
    /// </summary>
    public bool TryParse(string text, out object value, out string error)
    {
        error = "";
        value = text;
        switch (Kind)
        {
            case FlagKind.String:
                return true;
            case FlagKind.Ignored:
                return true; // etcd's IgnoredFlag accepts anything.
            case FlagKind.Bool:
                if (GoSyntax.TryParseBool(text, out bool flag))
                {
                    value = flag;
                    return true;
                }

                error = "parse error";
                return false;
            case FlagKind.Uint:
            case FlagKind.Uint64:
            {
                GoNumberError failure = GoSyntax.ParseUnsigned(text, 64, out ulong number);
                value = number;
                error = BuiltinNumberError(failure);
                return failure == GoNumberError.None;
            }

            case FlagKind.Uint32:
            {
                GoNumberError failure = GoSyntax.ParseUnsigned(text, 32, out ulong number);
                value = number;
                error = failure switch
                {
                    GoNumberError.Syntax => $"strconv.ParseUint: parsing \"{text}\": invalid syntax",
                    GoNumberError.Range => $"strconv.ParseUint: parsing \"{text}\": value out of range",
                    _ => "",
                };
                return failure == GoNumberError.None;
            }

            case FlagKind.Int:
            case FlagKind.Int64:
            {
                GoNumberError failure = GoSyntax.ParseSigned(text, 64, out long number);
                value = number;
                error = BuiltinNumberError(failure);
                return failure == GoNumberError.None;
            }

            case FlagKind.Duration:
                if (GoSyntax.TryParseDuration(text, out TimeSpan duration, out _))
                {
                    value = duration;
                    return true;
                }

                error = "parse error";
                return false;
            case FlagKind.Urls:
            {
                bool ok = EtcdUrl.TryParseList(text, out ImmutableArray<EtcdUrl> urls, out error);
                value = urls;
                return ok;
            }

            case FlagKind.Cors:
            {
                if (text == "*")
                {
                    value = ImmutableArray.Create("*");
                    return true;
                }

                bool ok = EtcdUrl.TryParseList(text, out ImmutableArray<EtcdUrl> urls, out error);
                value = urls.Select(u => u.ToString()).Distinct().Order(StringComparer.Ordinal).ToImmutableArray();
                return ok;
            }

            case FlagKind.UniqueStrings:
                value = text.Split(',').Distinct().Order(StringComparer.Ordinal).ToImmutableArray();
                return true;
            case FlagKind.Strings:
                value = text.Split(',').ToImmutableArray();
                return true;
            case FlagKind.Choice:
                if (Choices.Contains(text))
                {
                    return true;
                }

                error = "invalid value";
                return false;
            default:
                throw new InvalidOperationException($"unknown flag kind {Kind}");
        }
    }

    /// <summary>True when <paramref name="value"/> is one of etcd's defaults for this flag.</summary>
    public bool IsDefault(object value)
    {
        string canonical = Canonical(value);
        foreach (string text in DefaultValues)
        {
            if (Canonical(ParseDefault(text)) == canonical)
            {
                return true;
            }
        }

        return false;
    }

    private object ParseDefault(string text)
    {
        // An empty default of a list flag is the empty list (etcd builds it without parsing).
        if (text.Length == 0 && Kind is FlagKind.Urls or FlagKind.Cors or FlagKind.UniqueStrings or FlagKind.Strings)
        {
            return ImmutableArray<string>.Empty;
        }

        if (text.Length == 0 && Kind == FlagKind.Duration)
        {
            return TimeSpan.Zero;
        }

        return TryParse(text, out object value, out string error)
            ? value
            : throw new InvalidOperationException($"default {text} of --{Name} does not parse: {error}");
    }

    /// <summary>A text form under which equal values compare equal, whatever their source.</summary>
    internal static string Canonical(object? value) => value switch
    {
        null => "",
        string text => text,
        bool flag => flag ? "true" : "false",
        ulong number => number.ToString(CultureInfo.InvariantCulture),
        long number => number.ToString(CultureInfo.InvariantCulture),
        TimeSpan duration => duration.Ticks.ToString(CultureInfo.InvariantCulture),
        ImmutableArray<EtcdUrl> urls => string.Join(",", urls),
        ImmutableArray<string> strings => string.Join(",", strings),
        _ => value.ToString() ?? "",
    };

    // Go's flag package reduces strconv errors of its own numeric flags to two words.
    private static string BuiltinNumberError(GoNumberError failure) => failure switch
    {
        GoNumberError.Syntax => "parse error",
        GoNumberError.Range => "value out of range",
        _ => "",
    };
}
