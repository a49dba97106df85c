namespace Dotcd.Interop.Tests.Differential;

/// <summary>
/// The scripted scenario run against two fresh single-member clusters, in parts that each
/// start on a fresh member: <see cref="Core"/> (KV, txn, compaction, maintenance),
/// <see cref="Leases"/> and <see cref="SnapshotFile"/> (etcdctl reading a saved snapshot
/// offline). They are apart so a server that lacks one of these features can still be compared
/// on the rest. Each part starts at revision 1 on an empty store, so every revision below is the same
/// on both servers and is written into the script (the Kubernetes update/delete shapes compare
/// against them).
///
/// etcdctl 3.4 has no `get --count-only` (it came in 3.5): the count is covered by `count`
/// in JSON output, including with --limit (where it must stay the total, as Kubernetes reads it).
/// </summary>
public static class DifferentialScenario
{
    public static IReadOnlyList<ScenarioStep> Core { get; } = BuildCore();

    public static IReadOnlyList<ScenarioStep> Leases { get; } = BuildLeases();

    public static IReadOnlyList<ScenarioStep> SnapshotFile { get; } = BuildSnapshotFile();

    public static IReadOnlyList<ScenarioStep> For(ScenarioPart part) => part switch
    {
        ScenarioPart.Core => Core,
        ScenarioPart.Leases => Leases,
        ScenarioPart.SnapshotFile => SnapshotFile,
        _ => throw new ArgumentOutOfRangeException(nameof(part)),
    };

    private static ScenarioStep Run(params string[] args) => new(args);

    private static List<ScenarioStep> BuildCore() =>
    [
        // IDs first appear in JSON, so simple output later can be mapped to the same placeholders.
        Run("member", "list", "-w", "json") with { ExpectStdout = "\"name\":\"interop\"" },

        // --- put (revisions 2..8)
        Run("put", "/registry/pods/default/a", "alpha") with { ExpectStdout = "OK" },
        Run("put", "/registry/pods/default/b", "beta", "-w", "json") with { ExpectStdout = "\"revision\":3" },
        Run("put", "/registry/pods/kube-system/c", "gamma", "-w", "fields"),
        Run("put", "/registry/services/default/s", "svc"),
        Run("put", "/registry/pods/default/a", "alpha2", "--prev-kv", "-w", "json") with { ExpectStdout = "\"prev_kv\"" },
        Run("put", "/x/space", "hello world"),
        Run("put", "/x/z", "last", "-w", "protobuf") with { ExpectStdout = "revision:8" },

        // --- get, every flag and output format
        Run("get", "/registry/pods/default/a"),
        Run("get", "/registry/pods/default/a", "-w", "json") with { ExpectStdout = "\"create_revision\":2,\"mod_revision\":6,\"version\":2" },
        Run("get", "/registry/pods/default/a", "-w", "fields"),
        Run("get", "/registry/pods/default/a", "-w", "protobuf"),
        Run("get", "/registry/pods/default/a", "-w", "simple"),
        Run("get", "/registry/pods/", "--prefix", "-w", "json") with { ExpectStdout = "\"count\":3" },
        Run("get", "/registry/pods/", "--prefix", "--limit", "1", "-w", "json") with { ExpectStdout = "\"more\":true,\"count\":3" },
        Run("get", "/registry/pods/", "--prefix", "--limit", "2", "-w", "protobuf"),
        Run("get", "/registry/pods/", "--prefix", "--limit", "1", "-w", "fields"),
        Run("get", "/registry/pods/default/b", "--from-key"),
        Run("get", "/registry/pods/default/b", "--from-key", "--limit", "2", "-w", "json"),
        Run("get", "/registry/", "--prefix", "--keys-only"),
        Run("get", "/registry/", "--prefix", "--keys-only", "-w", "json"),
        Run("get", "/registry/", "--prefix", "--sort-by=MODIFY", "--order=DESCEND"),
        Run("get", "/registry/", "--prefix", "--sort-by=VALUE", "--order=ASCEND", "-w", "json"),
        Run("get", "/registry/", "--prefix", "--sort-by=CREATE", "--order=DESCEND", "--limit", "2", "-w", "json"),
        Run("get", "/registry/", "--prefix", "--sort-by=VERSION", "--order=DESCEND", "--keys-only"),
        Run("get", "/registry/", "--prefix", "--sort-by=KEY", "--order=DESCEND", "--print-value-only"),
        Run("get", "/registry/pods/default/a", "--print-value-only") with { ExpectStdout = "alpha2" },
        Run("get", "/registry/pods/default/a", "--rev", "2", "-w", "json") with { ExpectStdout = "\"value\":\"YWxwaGE=\"" },
        Run("get", "/registry/pods/", "--prefix", "--rev", "3", "-w", "json") with { ExpectStdout = "\"count\":2" },
        Run("get", "/registry/pods/default/a", "--consistency=s", "-w", "json"),
        Run("get", "/x/space") with { ExpectStdout = "hello world" },
        Run("get", "/nothing/here", "-w", "json") with { ExpectStdout = "\"revision\":8" },
        Run("get", "/nothing/here"),

        // --- errors: exact gRPC code and message, no new revision
        Run("put", "", "x") with { ExpectExit = 1, ExpectStderr = "code = InvalidArgument desc = etcdserver: key is not provided" },
        Run("get", "") with { ExpectExit = 1, ExpectStderr = "etcdserver: key is not provided" },
        Run("get", "/registry/pods/default/a", "--rev", "1000") with
        {
            ExpectExit = 1,
            ExpectStderr = "code = OutOfRange desc = etcdserver: mvcc: required revision is a future revision",
        },
        Run("put", "--ignore-value", "/missing") with { ExpectExit = 1, ExpectStderr = "etcdserver: key not found" },
        ScenarioStep.Txn([], ["put /dup 1", "put /dup 2"], []) with
        {
            ExpectExit = 1,
            ExpectStderr = "etcdserver: duplicate key given in txn request",
        },

        // --- txn from stdin: the Kubernetes create, update and delete shapes (revisions 9..11)
        ScenarioStep.Txn(["mod(\"/registry/pods/default/d\") = \"0\""], ["put /registry/pods/default/d delta"], [], "-w", "json") with
        {
            ExpectStdout = "\"revision\":9,\"raft_term\":\"<term1>\"},\"succeeded\":true",
        },
        ScenarioStep.Txn(["mod(\"/registry/pods/default/d\") = \"0\""], ["put /registry/pods/default/d delta"], []) with { ExpectStdout = "FAILURE" },
        ScenarioStep.Txn(
            ["mod(\"/registry/pods/default/d\") = \"9\""], ["put /registry/pods/default/d delta2"], ["get /registry/pods/default/d"], "-w", "json") with
        {
            ExpectStdout = "\"succeeded\":true",
        },
        ScenarioStep.Txn(
            ["mod(\"/registry/pods/default/d\") = \"9\""], ["put /registry/pods/default/d stale"], ["get /registry/pods/default/d"]) with
        {
            ExpectStdout = "FAILURE\n\n/registry/pods/default/d\ndelta2",
        },
        ScenarioStep.Txn(
            ["mod(\"/registry/pods/default/d\") = \"10\""], ["del /registry/pods/default/d"], ["get /registry/pods/default/d"], "-w", "json") with
        {
            ExpectStdout = "\"revision\":11,\"raft_term\":\"<term1>\"},\"succeeded\":true",
        },
        ScenarioStep.Txn(
            ["mod(\"/registry/pods/default/d\") = \"10\""], ["del /registry/pods/default/d"], ["get /registry/pods/default/d"], "-w", "json"),

        // --- compare-and-swap (12), Kubernetes' compaction bookkeeping (13), ops in order (14)
        ScenarioStep.Txn(["value(\"/x/z\") = \"last\""], ["put /x/z next"], ["get /x/z"]) with { ExpectStdout = "SUCCESS" },
        ScenarioStep.Txn(["value(\"/x/z\") = \"last\""], ["put /x/z again"], ["get /x/z"], "-w", "json") with
        {
            ExpectStdout = "\"revision\":12,\"raft_term\":\"<term1>\"},\"responses\"",
        },
        ScenarioStep.Txn(["version(\"compact_rev_key\") = \"0\""], ["put compact_rev_key 12"], ["get compact_rev_key"], "-w", "json") with
        {
            ExpectStdout = "\"revision\":13",
        },
        ScenarioStep.Txn([], ["put /t/1 one", "get /t/1"], [], "-w", "json") with { ExpectStdout = "\"value\":\"b25l\"" },
        ScenarioStep.Txn(["value(\"/x/z\") = \"next\"", "create(\"/t/1\") > \"13\""], ["get /x/z"], [], "-w", "json") with
        {
            ExpectStdout = "\"revision\":14,\"raft_term\":\"<term1>\"},\"succeeded\":true",
        },

        // --- del (15..19); the last one also takes compact_rev_key, which sorts after "/registry/"
        Run("del", "/x/nothing") with { ExpectStdout = "0" },
        Run("del", "/t/1") with { ExpectStdout = "1" },
        Run("del", "/registry/pods/", "--prefix", "--prev-kv", "-w", "json") with { ExpectStdout = "\"deleted\":3" },
        Run("del", "/x/", "--prefix", "--prev-kv"),
        Run("del", "/registry/services/default/s", "-w", "protobuf"),
        Run("del", "/registry/", "--from-key", "-w", "json") with { ExpectStdout = "\"revision\":19,\"raft_term\":\"<term1>\"},\"deleted\":1" },

        // --- compaction
        Run("get", "/registry/pods/default/a", "--rev", "6", "-w", "json") with { ExpectStdout = "YWxwaGEy" },
        Run("compact", "10") with { ExpectStdout = "compacted revision 10" },
        Run("get", "/registry/pods/default/a", "--rev", "6") with
        {
            ExpectExit = 1,
            ExpectStderr = "code = OutOfRange desc = etcdserver: mvcc: required revision has been compacted",
        },
        Run("get", "/registry/pods/", "--prefix", "--rev", "10", "-w", "json") with { ExpectStdout = "\"count\":4" },
        Run("compact", "10") with { ExpectExit = 1, ExpectStderr = "etcdserver: mvcc: required revision has been compacted" },
        Run("compact", "100") with { ExpectExit = 1, ExpectStderr = "etcdserver: mvcc: required revision is a future revision" },
        Run("compact", "15", "--physical") with { ExpectStdout = "compacted revision 15" },
        Run("get", "", "--from-key", "--rev", "15", "-w", "json"),

        // --- cluster and maintenance
        Run("endpoint", "health") with { ExpectStderr = "<endpoint> is healthy: successfully committed proposal: took = <duration>" },
        Run("endpoint", "health", "-w", "json") with { ExpectStdout = "\"health\":true" },
        Run("endpoint", "status", "-w", "json") with { ExpectStdout = "\"revision\":19" },
        Run("member", "list"),
        Run("member", "list", "-w", "json"),
        Run("member", "list", "-w", "fields"),
        Run("alarm", "list"),
        Run("alarm", "list", "-w", "json"),
        Run("defrag") with { ExpectStdout = "Finished defragmenting etcd member[<endpoint>]" },
        Run("endpoint", "status", "-w", "json"),
        Run("snapshot", "save", "snap.db") with { ExpectStdout = "Snapshot saved at snap.db" },
        Run("put", "/after/snapshot", "v", "-w", "json") with { ExpectStdout = "\"revision\":20" },
        Run("get", "", "--from-key", "-w", "json"),
    ];

    private static List<ScenarioStep> BuildLeases() =>
    [
        Run("member", "list", "-w", "json") with { ExpectStdout = "\"name\":\"interop\"" },

        // --- a lease that does not exist is refused, no new revision
        Run("put", "--lease=1234", "/leased", "v") with { ExpectExit = 1, ExpectStderr = "code = NotFound desc = etcdserver: requested lease not found" },

        // --- attach, revoke deletes the key (2, 3)
        Run("lease", "grant", "600", "-w", "json") with { ExpectStdout = "\"TTL\":600", CaptureIdAs = "lease" },
        Run("put", "/lease/k", "v", "--lease={lease}") with { ExpectStdout = "OK" },
        Run("get", "/lease/k", "-w", "json") with { ExpectStdout = "\"lease\":\"<id3>\"" },
        Run("lease", "list"),
        Run("lease", "list", "-w", "json"),
        Run("lease", "revoke", "{lease}") with { ExpectStdout = "revoked" },
        Run("get", "/lease/k", "-w", "json") with { ExpectStdout = "\"revision\":3" },
        Run("lease", "revoke", "{lease}") with { ExpectExit = 1, ExpectStderr = "etcdserver: requested lease not found" },
    ];

    // `snapshot save` itself is in Core; this part reads the file back offline (revisions 2..4).
    private static List<ScenarioStep> BuildSnapshotFile() =>
    [
        Run("put", "/snap/a", "1"),
        Run("put", "/snap/b", "2"),
        Run("del", "/snap/a"),
        Run("snapshot", "save", "snap.db") with { ExpectStdout = "Snapshot saved at snap.db" },
        Run("snapshot", "status", "snap.db", "-w", "json") with { Offline = true, ExpectStdout = "\"revision\":4" },
    ];
}

/// <summary>The parts of the scenario, each run on a fresh member.</summary>
public enum ScenarioPart
{
    Core,
    Leases,
    SnapshotFile,
}
