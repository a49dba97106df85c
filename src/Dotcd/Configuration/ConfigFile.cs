using System.Collections.Immutable;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Dotcd.Configuration;

/// <summary>What a config file gave: values for flags, and keys no flag has.</summary>
internal sealed class ConfigFileContent
{
    public List<FlagValue> Values { get; } = [];

    /// <summary>Keys etcd would silently ignore; dotcd warns about them.</summary>
    public List<string> UnknownKeys { get; } = [];
}

/// <summary>
/// Reads etcd's YAML config file. etcd converts the YAML to JSON and decodes it into its Go
/// Config struct, so dotcd follows the same rules:
/// <list type="bullet">
/// <item>keys are the flag names ("name", "data-dir", "listen-client-urls", ...), matched
/// ignoring case; TLS sits in "client-transport-security" and "peer-transport-security" blocks
/// with keys cert-file, key-file, client-cert-auth, trusted-ca-file, auto-tls;</item>
/// <item>a string setting takes any scalar as its text ("name: 1" is the name "1");</item>
/// <item>numbers and booleans must be plain YAML numbers and booleans (YAML 1.1: yes/no/on/off
/// are booleans), else etcd's "cannot unmarshal ..." error;</item>
/// <item>URL lists are one comma-separated string; log-outputs and cipher-suites are sequences;</item>
/// <item>durations are integers of nanoseconds, as in etcd; dotcd also reads "10m".</item>
/// </list>
/// </summary>
internal static partial class ConfigFile
{
    private const string ErrorPrefix = "error unmarshaling JSON: while decoding JSON: json: ";

    /// <summary>Reads the file; on failure <paramref name="error"/> is etcd's message.</summary>
    public static ConfigFileContent? Load(string path, out string error)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error = e is FileNotFoundException or DirectoryNotFoundException
                ? $"open {path}: no such file or directory"
                : $"open {path}: {e.Message}";
            return null;
        }

        return Parse(text, out error);
    }

    /// <summary>Reads config-file text.</summary>
    public static ConfigFileContent? Parse(string text, out string error)
    {
        error = "";
        YamlNode? root;
        try
        {
            root = YamlTree.Read(text);
        }
        catch (YamlException e)
        {
            error = $"error converting YAML to JSON: yaml: line {e.Start.Line}: {e.Message}";
            return null;
        }

        var content = new ConfigFileContent();
        if (root is null || IsNull(root))
        {
            return content;
        }

        if (root is not YamlMappingNode mapping)
        {
            error = ErrorPrefix + $"cannot unmarshal {JsonKind(root)} into Go value of type embed.configYAML";
            return null;
        }

        return ReadMapping(mapping, "", content, out error) ? content : null;
    }

    private static bool ReadMapping(YamlMappingNode mapping, string prefix, ConfigFileContent content, out string error)
    {
        error = "";
        foreach ((YamlNode keyNode, YamlNode valueNode) in mapping.Entries)
        {
            string key = (keyNode as YamlScalarNode)?.Value ?? "";
            string path = prefix + key;
            if (prefix.Length == 0 && IsSecurityBlock(key, out string block))
            {
                if (IsNull(valueNode))
                {
                    continue;
                }

                if (valueNode is not YamlMappingNode nested)
                {
                    error = ErrorPrefix + $"cannot unmarshal {JsonKind(valueNode)} into Go struct field configYAML.{block} of type embed.securityConfig";
                    return false;
                }

                if (!ReadMapping(nested, block + ".", content, out error))
                {
                    return false;
                }

                continue;
            }

            FlagSpec? flag = FindFlag(path);
            if (flag is null)
            {
                content.UnknownKeys.Add(path);
                continue;
            }

            if (IsNull(valueNode))
            {
                continue; // JSON null leaves the Go field as it was.
            }

            if (!TryReadValue(flag, valueNode, out object? value, out error))
            {
                return false;
            }

            if (value is not null)
            {
                content.Values.Add(new FlagValue(flag, value, ValueSource.ConfigFile, flag.ConfigKey!));
            }
        }

        return true;
    }

    private static bool IsSecurityBlock(string key, out string block)
    {
        foreach (string name in (string[])["client-transport-security", "peer-transport-security"])
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                block = name;
                return true;
            }
        }

        block = "";
        return false;
    }

    // Go's encoding/json prefers an exact key and falls back to a case-insensitive match.
    private static FlagSpec? FindFlag(string path)
    {
        FlagSpec? folded = null;
        foreach (FlagSpec flag in EtcdFlags.All)
        {
            if (flag.ConfigKey is null)
            {
                continue;
            }

            if (flag.ConfigKey == path)
            {
                return flag;
            }

            if (folded is null && string.Equals(flag.ConfigKey, path, StringComparison.OrdinalIgnoreCase))
            {
                folded = flag;
            }
        }

        return folded;
    }

    private static bool TryReadValue(FlagSpec flag, YamlNode node, out object? value, out string error)
    {
        value = null;
        error = "";
        string field = $"configYAML.{flag.ConfigKey}";
        string mismatch = ErrorPrefix + $"cannot unmarshal {JsonKind(node)} into Go struct field {field} of type {flag.GoTypeName}";
        switch (flag.ConfigKind)
        {
            case ConfigValueKind.String:
            {
                if (node is not YamlScalarNode scalar)
                {
                    error = mismatch;
                    return false;
                }

                string text = scalar.Value ?? "";
                return TryConvertString(flag, text, out value, out error);
            }

            case ConfigValueKind.Bool:
            {
                if (Resolve(node) is bool flagValue)
                {
                    value = flagValue;
                    return true;
                }

                error = mismatch;
                return false;
            }

            case ConfigValueKind.Number:
            {
                object? resolved = Resolve(node);
                if (resolved is not (long or ulong or double))
                {
                    error = mismatch;
                    return false;
                }

                if (!TryFitNumber(flag, resolved, out value))
                {
                    string number = resolved is double d ? d.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : resolved.ToString()!;
                    error = ErrorPrefix + $"cannot unmarshal number {number} into Go struct field {field} of type {flag.GoTypeName}";
                    return false;
                }

                return true;
            }

            case ConfigValueKind.Duration:
            {
                object? resolved = Resolve(node);
                if (resolved is long nanoseconds)
                {
                    value = TimeSpan.FromTicks(nanoseconds / 100);
                    return true;
                }

                // etcd only reads nanoseconds here; dotcd also takes Go's duration text ("10m").
                if (resolved is string text && GoSyntax.TryParseDuration(text, out TimeSpan duration, out _))
                {
                    value = duration;
                    return true;
                }

                error = mismatch;
                return false;
            }

            case ConfigValueKind.StringList:
            {
                if (node is not YamlSequenceNode sequence)
                {
                    error = mismatch;
                    return false;
                }

                var items = ImmutableArray.CreateBuilder<string>();
                foreach (YamlNode item in sequence.Items)
                {
                    if (item is not YamlScalarNode itemScalar)
                    {
                        error = ErrorPrefix + $"cannot unmarshal {JsonKind(item)} into Go struct field {field} of type string";
                        return false;
                    }

                    items.Add(itemScalar.Value ?? "");
                }

                value = items.ToImmutable();
                return true;
            }

            default:
                error = mismatch;
                return false;
        }
    }

    // String keys whose Go field is not a string: URL lists (etcd parses them after decoding,
    // with its "unexpected error setting up" message) and etcd's comma-separated sets.
    private static bool TryConvertString(FlagSpec flag, string text, out object? value, out string error)
    {
        error = "";
        value = text;
        switch (flag.Kind)
        {
            case FlagKind.Urls:
                if (text.Length == 0)
                {
                    value = null; // An empty string leaves etcd's default in place.
                    return true;
                }

                if (!EtcdUrl.TryParseList(text, out ImmutableArray<EtcdUrl> urls, out string reason))
                {
                    error = $"unexpected error setting up {flag.ConfigKey}: {reason}";
                    return false;
                }

                value = urls;
                return true;
            case FlagKind.Cors:
            case FlagKind.UniqueStrings:
                if (text.Length == 0)
                {
                    value = null;
                    return true;
                }

                if (!flag.TryParse(text, out object parsed, out reason))
                {
                    error = $"unexpected error setting up {flag.ConfigKey}: {reason}";
                    return false;
                }

                value = parsed;
                return true;
            default:
                return true;
        }
    }

    private static bool TryFitNumber(FlagSpec flag, object resolved, out object? value)
    {
        value = null;
        bool unsigned = flag.Kind is FlagKind.Uint or FlagKind.Uint32 or FlagKind.Uint64;
        switch (resolved)
        {
            case long signed when unsigned:
                if (signed < 0 || (flag.Kind == FlagKind.Uint32 && signed > uint.MaxValue))
                {
                    return false;
                }

                value = (ulong)signed;
                return true;
            case long signed:
                value = signed;
                return true;
            case ulong big when unsigned:
                value = big;
                return true;
            default:
                return false;
        }
    }

    private static bool IsNull(YamlNode node) => node is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    // YAML 1.1 resolution of a plain scalar as go-yaml v2 does it: null, bool, int, float or
    // string. Quoted scalars are always strings.
    private static object? Resolve(YamlNode node)
    {
        if (node is not YamlScalarNode scalar)
        {
            return node;
        }

        string text = scalar.Value ?? "";
        if (scalar.Style != ScalarStyle.Plain)
        {
            return text;
        }

        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "y" or "Y" or "yes" or "Yes" or "YES" or "true" or "True" or "TRUE" or "on" or "On" or "ON":
                return true;
            case "n" or "N" or "no" or "No" or "NO" or "false" or "False" or "FALSE" or "off" or "Off" or "OFF":
                return false;
            case ".inf" or ".Inf" or ".INF" or "+.inf" or "+.Inf" or "+.INF":
                return double.PositiveInfinity;
            case "-.inf" or "-.Inf" or "-.INF":
                return double.NegativeInfinity;
            case ".nan" or ".NaN" or ".NAN":
                return double.NaN;
        }

        string plain = text.Replace("_", "", StringComparison.Ordinal);
        if (plain.Length > 0 && (char.IsAsciiDigit(plain[0]) || plain[0] is '-' or '+' or '.'))
        {
            if (GoSyntax.ParseSigned(plain, 64, out long signed) == GoNumberError.None)
            {
                return signed;
            }

            if (GoSyntax.ParseUnsigned(plain, 64, out ulong unsigned) == GoNumberError.None)
            {
                return unsigned;
            }

            if (YamlFloat().IsMatch(plain) && double.TryParse(plain, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double real))
            {
                return real;
            }
        }

        return text;
    }

    // The JSON kind Go names in "cannot unmarshal <kind> into ...".
    private static string JsonKind(YamlNode node) => node switch
    {
        YamlMappingNode => "object",
        YamlSequenceNode => "array",
        _ => Resolve(node) switch
        {
            null => "null",
            bool => "bool",
            long or ulong or double => "number",
            _ => "string",
        },
    };

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex YamlFloat();
}

/// <summary>A YAML node as etcd's decoder sees it.</summary>
internal abstract record YamlNode;

internal sealed record YamlScalarNode(string? Value, ScalarStyle Style) : YamlNode;

internal sealed record YamlSequenceNode(List<YamlNode> Items) : YamlNode;

/// <summary>Entries in file order; a repeated key appears twice and the later one wins, as in go-yaml v2.</summary>
internal sealed record YamlMappingNode(List<(YamlNode Key, YamlNode Value)> Entries) : YamlNode;

/// <summary>Builds <see cref="YamlNode"/> trees from YamlDotNet's parser events (first document only).</summary>
internal static class YamlTree
{
    public static YamlNode? Read(string text)
    {
        var parser = new Parser(new StringReader(text));
        var anchors = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        parser.Consume<StreamStart>();
        if (parser.Accept<StreamEnd>(out _))
        {
            return null;
        }

        parser.Consume<DocumentStart>();
        YamlNode root = ReadNode(parser, anchors);
        parser.Consume<DocumentEnd>();
        return root;
    }

    private static YamlNode ReadNode(IParser parser, Dictionary<string, YamlNode> anchors)
    {
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            return anchors.TryGetValue(alias.Value.Value, out YamlNode? target)
                ? target
                : throw new YamlException(alias.Start, alias.End, $"unknown anchor '{alias.Value}' referenced");
        }

        YamlNode node;
        AnchorName anchor;
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            anchor = scalar.Anchor;
            node = new YamlScalarNode(scalar.Value, scalar.Style);
        }
        else if (parser.TryConsume<SequenceStart>(out var sequenceStart))
        {
            anchor = sequenceStart.Anchor;
            var items = new List<YamlNode>();
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                items.Add(ReadNode(parser, anchors));
            }

            node = new YamlSequenceNode(items);
        }
        else
        {
            MappingStart mappingStart = parser.Consume<MappingStart>();
            anchor = mappingStart.Anchor;
            var entries = new List<(YamlNode, YamlNode)>();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                YamlNode key = ReadNode(parser, anchors);
                entries.Add((key, ReadNode(parser, anchors)));
            }

            node = new YamlMappingNode(entries);
        }

        if (!anchor.IsEmpty)
        {
            anchors[anchor.Value] = node;
        }

        return node;
    }
}
