using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Dotcd.Server.RaftLoop;

/// <summary>
/// Member and cluster IDs computed exactly as etcd computes them (membership.NewMember and
/// RaftCluster.genID), so the same --initial-cluster and --initial-cluster-token flags give the
/// same IDs as etcd, and etcdctl output and WAL metadata match.
/// </summary>
public static class MemberIds
{
    /// <summary>
    /// etcd's member ID: the first 8 bytes (big-endian) of
    /// sha1(peer URLs sorted ordinally and concatenated ++ cluster token [++ unix seconds as decimal]).
    /// The time is given only for members added at runtime (etcdctl member add); bootstrap omits it.
    /// </summary>
    /// <remarks>peerUrls must already be in the normalized form etcd prints (types.NewURLs: trimmed, url.String()).</remarks>
    public static ulong ComputeMemberId(IEnumerable<string> peerUrls, string clusterToken, DateTimeOffset? now = null)
    {
        ArgumentNullException.ThrowIfNull(peerUrls);
        ArgumentNullException.ThrowIfNull(clusterToken);
        string[] sorted = peerUrls.ToArray();
        Array.Sort(sorted, StringComparer.Ordinal); // Go's sort.Strings compares bytes.

        var text = new StringBuilder();
        foreach (string url in sorted) text.Append(url);
        text.Append(clusterToken);
        if (now is { } time) text.Append(time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        return FirstEightBytes(Encoding.UTF8.GetBytes(text.ToString()));
    }

    /// <summary>etcd's cluster ID: the first 8 bytes of sha1 over the ascending member IDs, each 8 bytes big-endian.</summary>
    public static ulong ComputeClusterId(IEnumerable<ulong> memberIds)
    {
        ArgumentNullException.ThrowIfNull(memberIds);
        ulong[] ids = memberIds.ToArray();
        Array.Sort(ids);
        var bytes = new byte[8 * ids.Length];
        for (int i = 0; i < ids.Length; i++) BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8 * i), ids[i]);
        return FirstEightBytes(bytes);
    }

    /// <summary>An ID as etcd prints it (types.ID.String: lower-case hex without leading zeros).</summary>
    public static string ToHex(ulong id) => id.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>
    /// The JSON etcd puts in the context of a bootstrap AddNode conf change (json.Marshal of
    /// membership.Member): {"id":N,"peerURLs":[...],"isLearner":true?,"name":"..."?,"clientURLs":[...]?}.
    /// </summary>
    public static byte[] EncodeMemberContext(ulong id, IReadOnlyList<string> peerUrls, string? name,
        IReadOnlyList<string>? clientUrls = null, bool isLearner = false)
    {
        ArgumentNullException.ThrowIfNull(peerUrls);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            // Field order and omitempty follow the Go struct: ID, then RaftAttributes, then Attributes.
            json.WriteStartObject();
            json.WriteNumber("id", id);
            json.WriteStartArray("peerURLs");
            foreach (string url in peerUrls) json.WriteStringValue(url);
            json.WriteEndArray();
            if (isLearner) json.WriteBoolean("isLearner", true);
            if (!string.IsNullOrEmpty(name)) json.WriteString("name", name);
            if (clientUrls is { Count: > 0 })
            {
                json.WriteStartArray("clientURLs");
                foreach (string url in clientUrls) json.WriteStringValue(url);
                json.WriteEndArray();
            }
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static ulong FirstEightBytes(byte[] input)
    {
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        SHA1.HashData(input, hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }
}

/// <summary>One member of --initial-cluster, with the ID etcd gives it.</summary>
public sealed record InitialMember(ulong Id, string Name, IReadOnlyList<string> PeerUrls);

/// <summary>
/// The cluster a new member bootstraps (--initial-cluster, --initial-cluster-token,
/// --initial-cluster-state): member IDs and the cluster ID as etcd computes them.
/// </summary>
public sealed class InitialCluster
{
    private InitialCluster(string token, IReadOnlyList<InitialMember> members, bool isNew)
    {
        Token = token;
        Members = members;
        IsNew = isNew;
        ClusterId = MemberIds.ComputeClusterId(members.Select(m => m.Id));
    }

    /// <summary>--initial-cluster-token.</summary>
    public string Token { get; }

    /// <summary>The members in ascending ID order (the order etcd bootstraps raft in).</summary>
    public IReadOnlyList<InitialMember> Members { get; }

    /// <summary>--initial-cluster-state new (bootstrap raft with these members) rather than existing (join).</summary>
    public bool IsNew { get; }

    public ulong ClusterId { get; }

    /// <summary>
    /// Builds the cluster from name -> peer URLs pairs as parsed from --initial-cluster (a name may
    /// appear with several URLs; give them together). Throws on duplicate IDs, as etcd does.
    /// </summary>
    public static InitialCluster Create(string token, IEnumerable<(string Name, IReadOnlyList<string> PeerUrls)> members, bool isNew = true)
    {
        ArgumentNullException.ThrowIfNull(token);
        ArgumentNullException.ThrowIfNull(members);
        var list = new List<InitialMember>();
        foreach ((string name, IReadOnlyList<string> urls) in members)
        {
            if (urls.Count == 0) throw new ArgumentException($"member {name} has no peer URLs", nameof(members));
            string[] sorted = urls.ToArray();
            Array.Sort(sorted, StringComparer.Ordinal);
            ulong id = MemberIds.ComputeMemberId(sorted, token);
            if (id == 0) throw new ArgumentException("cannot use 0 as member id", nameof(members));
            if (list.Any(m => m.Id == id)) throw new ArgumentException($"member exists with identical ID {MemberIds.ToHex(id)}", nameof(members));
            list.Add(new InitialMember(id, name, sorted));
        }
        if (list.Count == 0) throw new ArgumentException("the initial cluster has no members", nameof(members));
        list.Sort((a, b) => a.Id.CompareTo(b.Id));
        return new InitialCluster(token, list, isNew);
    }

    /// <summary>The member named name, or null.</summary>
    public InitialMember? MemberByName(string name) => Members.FirstOrDefault(m => m.Name == name);
}
