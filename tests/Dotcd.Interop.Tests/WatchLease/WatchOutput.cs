using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dotcd.Interop.Tests.Harness;

namespace Dotcd.Interop.Tests.WatchLease;

/// <summary>
/// `etcdctl watch -w json` output made comparable. etcdctl prints one JSON object per watch
/// response, a "progress notify: N" line before each progress notification, and nothing for
/// the "created" response.
///
/// <see cref="Events"/> flattens the responses into one line per event, because how events
/// are grouped into responses is the server's choice within the guarantees: etcd sends a
/// historical catch-up as one response holding many revisions (its header revision is the
/// store's revision when it caught up), live changes as one response per revision, and a
/// slow watcher's backlog again in batches. What a client may rely on is the event sequence
/// and that one revision never spans two responses; <see cref="AtomicityViolations"/> checks
/// the latter. Responses without events (progress notifications, cancellations) stay whole,
/// header revision included: a bookmark's revision is the point of it.
///
/// Keys and values are decoded from base64 so that a difference reads as text.
/// </summary>
public static class WatchOutput
{
    private static readonly JsonSerializerOptions s_json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One line per event ("event {...}") or event-less response ("response {...}"), other lines as text.</summary>
    public static string Events(string stdout, OutputNormalizer normalizer)
    {
        var output = new StringBuilder();
        foreach (string line in Lines(stdout))
        {
            if (!line.StartsWith('{'))
            {
                output.Append(normalizer.Text(line)).Append('\n');
                continue;
            }

            JsonObject response = Readable(normalizer.Json(line, "watch"));
            JsonArray? events = response["Events"] as JsonArray;
            if (events is null || events.Count == 0)
            {
                output.Append("response ").Append(response.ToJsonString(s_json)).Append('\n');
                continue;
            }

            foreach (JsonNode? watchEvent in events)
            {
                output.Append("event ").Append(watchEvent!.ToJsonString(s_json)).Append('\n');
            }
        }

        return output.ToString();
    }

    /// <summary>The responses as printed, normalized and decoded, one per line: for checks on grouping.</summary>
    public static string Responses(string stdout, OutputNormalizer normalizer)
    {
        var output = new StringBuilder();
        foreach (string line in Lines(stdout))
        {
            output.Append(line.StartsWith('{') ? Readable(normalizer.Json(line, "watch")).ToJsonString(s_json) : normalizer.Text(line)).Append('\n');
        }

        return output.ToString();
    }

    /// <summary>
    /// Broken "atomic" and header rules in raw `-w json` output: a revision whose events came
    /// in two responses, or a response whose header revision is below one of its events.
    /// </summary>
    public static IReadOnlyList<string> AtomicityViolations(string stdout)
    {
        var violations = new List<string>();
        var seen = new Dictionary<long, int>(); // mod_revision -> response number it came in.
        int number = 0;
        foreach (string line in Lines(stdout).Where(l => l.StartsWith('{')))
        {
            number++;
            JsonNode response = JsonNode.Parse(line)!;
            long header = response["Header"]?["revision"]?.GetValue<long>() ?? 0;
            foreach (JsonNode? watchEvent in response["Events"] as JsonArray ?? [])
            {
                long revision = watchEvent!["kv"]?["mod_revision"]?.GetValue<long>() ?? 0;
                if (seen.TryGetValue(revision, out int earlier) && earlier != number)
                {
                    violations.Add($"revision {revision} came in responses {earlier} and {number}");
                }

                seen[revision] = number;
                if (header < revision)
                {
                    violations.Add($"response {number} has header revision {header} below its event at {revision}: {line}");
                }
            }
        }

        return violations;
    }

    /// <summary>The key of every event, decoded, in order (for waiting on a particular event).</summary>
    public static IReadOnlyList<string> EventKeys(string stdout)
    {
        var keys = new List<string>();
        foreach (string line in Lines(stdout).Where(l => l.StartsWith('{')))
        {
            JsonNode? response;
            try
            {
                response = JsonNode.Parse(line);
            }
            catch (JsonException)
            {
                continue; // A line still being written.
            }

            foreach (JsonNode? watchEvent in response?["Events"] as JsonArray ?? [])
            {
                keys.Add(Decode(watchEvent!["kv"]!["key"]!.GetValue<string>()));
            }
        }

        return keys;
    }

    private static IEnumerable<string> Lines(string stdout) =>
        stdout.Split('\n').Where(l => l.Length > 0);

    private static JsonObject Readable(string normalizedJson)
    {
        JsonObject response = JsonNode.Parse(normalizedJson)!.AsObject();
        DecodeBytes(response);
        return response;
    }

    private static void DecodeBytes(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (string name in obj.Select(p => p.Key).ToList())
                {
                    if (name is "key" or "value" && obj[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String)
                    {
                        obj[name] = Decode(v.GetValue<string>());
                    }
                    else
                    {
                        DecodeBytes(obj[name]);
                    }
                }

                break;
            case JsonArray array:
                foreach (JsonNode? item in array)
                {
                    DecodeBytes(item);
                }

                break;
        }
    }

    private static string Decode(string base64) => Encoding.UTF8.GetString(Convert.FromBase64String(base64));
}
