using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Dotcd.Interop.Tests.Harness;

namespace Dotcd.Interop.Tests.Interop;

/// <summary>Reading etcdctl's `-w json` output the way a script would (bytes are base64).</summary>
internal static class EtcdctlJson
{
    public static JsonNode Parse(string stdout) =>
        JsonNode.Parse(stdout) ?? throw new FormatException($"not JSON: {stdout}");

    public static long Revision(JsonNode response) => response["header"]!["revision"]!.GetValue<long>();

    public static JsonArray Kvs(JsonNode response) => response["kvs"]?.AsArray() ?? [];

    public static string Key(JsonNode kv) => Decode(kv["key"]!.GetValue<string>());

    public static string Value(JsonNode kv) => kv["value"] is JsonNode v ? Decode(v.GetValue<string>()) : "";

    public static long Number(JsonNode kv, string field) => kv[field]?.GetValue<long>() ?? 0;

    public static string[] Keys(JsonNode response) => [.. Kvs(response).Select(kv => Key(kv!))];

    /// <summary>The member's ID in hex, as simple and table output print it.</summary>
    public static async Task<string> MemberIdHexAsync(MemberProcess member)
    {
        JsonNode list = Parse(await member.Etcdctl.RunOkAsync("member", "list", "-w", "json"));
        return list["header"]!["member_id"]!.GetValue<ulong>().ToString("x", CultureInfo.InvariantCulture);
    }

    /// <summary>The store's current revision, from the header of a read.</summary>
    public static async Task<long> CurrentRevisionAsync(MemberProcess member) =>
        Revision(Parse(await member.Etcdctl.RunOkAsync("get", "/no/such/key", "-w", "json")));

    private static string Decode(string base64) => Encoding.UTF8.GetString(Convert.FromBase64String(base64));
}
