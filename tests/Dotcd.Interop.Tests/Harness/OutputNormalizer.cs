using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Dotcd.Interop.Tests.Harness;

/// <summary>
/// Rewrites etcdctl output so that one scenario run against two servers (etcd and etcd, or etcd
/// and dotcd) gives equal text exactly when the servers behaved the same for a client.
///
/// One instance per transcript: it remembers the values it replaced, so a value keeps one
/// placeholder for the whole transcript and relations survive normalization ("leader" equals
/// "member_id"; the lease in a key's "lease" field is the one "lease grant" returned; the term
/// did not change between two commands).
///
/// Normalized, because two correct servers legitimately differ there:
/// - IDs: cluster_id, member_id, member and lease IDs, leader, alarm memberID, in decimal (JSON,
///   fields output) and hex (simple output): etcd derives them from peer URLs, the cluster token
///   and the clock. They become &lt;id1&gt;, &lt;id2&gt;... in order of first appearance; 0 ("no
///   lease") stays 0.
/// - Raft terms (raft_term, raftTerm): how many elections a fresh member needs is internal.
///   Mapped like IDs (&lt;term1&gt;...), so an unexpected term change still shows.
/// - Raft indexes (raftIndex, raftAppliedIndex): they count internal entries too (bootstrap
///   conf changes, the leader's empty entry, cluster version and member attribute publishes).
/// - Server version strings ("3.4.23"; dotcd reports a 3.6-compatible one). Numeric "version"
///   fields are KeyValue versions and are kept.
/// - Sizes (dbSize, dbSizeInUse, snapshot totalSize) and the snapshot file's hash and key count
///   (hash, totalKey): bbolt and SQLite lay bytes out differently, and totalKey counts every
///   key of every internal bucket, not only user keys.
/// - Durations ("took") and the member's own URLs and host:port (the ports are random).
/// - etcdctl's own JSON log lines on stderr keep only level, msg and error: the rest is
///   timestamps, a random client UUID, sizes and timings of the client. "error" holds the
///   gRPC code and message the server sent, which must match.
/// - The header of `alarm` responses is dropped: etcd 3.4's server leaves AlarmResponse's header
///   unset (`alarm list -w json` prints `{}`), while etcd 3.5+ fills it, as dotcd (3.6-compatible)
///   does. The alarms themselves are kept.
///
/// Kept, because a client depends on them and both servers start from revision 1 on an empty
/// store: revisions everywhere (header revision, create/mod revisions, compacted and snapshot
/// revisions), KeyValue versions, keys, values, counts, "more", "deleted", "succeeded", TTLs,
/// member names, exit codes, stdout/stderr text and error messages.
/// </summary>
public sealed partial class OutputNormalizer
{
    private static readonly HashSet<string> s_idFields = new(StringComparer.Ordinal)
    {
        "cluster_id", "member_id", "ID", "id", "leader", "lease", "memberID", // -w json
        "ClusterID", "MemberID", "Leader", "Lease",                         // -w fields
    };

    private static readonly HashSet<string> s_termFields = new(StringComparer.Ordinal) { "raft_term", "raftTerm", "RaftTerm" };
    private static readonly HashSet<string> s_raftIndexFields = new(StringComparer.Ordinal)
    {
        "raftIndex", "raftAppliedIndex", "RaftIndex", "RaftAppliedIndex",
    };

    private static readonly HashSet<string> s_sizeFields = new(StringComparer.Ordinal)
    {
        "dbSize", "dbSizeInUse", "totalSize", "DBSize", "DBSizeInUse",
    };

    private static readonly JsonSerializerOptions s_json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly (string Raw, string Placeholder)[] _addresses;
    private readonly Dictionary<ulong, string> _ids = [];
    private readonly Dictionary<ulong, string> _terms = [];

    public OutputNormalizer(string clientUrl, string peerUrl, string endpoint)
    {
        // Longest first, so a URL is replaced whole before its host:port part is.
        _addresses = [(clientUrl, "<client-url>"), (peerUrl, "<peer-url>"), (endpoint, "<endpoint>")];
    }

    public static OutputNormalizer For(MemberProcess member) => new(member.ClientUrl, member.PeerUrl, member.Endpoint);

    /// <summary>The placeholder an ID got (or gets now): for tests and for captured values.</summary>
    public string Id(ulong id)
    {
        if (id == 0)
        {
            return "0";
        }

        if (!_ids.TryGetValue(id, out string? placeholder))
        {
            placeholder = $"<id{_ids.Count + 1}>";
            _ids.Add(id, placeholder);
        }

        return placeholder;
    }

    public string Term(ulong term)
    {
        if (!_terms.TryGetValue(term, out string? placeholder))
        {
            placeholder = $"<term{_terms.Count + 1}>";
            _terms.Add(term, placeholder);
        }

        return placeholder;
    }

    /// <summary>
    /// `-w json` output of the etcdctl <paramref name="command"/> (its first argument, as
    /// "alarm"); anything that does not parse as JSON is treated as text.
    /// </summary>
    public string Json(string stdout, string? command = null)
    {
        if (stdout.Trim().Length == 0)
        {
            return stdout;
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(stdout);
        }
        catch (JsonException)
        {
            return Text(stdout);
        }

        if (root is null)
        {
            return stdout;
        }

        if (command == "alarm" && root is JsonObject alarmResponse)
        {
            // 3.4 sends no header here and 3.5+ does (see the class comment): not a behaviour a client sees.
            alarmResponse.Remove("header");
        }

        JsonNode normalized = NormalizeNode(null, root);
        return normalized.ToJsonString(s_json) + "\n";
    }

    /// <summary>simple and fields output, and any stdout that is not JSON or protobuf.</summary>
    public string Text(string text)
    {
        var output = new StringBuilder(text.Length);
        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (i > 0)
            {
                output.Append('\n');
            }

            output.Append(TextLine(lines[i]));
        }

        return output.ToString();
    }

    /// <summary>stderr: etcdctl's JSON log lines reduced to level, msg and error; the rest as text.</summary>
    public string Stderr(string stderr)
    {
        var output = new StringBuilder(stderr.Length);
        foreach (string line in stderr.Split('\n'))
        {
            if (output.Length > 0)
            {
                output.Append('\n');
            }

            output.Append(LogLine(line) ?? TextLine(line));
        }

        return output.ToString();
    }

    /// <summary>`-w protobuf` output, decoded with the response's schema, IDs and terms normalized.</summary>
    public string Protobuf(ReadOnlySpan<byte> bytes, ProtoSchema schema) =>
        ProtobufDump.Render(bytes, schema, this) + "\n";

    private JsonNode NormalizeNode(string? name, JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (string key in obj.Select(p => p.Key).ToList())
                {
                    if (obj[key] is JsonNode child)
                    {
                        JsonNode replaced = NormalizeNode(key, child);
                        if (!ReferenceEquals(replaced, child))
                        {
                            obj[key] = replaced;
                        }
                    }
                }

                return obj;
            case JsonArray array:
                for (int i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonNode item)
                    {
                        JsonNode replaced = NormalizeNode(name, item);
                        if (!ReferenceEquals(replaced, item))
                        {
                            array[i] = replaced;
                        }
                    }
                }

                return array;
            case JsonValue value:
                return NormalizeValue(name, value);
            default:
                return node;
        }
    }

    private JsonNode NormalizeValue(string? name, JsonValue value)
    {
        JsonValueKind kind = value.GetValueKind();
        if (kind == JsonValueKind.Number && name is not null && value.TryGetValue(out ulong number))
        {
            if (s_idFields.Contains(name))
            {
                return JsonValue.Create(Id(number))!;
            }

            if (s_termFields.Contains(name))
            {
                return JsonValue.Create(Term(number))!;
            }

            if (s_raftIndexFields.Contains(name))
            {
                return JsonValue.Create("<raft-index>")!;
            }

            if (s_sizeFields.Contains(name))
            {
                return JsonValue.Create("<bytes>")!;
            }

            if (name is "hash")
            {
                return JsonValue.Create("<hash>")!;
            }

            if (name is "totalKey")
            {
                return JsonValue.Create("<key-count>")!;
            }

            return value;
        }

        if (kind == JsonValueKind.String)
        {
            string text = value.GetValue<string>();
            return name switch
            {
                "version" => JsonValue.Create("<server-version>")!,
                "took" => JsonValue.Create("<duration>")!,
                _ => JsonValue.Create(Addresses(text))!,
            };
        }

        return value;
    }

    private string Addresses(string text)
    {
        foreach ((string raw, string placeholder) in _addresses)
        {
            text = text.Replace(raw, placeholder, StringComparison.Ordinal);
        }

        return text;
    }

    private string TextLine(string line)
    {
        line = Addresses(line);
        line = TookPattern().Replace(line, "took = <duration>");

        Match field = FieldsLinePattern().Match(line);
        if (field.Success)
        {
            return FieldsLine(line, field.Groups["name"].Value, field.Groups["value"].Value);
        }

        // "lease 694d7a3f84e7e00b granted with TTL(60s)" and its revoke/keepalive siblings.
        Match lease = LeaseLinePattern().Match(line);
        if (lease.Success)
        {
            string hex = lease.Groups["id"].Value;
            string placeholder = Id(ulong.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            return line[..lease.Groups["id"].Index] + placeholder + line[(lease.Groups["id"].Index + hex.Length)..];
        }

        // Hex IDs in simple output ("bdae9bbc11dd390d, started, ..." or a lease list line),
        // printed with %x by some commands and %016x by others, so matched by value: only IDs
        // seen before, and only tokens of 8+ digits or a whole line, so that small numbers
        // (a delete count of "1") are never mistaken for a small ID.
        return HexTokenPattern().Replace(line, m =>
            (m.Length >= 8 || m.Length == line.Trim().Length)
            && ulong.TryParse(m.Value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong value)
            && _ids.TryGetValue(value, out string? id)
                ? id
                : m.Value);
    }

    // fields output: "ClusterID" : 15118495548433857066 / "Version" : "3.4.23" / "Version" : 2
    private string FieldsLine(string line, string name, string value)
    {
        bool quoted = value.StartsWith('"');
        if (!quoted && ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong number))
        {
            string? replaced =
                s_idFields.Contains(name) ? Id(number) :
                s_termFields.Contains(name) ? Term(number) :
                s_raftIndexFields.Contains(name) ? "<raft-index>" :
                s_sizeFields.Contains(name) ? "<bytes>" :
                null;
            return replaced is null ? line : $"\"{name}\" : {replaced}";
        }

        return quoted && name == "Version" ? $"\"{name}\" : <server-version>" : line;
    }

    // etcdctl's client logs: {"level":"warn","ts":"...","caller":"...","msg":"...","target":"...","attempt":0,"error":"..."}
    private string? LogLine(string line)
    {
        if (!line.StartsWith("{\"level\":", StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            if (JsonNode.Parse(line) is not JsonObject log)
            {
                return null;
            }

            string level = log["level"]?.GetValue<string>() ?? "";
            string message = log["msg"]?.GetValue<string>() ?? "";
            string? error = log["error"]?.GetValue<string>();
            return error is null ? $"log {level}: {message}" : $"log {level}: {message}: {Addresses(error)}";
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"took = [0-9.]+[a-zµ]+")]
    private static partial Regex TookPattern();

    [GeneratedRegex(@"^""(?<name>[A-Za-z]+)"" : (?<value>.*)$")]
    private static partial Regex FieldsLinePattern();

    [GeneratedRegex(@"^lease (?<id>[0-9a-f]{1,16}) (granted|revoked|keepalived|expired|already expired|not found)")]
    private static partial Regex LeaseLinePattern();

    [GeneratedRegex(@"\b[0-9a-f]{1,16}\b")]
    private static partial Regex HexTokenPattern();
}
