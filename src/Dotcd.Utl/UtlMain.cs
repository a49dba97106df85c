using Dotcd.Tools;

namespace Dotcd.Utl;

/// <summary>dotcdutl: etcdutl's offline commands; none is built yet (issue #2).</summary>
internal static class UtlMain
{
    public static ToolCommandLine Tool { get; } = new(
        "dotcdutl",
        "An administrative command line tool for dotcd and etcd3 data directories and snapshot files.",
        [
            new("backup", "[legacy] offline backup of etcd directory"),
            new("defrag", "Defragments the storage of the etcd"),
            new("hashkv", "Prints the KV history hash of a given file"),
            new("help", "Help about any command"),
            new("migrate", "Migrates schema of etcd data dir files to make them compatible with different etcd version"),
            new("snapshot restore", "Restores an etcd member snapshot to an etcd directory"),
            new("snapshot status", "Gets backend snapshot status of a given file"),
            new("version", "Prints the version of dotcdutl"),
        ],
        [
            ("  -h, --help[=false]", "help for dotcdutl"),
            ("      --version[=false]", "print the version and exit"),
            ("  -w, --write-out=\"simple\"", "set the output format (fields, json, protobuf, simple, table)"),
        ],
        ["w", "write-out"]);

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error) => Tool.Run(args, output, error);
}
