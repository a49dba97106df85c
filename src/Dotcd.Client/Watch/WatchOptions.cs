using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client;

/// <summary>Options of a watch (etcdctl watch's flags, and clientv3's With* options).</summary>
public sealed class WatchOptions
{
    /// <summary>
    /// The first revision to deliver; earlier history is replayed from there. 0: changes after the
    /// store's revision when the watch is created.
    /// </summary>
    public long StartRevision { get; init; }

    /// <summary>Every event of an update or delete carries the key's previous state in <c>prev_kv</c>.</summary>
    public bool PrevKv { get; init; }

    /// <summary>An idle watch gets an empty response every progress interval (10 min by default in etcd).</summary>
    public bool ProgressNotify { get; init; }

    /// <summary>Leave out PUT events.</summary>
    public bool NoPut { get; init; }

    /// <summary>Leave out DELETE events.</summary>
    public bool NoDelete { get; init; }

    /// <summary>
    /// Let the server split a revision too large for one message over several; the watcher joins
    /// the parts again, so each response still holds whole revisions.
    /// </summary>
    public bool Fragment { get; init; }

    /// <summary>Deliver the server's "created" response as the first response (clientv3's WithCreatedNotify).</summary>
    public bool CreatedNotify { get; init; }

    /// <summary>
    /// Send "hasleader: true": the server cancels the stream with "etcdserver: no leader" when its
    /// member loses the leader, and the watch ends with that error instead of waiting silently.
    /// </summary>
    public bool RequireLeader { get; init; }

    /// <summary>Extra metadata for the watch stream. Watches with different metadata use different streams.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    internal WatchCreateRequest ApplyTo(WatchCreateRequest request)
    {
        request.StartRevision = StartRevision;
        request.PrevKv = PrevKv;
        request.ProgressNotify = ProgressNotify;
        request.Fragment = Fragment;
        if (NoPut)
        {
            request.Filters.Add(WatchCreateRequest.Types.FilterType.Noput);
        }

        if (NoDelete)
        {
            request.Filters.Add(WatchCreateRequest.Types.FilterType.Nodelete);
        }

        return request;
    }

    // Watches share a stream only when the stream's metadata is the same for all of them.
    internal string StreamKey()
    {
        if (!RequireLeader && (Metadata is null || Metadata.Count == 0))
        {
            return "";
        }

        var key = new System.Text.StringBuilder(RequireLeader ? "hasleader\n" : "\n");
        if (Metadata is not null)
        {
            foreach (KeyValuePair<string, string> entry in Metadata.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                key.Append(entry.Key).Append('=').Append(entry.Value).Append('\n');
            }
        }

        return key.ToString();
    }

    internal IReadOnlyDictionary<string, string>? StreamMetadata()
    {
        if (!RequireLeader)
        {
            return Metadata;
        }

        var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["hasleader"] = "true" };
        if (Metadata is not null)
        {
            foreach (KeyValuePair<string, string> entry in Metadata)
            {
                metadata[entry.Key] = entry.Value;
            }
        }

        return metadata;
    }
}
