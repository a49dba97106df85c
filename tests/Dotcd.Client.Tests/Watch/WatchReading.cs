using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;

namespace Dotcd.Client.Tests;

/// <summary>Reading a watch in tests: a bounded wait for each response, so a missing event fails instead of hanging.</summary>
internal static class WatchReading
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    public static async Task<WatchResponse> NextAsync(this IAsyncEnumerator<WatchResponse> reader, TimeSpan? timeout = null)
    {
        Assert.True(await reader.MoveNextAsync().AsTask().WaitAsync(timeout ?? Patience), "the watch ended");
        return reader.Current;
    }

    /// <summary>Reads responses until they hold <paramref name="count"/> events; progress notifications are skipped.</summary>
    public static async Task<List<WatchResponse>> ReadEventsAsync(this IAsyncEnumerator<WatchResponse> reader, int count)
    {
        var responses = new List<WatchResponse>();
        int events = 0;
        while (events < count)
        {
            WatchResponse response = await reader.NextAsync();
            if (response.Events.Count > 0)
            {
                responses.Add(response);
                events += response.Events.Count;
            }
        }

        Assert.Equal(count, events);
        return responses;
    }

    public static List<Event> Flatten(this IEnumerable<WatchResponse> responses) => [.. responses.SelectMany(r => r.Events)];
}
