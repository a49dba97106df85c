using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;
using Dotcd.Server.Tests.Composition;
using FilterType = Dotcd.Api.Etcdserverpb.WatchCreateRequest.Types.FilterType;

namespace Dotcd.Server.Tests.Watch;

/// <summary>
/// The watch checker: a seeded random history of puts, deletes, txns, compactions and member
/// restarts runs against a real member while watchers with random ranges, start revisions,
/// filters and prev_kv come and go on several streams; afterwards every guarantee of
/// ETCD-CONTRACT.md §3 is checked against the full history the test kept. A failing seed
/// replays (the interleaving with the server differs, the history does not).
/// DOTCD_SLOW_TESTS=1 runs more seeds with longer histories.
/// </summary>
public sealed class WatchCheckerTests
{
    private static bool Slow => Environment.GetEnvironmentVariable("DOTCD_SLOW_TESTS") == "1";

    public static IEnumerable<object[]> Seeds =>
        (Slow ? Enumerable.Range(1, 8) : Enumerable.Range(1, 2)).Select(s => new object[] { s });

    [Theory, MemberData(nameof(Seeds))]
    public async Task EveryWatcherSeesExactlyTheHistoryItAskedFor(int seed)
    {
        var checker = new WatchChecker(seed, ops: Slow ? 600 : 120, restarts: Slow ? 3 : 1, watchers: Slow ? 40 : 12);
        await checker.RunAsync();
        checker.Verify();
    }
}

internal sealed class WatchChecker(int seed, int ops, int restarts, int watchers)
{
    private static readonly string[] s_keys = ["a", "b", "p/1", "p/2", "p/3", "q", "z"];

    private readonly Random _random = new(seed);
    private readonly Dictionary<string, KeyState> _state = new(StringComparer.Ordinal);
    private readonly List<HistoryEvent> _history = [];
    private readonly List<LogicalWatcher> _watchers = [];
    private readonly List<StreamState> _streams = [];
    private readonly List<string> _trace = [];
    private long _rev = 1;
    private long _compacted;
    private RunningMember? _member;

    private sealed record KeyState(string Value, long Create, long Mod, long Version);

    private sealed record HistoryEvent(long Rev, bool IsDelete, string Key, KeyState? Kv, KeyState? Prev);

    private sealed class LogicalWatcher
    {
        public required int Number;
        public required string Key;
        public required string? End;        // null single key, "\0" from key, else [Key, End).
        public required long RequestedStart;
        public required bool NoPut;
        public required bool NoDelete;
        public required bool PrevKv;
        public long ResolvedStart = -1;      // Set by the first created response.
        public long IncarnationStart;        // Start of the current wire watch.
        public long CanceledAt;              // compact_revision when canceled.
        public readonly List<(Event Event, int Response)> Received = [];

        public bool InRange(string key)
        {
            int c = string.CompareOrdinal(key, Key);
            return End switch
            {
                null => c == 0,
                "\0" => c >= 0,
                _ => c >= 0 && string.CompareOrdinal(key, End) < 0,
            };
        }

        public bool Wants(HistoryEvent e) => InRange(e.Key) && !(e.IsDelete ? NoDelete : NoPut);

        public override string ToString() =>
            $"W{Number}[{Key}..{End?.Replace("\0", "\\0")} start={RequestedStart}/{ResolvedStart} noput={NoPut} nodel={NoDelete} prev={PrevKv}]";
    }

    private sealed record ProgressClaim(long Revision, Dictionary<LogicalWatcher, int> Counts, Dictionary<LogicalWatcher, long> Starts);

    private sealed class StreamState(WatchCall call)
    {
        public readonly WatchCall Call = call;
        public readonly Queue<LogicalWatcher> PendingCreates = new();
        public readonly Dictionary<long, LogicalWatcher> ById = [];
        public readonly List<ProgressClaim> Claims = [];
        public readonly Lock Sync = new();
        public long LastProgress = -1;
        public int Responses;
        public Task? Reader;
    }

    private readonly List<ProgressClaim> _claims = [];

    public async Task RunAsync()
    {
        await using RunningMember member = await RunningMember.StartAsync();
        _member = member;
        WatchWire wire = new(member.Endpoint);
        try
        {
            OpenStreams(wire);
            var restartAt = new HashSet<int>(Enumerable.Range(0, restarts).Select(_ => _random.Next(ops / 4, ops)));
            int created = 0;
            for (int step = 0; step < ops; step++)
            {
                if (created < watchers && _random.Next(ops / watchers + 1) == 0)
                {
                    await CreateWatcherAsync(created++);
                }
                await RandomWriteAsync(wire);
                if (restartAt.Contains(step))
                {
                    _trace.Add($"restart at rev {_rev}");
                    await CloseStreamsAsync();
                    wire.Dispose();
                    await member.RestartAsync();
                    wire = new WatchWire(member.Endpoint);
                    OpenStreams(wire);
                    await ResumeWatchersAsync();
                }
            }
            while (created < watchers)
            {
                await CreateWatcherAsync(created++);
                await RandomWriteAsync(wire);
            }
            // A progress response never goes below a watcher's start: reach every future start first.
            while (_watchers.Any(w => w.RequestedStart > _rev + 1))
            {
                ApplyPut("a", "end");
                Assert.Equal(_rev, await wire.PutAsync("a", "end"));
            }
            await WaitUntilCaughtUpAsync();
            await CloseStreamsAsync();
        }
        finally
        {
            wire.Dispose();
        }
    }

    private void OpenStreams(WatchWire wire)
    {
        _streams.Clear();
        for (int i = 0; i < 3; i++)
        {
            var stream = new StreamState(wire.Watch(requireLeader: i == 0));
            stream.Reader = Task.Run(() => ReadAsync(stream));
            _streams.Add(stream);
        }
    }

    private async Task CloseStreamsAsync()
    {
        foreach (StreamState s in _streams)
        {
            await s.Call.DisposeAsync();
            await s.Reader!.WaitAsync(TimeSpan.FromSeconds(10));
            lock (s.Sync)
            {
                _claims.AddRange(s.Claims);
            }
        }
    }

    private async Task CreateWatcherAsync(int number)
    {
        string key = s_keys[_random.Next(s_keys.Length)];
        string? end = _random.Next(4) switch
        {
            0 => null,
            1 => "\0",
            2 => key + "\xff",
            _ => key.StartsWith("p/", StringComparison.Ordinal) ? "p0" : null,
        };
        if (end is not null && end != "\0")
        {
            key = end == "p0" ? "p/" : key;
        }
        long start = _random.Next(5) < 2 ? 0 : _random.NextInt64(Math.Max(1, _compacted - 2), _rev + 3);
        int filter = _random.Next(6);
        var w = new LogicalWatcher
        {
            Number = number,
            Key = key,
            End = end,
            RequestedStart = start,
            NoPut = filter == 0,
            NoDelete = filter == 1,
            PrevKv = _random.Next(2) == 0,
        };
        _watchers.Add(w);
        _trace.Add($"create {w} at rev {_rev} compacted {_compacted}");
        await SendCreateAsync(_streams[_random.Next(_streams.Count)], w, start);
    }

    private static async Task SendCreateAsync(StreamState stream, LogicalWatcher w, long start)
    {
        lock (stream.Sync)
        {
            stream.PendingCreates.Enqueue(w);
        }
        var filters = new List<FilterType>();
        if (w.NoPut)
        {
            filters.Add(FilterType.Noput);
        }
        if (w.NoDelete)
        {
            filters.Add(FilterType.Nodelete);
        }
        await stream.Call.CreateAsync(w.Key, w.End, start, prevKv: w.PrevKv, filters: [.. filters]);
    }

    // A watch broken by the restart continues from the revision after the last event it saw.
    private async Task ResumeWatchersAsync()
    {
        foreach (LogicalWatcher w in _watchers)
        {
            if (w.CanceledAt != 0)
            {
                continue;
            }
            Assert.True(w.ResolvedStart >= 0, $"{w} never got its created response");
            long next = w.Received.Count > 0 ? w.Received[^1].Event.Kv.ModRevision + 1 : w.ResolvedStart;
            w.IncarnationStart = next;
            _trace.Add($"resume {w} from {next}");
            await SendCreateAsync(_streams[_random.Next(_streams.Count)], w, next);
        }
    }

    private async Task ReadAsync(StreamState stream)
    {
        while (await stream.Call.NextAsync(60_000) is { } r)
        {
            lock (stream.Sync)
            {
                int response = ++stream.Responses;
                if (r.Created)
                {
                    LogicalWatcher w = stream.PendingCreates.Dequeue();
                    Assert.False(r.Canceled, $"create of {w} failed: {r.CancelReason}");
                    if (w.ResolvedStart < 0)
                    {
                        w.ResolvedStart = w.RequestedStart == 0 ? r.Header.Revision + 1 : w.RequestedStart;
                        w.IncarnationStart = w.ResolvedStart;
                    }
                    stream.ById[r.WatchId] = w;
                    continue;
                }
                if (r.WatchId == -1)
                {
                    // A bookmark for every watcher of the stream: remember what each had seen.
                    stream.LastProgress = r.Header.Revision;
                    stream.Claims.Add(new ProgressClaim(r.Header.Revision,
                        stream.ById.Values.ToDictionary(w => w, w => w.Received.Count),
                        stream.ById.Values.ToDictionary(w => w, w => w.IncarnationStart)));
                    continue;
                }
                LogicalWatcher owner = stream.ById[r.WatchId];
                if (r.Canceled)
                {
                    Assert.NotEqual(0, r.CompactRevision);
                    owner.CanceledAt = r.CompactRevision;
                    stream.ById.Remove(r.WatchId);
                    continue;
                }
                Assert.NotEmpty(r.Events); // No progress_notify was asked for.
                foreach (Event e in r.Events)
                {
                    owner.Received.Add((e, response));
                }
            }
        }
    }

    private async Task WaitUntilCaughtUpAsync()
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        foreach (StreamState s in _streams)
        {
            while (true)
            {
                lock (s.Sync)
                {
                    if (s.LastProgress >= _rev && s.PendingCreates.Count == 0)
                    {
                        break;
                    }
                }
                if (s.Reader!.IsFaulted)
                {
                    await s.Reader; // The reader's own assertion failed: report that.
                }
                if (DateTime.UtcNow >= deadline)
                {
                    _trace.Add(_member!.Member.Watchers.Describe());
                }
                Assert.True(DateTime.UtcNow < deadline,
                    $"stream {_streams.IndexOf(s)} did not catch up to {_rev}: last progress {s.LastProgress}, {s.PendingCreates.Count} creates unanswered, " +
                    $"ended {s.Call.EndStatus}; trace:\n" + string.Join("\n", _trace.TakeLast(20)));
                await s.Call.ProgressAsync();
                await Task.Delay(100);
            }
        }
    }

    private async Task RandomWriteAsync(WatchWire wire)
    {
        int op = _random.Next(20);
        if (op < 9)
        {
            string key = s_keys[_random.Next(s_keys.Length)];
            string value = $"v{_random.Next(1000)}";
            long rev = await wire.PutAsync(key, value);
            ApplyPut(key, value);
            Assert.Equal(_rev, rev);
        }
        else if (op < 12)
        {
            string key = s_keys[_random.Next(s_keys.Length)];
            bool prefix = _random.Next(3) == 0 && key.StartsWith("p/", StringComparison.Ordinal);
            DeleteRangeResponse response = prefix ? await wire.DeleteAsync("p/", "p0") : await wire.DeleteAsync(key);
            var keys = _state.Keys.Where(k => prefix ? k.StartsWith("p/", StringComparison.Ordinal) : k == key)
                .Order(StringComparer.Ordinal).ToList();
            ApplyDeletes(keys);
            Assert.Equal(keys.Count, response.Deleted);
            Assert.Equal(_rev, response.Header.Revision);
        }
        else if (op < 17)
        {
            var txn = new TxnRequest();
            var chosen = s_keys.OrderBy(_ => _random.Next()).Take(_random.Next(1, 4)).ToList();
            var plan = new List<(string Key, string? Value)>();
            foreach (string key in chosen)
            {
                string? value = _random.Next(3) == 0 ? null : $"t{_random.Next(1000)}";
                plan.Add((key, value));
                txn.Success.Add(value is null
                    ? new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = WatchWire.B(key) } }
                    : new RequestOp { RequestPut = new PutRequest { Key = WatchWire.B(key), Value = WatchWire.B(value) } });
            }
            TxnResponse response = await wire.TxnAsync(txn);
            long before = _rev;
            bool changed = false;
            foreach ((string key, string? value) in plan)
            {
                if (value is not null)
                {
                    ApplyPut(key, value, sameRevision: changed);
                    changed = true;
                }
                else if (_state.ContainsKey(key))
                {
                    ApplyDeletes([key], sameRevision: changed);
                    changed = true;
                }
            }
            Assert.Equal(changed ? before + 1 : before, _rev);
            Assert.Equal(_rev, response.Header.Revision);
        }
        else if (op < 19 && _rev - 1 > _compacted)
        {
            long at = _random.NextInt64(Math.Max(_compacted + 1, _rev - 15), _rev + 1);
            await wire.CompactAsync(at);
            _compacted = at;
            _trace.Add($"compact {at}");
        }
    }

    private void ApplyPut(string key, string value, bool sameRevision = false)
    {
        if (!sameRevision)
        {
            _rev++;
        }
        _state.TryGetValue(key, out KeyState? prev);
        var next = new KeyState(value, prev?.Create ?? _rev, _rev, (prev?.Version ?? 0) + 1);
        _state[key] = next;
        _history.Add(new HistoryEvent(_rev, false, key, next, prev));
    }

    private void ApplyDeletes(List<string> keys, bool sameRevision = false)
    {
        if (keys.Count == 0)
        {
            return;
        }
        if (!sameRevision)
        {
            _rev++;
        }
        foreach (string key in keys)
        {
            KeyState prev = _state[key];
            _state.Remove(key);
            _history.Add(new HistoryEvent(_rev, true, key, null, prev));
        }
    }

    public void Verify()
    {
        Assert.NotEmpty(_watchers);
        foreach (LogicalWatcher w in _watchers)
        {
            string context = $"{w}\ntrace:\n{string.Join("\n", _trace)}";
            Assert.True(w.ResolvedStart >= 0, "no created response: " + context);
            List<HistoryEvent> expected = _history.Where(e => e.Rev >= w.ResolvedStart && w.Wants(e)).ToList();
            if (w.CanceledAt != 0)
            {
                // Canceled only because the history it needed was compacted away, before any of it was sent.
                Assert.True(w.IncarnationStart < w.CanceledAt, $"canceled at {w.CanceledAt} though it starts at {w.IncarnationStart}: {context}");
                Assert.True(w.CanceledAt <= _compacted, context);
                expected = expected.Where(e => e.Rev < w.IncarnationStart).ToList();
            }

            // Ordered, unique, reliable: exactly the expected events, in revision and op order.
            Assert.True(expected.Count == w.Received.Count,
                $"want {expected.Count} events, got {w.Received.Count}: {context}\ngot: {string.Join(", ", w.Received.Select(r => r.Event.Kv.ModRevision + r.Event.Kv.Key.ToStringUtf8()))}");
            for (int i = 0; i < expected.Count; i++)
            {
                HistoryEvent want = expected[i];
                Event got = w.Received[i].Event;
                string at = $"event {i} (rev {want.Rev} {want.Key}) of {context}";
                Assert.True(got.Kv.ModRevision == want.Rev, $"mod revision {got.Kv.ModRevision}: {at}");
                Assert.Equal(want.Key, got.Kv.Key.ToStringUtf8());
                Assert.Equal(want.IsDelete ? Event.Types.EventType.Delete : Event.Types.EventType.Put, got.Type);
                if (!want.IsDelete)
                {
                    Assert.True(want.Kv!.Value == got.Kv.Value.ToStringUtf8() && want.Kv.Create == got.Kv.CreateRevision
                        && want.Kv.Version == got.Kv.Version, $"kv {got.Kv}: {at}");
                }

                // prev_kv: present for every non-create event whose previous value is still in history.
                bool isCreate = !want.IsDelete && want.Prev is null;
                if (!w.PrevKv || isCreate)
                {
                    Assert.True(got.PrevKv is null, $"unexpected prev_kv: {at}");
                }
                else if (got.PrevKv is null)
                {
                    Assert.True(want.Prev!.Mod < _compacted, $"missing prev_kv: {at}");
                }
                else
                {
                    Assert.True(want.Prev!.Value == got.PrevKv.Value.ToStringUtf8() && want.Prev.Mod == got.PrevKv.ModRevision, $"prev_kv {got.PrevKv}: {at}");
                }

                // Atomic: events of one revision arrive in one response.
                if (i > 0 && expected[i - 1].Rev == want.Rev)
                {
                    Assert.True(w.Received[i - 1].Response == w.Received[i].Response, $"revision split over responses: {at}");
                }
            }
        }

        // Bookmarkable: a progress response at R follows every event up to R of every watcher on
        // its stream, and is never below a watcher's start revision.
        Assert.NotEmpty(_claims);
        foreach (ProgressClaim claim in _claims)
        {
            foreach ((LogicalWatcher w, int count) in claim.Counts)
            {
                Assert.True(claim.Revision >= claim.Starts[w] - 1, $"progress {claim.Revision} below the start of {w}");
                int due = _history.Count(e => e.Rev >= w.ResolvedStart && e.Rev <= claim.Revision && w.Wants(e));
                Assert.True(due == count, $"progress {claim.Revision} after {count} of {due} events of {w}");
            }
        }
    }
}
