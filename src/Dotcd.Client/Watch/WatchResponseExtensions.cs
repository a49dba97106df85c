using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client;

public static class WatchResponseExtensions
{
    /// <summary>
    /// True for a progress notification: no events, and header.revision says every event up to it
    /// has been delivered (an answer to a progress request, or the idle-watch interval).
    /// </summary>
    public static bool IsProgressNotify(this WatchResponse response) =>
        response.Events.Count == 0 && !response.Created && !response.Canceled && response.CompactRevision == 0
        && response.Header is { Revision: > 0 };
}
