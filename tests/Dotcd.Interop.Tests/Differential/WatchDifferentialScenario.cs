namespace Dotcd.Interop.Tests.Differential;

/// <summary>
/// One `etcdctl watch` process of <see cref="WatchDifferentialScenario"/>. The event counts say
/// when it has caught up (its history printed) and when it has seen everything, so the runner
/// waits on them instead of on the clock.
/// </summary>
public sealed record WatchSpec(string Name, IReadOnlyList<string> Args)
{
    /// <summary>Events it prints before the live writes start (its replay of history).</summary>
    public int HistoryEvents { get; init; }

    /// <summary>Events it prints in all.</summary>
    public int TotalEvents { get; init; }

    /// <summary>The server cancels it at once (a compacted start revision): it runs until it exits.</summary>
    public bool CanceledAtStart { get; init; }

    /// <summary>`watch -i`: the command lines fed to it before the live writes.</summary>
    public IReadOnlyList<string> Interactive { get; init; } = [];

    public string Display => "$ etcdctl " + string.Join(' ', Args);
}

/// <summary>
/// The watch differential: a history of puts, deletes and txns, a compaction, then several
/// `etcdctl watch -w json` processes (a prefix from the compaction revision, a single key with
/// --prev-kv, a key range, a future revision, compacted starts, an interactive watch with
/// progress requests) while more writes and a second compaction happen. Both servers start
/// empty, so every revision is the same on both and is written here.
///
/// The compaction revision is a PUT on purpose: a watch from a compaction revision that holds a
/// tombstone loses that DELETE on etcd 3.4.23 (etcd-io/etcd#18089) and dotcd must not; that case
/// is asserted in WatchLease/WatchInteropTests instead of compared here.
/// </summary>
public static class WatchDifferentialScenario
{
    /// <summary>Revisions 2..9, then `compact 4`.</summary>
    public static IReadOnlyList<ScenarioStep> History { get; } =
    [
        Run("put", "/w/a", "1"),                                                      // 2
        Run("put", "/w/b", "1"),                                                      // 3
        Run("put", "/w/a", "2", "-w", "json") with { ExpectStdout = "\"revision\":4" }, // 4: the compaction revision
        ScenarioStep.Txn([], ["put /w/c 1", "put /w/a 3", "del /w/b"], []),           // 5: three events, op order
        Run("del", "/w/", "--prefix") with { ExpectStdout = "2" },                    // 6: /w/a and /w/c
        Run("put", "/w/a", "4"),                                                      // 7: created again
        Run("put", "/other/x", "1"),                                                  // 8
        Run("put", "/w/d", "1", "-w", "json") with { ExpectStdout = "\"revision\":9" }, // 9
        Run("compact", "4") with { ExpectStdout = "compacted revision 4" },
    ];

    /// <summary>Started after <see cref="History"/>, in this order.</summary>
    public static IReadOnlyList<WatchSpec> Watchers { get; } =
    [
        new WatchSpec("compacted-prefix", ["watch", "/w/", "--prefix", "--rev", "2", "-w", "json"]) { CanceledAtStart = true },
        new WatchSpec("compacted-key-simple", ["watch", "/w/a", "--rev", "3"]) { CanceledAtStart = true },

        // 4: 1, 5: 3, 6: 2, 7: 1, 9: 1 | 10: 1, 11: 3, 12: 1, 13: 3, 15: 1
        new WatchSpec("prefix-from-compaction", ["watch", "/w/", "--prefix", "--rev", "4", "-w", "json"]) { HistoryEvents = 8, TotalEvents = 17 },

        // 5, 6, 7 | 10, 12, 13; every update and delete carries the value before it.
        new WatchSpec("key-prev-kv", ["watch", "/w/a", "--prev-kv", "--rev", "5", "-w", "json"]) { HistoryEvents = 3, TotalEvents = 6 },

        // [/w/b, /w/d): 5: /w/c put and /w/b delete, 6: /w/c delete | 11: /w/b put, 13: /w/b delete
        new WatchSpec("range-prev-kv", ["watch", "/w/b", "/w/d", "--prev-kv", "--rev", "5", "-w", "json"]) { HistoryEvents = 3, TotalEvents = 5 },

        // Starts at 12 while the store is at 9: nothing older, then 12: 1, 13: 3, 14: 1, 15: 1.
        new WatchSpec("future", ["watch", "/", "--prefix", "--rev", "12", "-w", "json"]) { HistoryEvents = 0, TotalEvents = 6 },

        // From now (9) with prev_kv; the progress request is answered once the watch is synced.
        new WatchSpec("interactive", ["-w", "json", "watch", "-i"])
        {
            Interactive = ["watch /w/ --prefix --prev-kv", "progress"],
            HistoryEvents = 0,
            TotalEvents = 9,
        },
    ];

    /// <summary>Revisions 10..15 while the watchers run, with a compaction among them.</summary>
    public static IReadOnlyList<ScenarioStep> Live { get; } =
    [
        Run("put", "/w/a", "5"),                                                   // 10
        ScenarioStep.Txn([], ["put /w/b 2", "put /w/e 1", "del /w/d"], [], "-w", "json") with
        {
            ExpectStdout = "\"revision\":11",
        },                                                                         // 11
        Run("put", "/w/a", "6", "--prev-kv"),                                      // 12
        Run("del", "/w/", "--prefix", "--prev-kv", "-w", "json") with { ExpectStdout = "\"deleted\":3" }, // 13
        Run("put", "/other/y", "1"),                                               // 14
        Run("compact", "12") with { ExpectStdout = "compacted revision 12" },      // Live watchers are past it: nothing changes for them.
        Run("put", "/w/end", "1", "-w", "json") with { ExpectStdout = "\"revision\":15" }, // 15
    ];

    /// <summary>The progress request sent to the interactive watcher after <see cref="Live"/>, and what it must print.</summary>
    public const string FinalProgress = "progress notify: 15\n";

    /// <summary>What the interactive watcher prints once its watch is synced, before <see cref="Live"/>.</summary>
    public const string FirstProgress = "progress notify: 9\n";

    private static ScenarioStep Run(params string[] args) => new(args);
}
