using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Mvcc.Watch;
using Dotcd.Server.Apply;
using Dotcd.Server.Watch;
using Google.Protobuf;

namespace Dotcd.Server.Services;

/// <summary>
/// etcdserverpb.Watch (etcd's v3rpc watchServer): one bidirectional stream carries many watches.
/// The receive side turns create, cancel and progress requests into <see cref="WatchStream"/>
/// calls; the send side drains the stream's queue in order and writes each response, composing
/// events that were encoded once for all watchers.
/// </summary>
/// <remarks>
/// Like etcd, a client's half-close does not end the stream (watches keep delivering until the
/// client cancels the call); a malformed request ends it with grpc-go's status; with
/// "hasleader: true" metadata the stream ends with "etcdserver: no leader" once the member has
/// been without a leader for three checks in a row (etcd's monitorLeader).
/// </remarks>
internal sealed class WatchService
{
    private const int NoLeaderChecks = 3;       // etcd's maxNoLeaderCnt.
    private const int ShrinkBufferBytes = 1 << 16;

    private readonly ServiceCore _core;
    private readonly WatchableStore _watchable;
    private readonly int _maxRequestBytes;
    private readonly TimeSpan _leaderCheckInterval;

    public WatchService(ServiceCore core, WatchableStore watchable, int maxRequestBytes, TimeSpan leaderCheckInterval)
    {
        _core = core;
        _watchable = watchable;
        _maxRequestBytes = maxRequestBytes;
        _leaderCheckInterval = leaderCheckInterval;
    }

    public void Register(GrpcMethodRegistry methods) => methods.AddDuplexStreaming(Methods.Watch, ServiceCore.Wrap(WatchAsync));

    private async ValueTask WatchAsync(ServerCallContext call)
    {
        _core.Intercept(call, allowedForLearner: false);
        bool requireLeader = call.GetRequestHeader("hasleader") == "true";
        using var done = CancellationTokenSource.CreateLinkedTokenSource(call.CancellationToken);
        WatchStream stream = _watchable.OpenStream();
        try
        {
            Task receive = ReceiveAsync(call, stream);
            Task send = SendAsync(call, stream, done.Token);
            Task leader = requireLeader ? MonitorLeaderAsync(done.Token) : Task.Delay(Timeout.Infinite, done.Token);
            Task first = await Task.WhenAny(receive, send, leader).ConfigureAwait(false);
            if (first == receive && receive.IsCompletedSuccessfully)
            {
                // Half-closed by the client: etcd keeps sending until the call ends.
                first = await Task.WhenAny(send, leader).ConfigureAwait(false);
            }
            done.Cancel();
            if (first == leader && leader.IsCompletedSuccessfully)
            {
                throw EtcdErrors.NoLeader.ToException();
            }
            if (first.IsFaulted && first.Exception!.InnerException is GrpcStatusException status)
            {
                throw status;
            }
            if (call.CancellationToken.IsCancellationRequested)
            {
                throw new GrpcStatusException(StatusCode.Cancelled, "etcdserver: watch canceled");
            }
            await first.ConfigureAwait(false);
        }
        finally
        {
            stream.Dispose();
        }
    }

    private static async Task ReceiveAsync(ServerCallContext call, WatchStream stream)
    {
        while (await call.ReadRequestAsync().ConfigureAwait(false))
        {
            WatchRequest request = ServiceCore.Parse(call, WatchRequest.Parser);
            switch (request.RequestUnionCase)
            {
                case WatchRequest.RequestUnionOneofCase.CreateRequest:
                    WatchCreateRequest create = request.CreateRequest;
                    stream.Watch(create.WatchId, create.Key.Span, create.RangeEnd.Span, create.StartRevision, OptionsOf(create));
                    break;
                case WatchRequest.RequestUnionOneofCase.CancelRequest:
                    stream.Cancel(request.CancelRequest.WatchId); // An unknown ID gets no answer, as in etcd.
                    break;
                case WatchRequest.RequestUnionOneofCase.ProgressRequest:
                    stream.RequestProgress();
                    break;
                default:
                    break; // etcd ignores an empty request and keeps the stream.
            }
        }
    }

    private static WatchOptions OptionsOf(WatchCreateRequest create)
    {
        WatchOptions options = WatchOptions.None;
        foreach (WatchCreateRequest.Types.FilterType filter in create.Filters)
        {
            options |= filter switch
            {
                WatchCreateRequest.Types.FilterType.Noput => WatchOptions.NoPut,
                WatchCreateRequest.Types.FilterType.Nodelete => WatchOptions.NoDelete,
                _ => WatchOptions.None,
            };
        }
        if (create.PrevKv)
        {
            options |= WatchOptions.PrevKv;
        }
        if (create.ProgressNotify)
        {
            options |= WatchOptions.ProgressNotify;
        }
        if (create.Fragment)
        {
            options |= WatchOptions.Fragment;
        }
        return options;
    }

    private async Task MonitorLeaderAsync(CancellationToken cancellationToken)
    {
        int without = 0;
        while (without < NoLeaderChecks)
        {
            await Task.Delay(_leaderCheckInterval, cancellationToken).ConfigureAwait(false);
            without = _core.Member.Leader == 0 ? without + 1 : 0;
        }
    }

    private async Task SendAsync(ServerCallContext call, WatchStream stream, CancellationToken cancellationToken)
    {
        var writer = new WatchResponseWriter();
        var headers = new HeaderCache(_core);
        var selected = new List<WatchEvent>();
        while (await stream.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (stream.TryRead(out WatchOutput output))
            {
                byte[] header = headers.Get(output.Revision);
                switch (output.Kind)
                {
                    case WatchOutputKind.Events:
                        for (int i = 0; i < output.Watchers!.Length; i++)
                        {
                            await SendEventsAsync(call, writer, header, output.RevisionsFor(i), output.Watchers[i], selected).ConfigureAwait(false);
                        }
                        break;
                    case WatchOutputKind.Created:
                        writer.Begin(header, output.WatchId);
                        writer.Flags(created: true, canceled: false, 0, null, fragment: false);
                        await call.WriteResponseAsync(writer.Written).ConfigureAwait(false);
                        break;
                    case WatchOutputKind.CreateFailed:
                        writer.Begin(header, -1);
                        writer.Flags(created: true, canceled: true, 0, output.Reason, fragment: false);
                        await call.WriteResponseAsync(writer.Written).ConfigureAwait(false);
                        break;
                    case WatchOutputKind.Canceled:
                        writer.Begin(header, output.WatchId);
                        writer.Flags(created: false, canceled: true, 0, null, fragment: false);
                        await call.WriteResponseAsync(writer.Written).ConfigureAwait(false);
                        break;
                    case WatchOutputKind.Compacted:
                        writer.Begin(header, output.WatchId);
                        writer.Flags(created: false, canceled: true, output.CompactRevision, null, fragment: false);
                        await call.WriteResponseAsync(writer.Written).ConfigureAwait(false);
                        break;
                    case WatchOutputKind.Progress:
                        writer.Begin(header, output.WatchId);
                        await call.WriteResponseAsync(writer.Written).ConfigureAwait(false);
                        break;
                }
                if (writer.Length > ShrinkBufferBytes)
                {
                    writer = new WatchResponseWriter(); // A big revision passed: give its buffer back.
                }
            }
        }
    }

    // One watcher's share of a revision: the events it matches, with prev_kv when asked, in one
    // response, or in fragments when the client allows and the response would exceed the request
    // limit (etcd's sendFragments).
    private async ValueTask SendEventsAsync(ServerCallContext call, WatchResponseWriter writer, byte[] header, RevisionEvents[] revisions,
        Watcher w, List<WatchEvent> selected)
    {
        selected.Clear();
        bool prevKv = w.WantsPrevKv;
        foreach (RevisionEvents events in revisions)
        {
            int before = selected.Count;
            foreach (WatchEvent e in events.Events)
            {
                if (w.Matches(e))
                {
                    selected.Add(e);
                }
            }
            if (prevKv && selected.Count > before)
            {
                events.LoadPrevious(_watchable.Store);
            }
        }
        if (selected.Count == 0)
        {
            return;
        }
        int total = 0;
        foreach (WatchEvent e in selected)
        {
            total += WatchResponseWriter.EventSize((prevKv ? e.EncodedWithPrevKv : e.Encoded).Length);
        }
        if (!w.WantsFragment || selected.Count < 2 || header.Length + total + 16 < _maxRequestBytes)
        {
            writer.Begin(header, w.Id);
            foreach (WatchEvent e in selected)
            {
                writer.Event(prevKv ? e.EncodedWithPrevKv : e.Encoded);
            }
            await call.WriteResponseAsync(writer.Written).ConfigureAwait(false);
            return;
        }
        int next = 0;
        while (next < selected.Count)
        {
            int baseSize = header.Length + 16;
            int size = baseSize;
            int end = next;
            while (end < selected.Count)
            {
                int add = WatchResponseWriter.EventSize((prevKv ? selected[end].EncodedWithPrevKv : selected[end].Encoded).Length);
                if (end > next && size + add >= _maxRequestBytes)
                {
                    break;
                }
                size += add;
                end++;
            }
            writer.Begin(header, w.Id);
            writer.Flags(created: false, canceled: false, 0, null, fragment: end < selected.Count);
            for (int i = next; i < end; i++)
            {
                writer.Event(prevKv ? selected[i].EncodedWithPrevKv : selected[i].Encoded);
            }
            await call.WriteResponseAsync(writer.Written).ConfigureAwait(false);
            next = end;
        }
    }

    // ResponseHeader bytes for a revision; rebuilt when the revision or the raft term changes.
    private sealed class HeaderCache(ServiceCore core)
    {
        private long _revision = -1;
        private ulong _term;
        private byte[] _bytes = [];

        public byte[] Get(long revision)
        {
            ulong term = core.Member.Term;
            if (revision != _revision || term != _term || _bytes.Length == 0)
            {
                var header = new ResponseHeader
                {
                    ClusterId = core.Member.ClusterId,
                    MemberId = core.Member.MemberId,
                    Revision = revision,
                    RaftTerm = term,
                };
                _bytes = header.ToByteArray();
                _revision = revision;
                _term = term;
            }
            return _bytes;
        }
    }
}
