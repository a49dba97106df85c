using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Dotcd.Api.Mvccpb;
using Dotcd.Mvcc.Bolt;
using static Dotcd.Mvcc.Tests.TestStore;

namespace Dotcd.Mvcc.Tests.Bolt;

/// <summary>Our bbolt files against the real etcd 3.4.23 and etcdctl: we read etcd's snapshots,
/// etcdctl reads and restores ours, and an etcd started on the restored data serves our keys.</summary>
public sealed class EtcdSnapshotInteropTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dotcd-bolt-interop-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static JsonNode Status(string directory, string file) =>
        JsonNode.Parse(EtcdTools.Etcdctl3Ok(directory, "snapshot", "status", file, "-w", "json"))!;

    // What `etcdctl snapshot save` writes: the database, then the sha256 of it.
    private string SaveAsEtcdctlWould(byte[] database, string name)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, [.. database, .. SHA256.HashData(database)]);
        return path;
    }

    [EtcdFact]
    public void RealEtcdSnapshotReadsBackWithOurReader()
    {
        var expected = new SortedDictionary<string, string>(StringComparer.Ordinal);
        string snapshot = Path.Combine(_directory, "etcd.db");
        using (EtcdProcess etcd = EtcdProcess.Start(Path.Combine(_directory, "etcd-data")))
        {
            for (int i = 0; i < 30; i++)
            {
                string key = $"/registry/k{i % 12:D2}";
                string value = $"value {i}";
                etcd.Ctl(_directory, "put", key, value);
                expected[key] = value;
            }
            etcd.Ctl(_directory, "del", "/registry/k05");
            expected.Remove("/registry/k05");
            // A value of 300 KB lands on overflow pages.
            string big = new('b', 300_000);
            File.WriteAllText(Path.Combine(_directory, "big.txt"), big);
            RunPutFromFile(etcd, "/registry/big", Path.Combine(_directory, "big.txt"));
            expected["/registry/big"] = big;
            etcd.Ctl(_directory, "compact", "10");
            etcd.Ctl(_directory, "snapshot", "save", snapshot);
        }

        using BoltReader reader = BoltReader.Open(snapshot);
        Assert.Empty(reader.Check());
        SnapshotStatus ours = SnapshotStatus.Of(reader);
        JsonNode status = Status(_directory, snapshot);
        Assert.Equal(status["hash"]!.GetValue<uint>(), ours.Hash);
        Assert.Equal(status["revision"]!.GetValue<long>(), ours.Revision);
        Assert.Equal(status["totalKey"]!.GetValue<long>(), ours.TotalKeys);
        Assert.Equal(status["totalSize"]!.GetValue<long>(), ours.TotalSize);
        long revision = ours.Revision;
        Assert.Equal(33, revision); // From 1: 30 puts, a delete and the big put (compaction makes no revision).

        // Newest value of each key, as the key bucket's KeyValues tell it.
        var latest = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (KeyValuePair<byte[], byte[]> row in reader.ReadBucket("key"u8)!)
        {
            var kv = KeyValue.Parser.ParseFrom(row.Value);
            if (RevisionBytes.IsTombstone(row.Key))
            {
                latest.Remove(kv.Key.ToStringUtf8());
            }
            else
            {
                latest[kv.Key.ToStringUtf8()] = kv.Value.ToStringUtf8();
            }
        }
        Assert.Equal(expected, latest);

        // And the import makes a store that answers the same.
        string imported = Path.Combine(_directory, "imported.db");
        BoltImportResult result = MvccStore.ImportBoltFile(snapshot, imported);
        Assert.Equal(revision, result.Revision);
        Assert.Equal(10, result.CompactRevision);
        using MvccStore store = MvccStore.Open(imported, new MvccOptions { BackgroundCompaction = false });
        Assert.Equal(expected, store.Range(KeyRange.Between(M("/"), M("0"))).Kvs
            .ToDictionary(kv => kv.Key.ToStringUtf8(), kv => kv.Value.ToStringUtf8()));
    }

    [EtcdFact]
    public void EtcdctlSnapshotStatusAcceptsOurSnapshot()
    {
        using TestStore t = SnapshotTests.StoreWithHistory(keys: 3000);
        byte[] database = SnapshotTests.Snapshot(t.Store);
        string file = SaveAsEtcdctlWould(database, "ours.db");

        JsonNode status = Status(_directory, file);

        using var reader = BoltReader.Open(new MemoryStream(database));
        SnapshotStatus ours = SnapshotStatus.Of(reader);
        Assert.Equal(t.Store.CurrentRevision, status["revision"]!.GetValue<long>());
        Assert.Equal(ours.TotalKeys, status["totalKey"]!.GetValue<long>());
        Assert.Equal(Enum.GetValues<Dotcd.Mvcc.Backend.Bucket>().Sum(b => t.Store.ReadBucket(b).Count), ours.TotalKeys);
        Assert.Equal(ours.Hash, status["hash"]!.GetValue<uint>());
        Assert.Equal(database.Length, status["totalSize"]!.GetValue<long>());
    }

    [EtcdFact]
    public void EtcdRestoredFromOurSnapshotServesOurKeysAtOurRevision()
    {
        // No alarm row: etcd would restore the NOSPACE alarm and report itself unhealthy.
        using TestStore t = SnapshotTests.StoreWithHistory(keys: 500, alarm: false);
        t.Put("/big", new string('v', 200_000));
        string file = SaveAsEtcdctlWould(SnapshotTests.Snapshot(t.Store), "ours.db");
        int peerPort = EtcdTools.FreePort();
        string peerUrl = $"http://127.0.0.1:{peerPort}";
        string dataDir = Path.Combine(_directory, "restored");

        EtcdTools.Etcdctl3Ok(_directory, "snapshot", "restore", file, "--data-dir", dataDir, "--name", "default",
            "--initial-cluster", $"default={peerUrl}", "--initial-advertise-peer-urls", peerUrl);

        using EtcdProcess etcd = EtcdProcess.Start(dataDir, peerPort);
        JsonNode got = JsonNode.Parse(etcd.Ctl(_directory, "get", "/", "--prefix", "-w", "json"))!;
        Assert.Equal(t.Store.CurrentRevision, got["header"]!["revision"]!.GetValue<long>());
        var ours = t.Prefix("/").Kvs;
        JsonArray kvs = got["kvs"]!.AsArray();
        Assert.Equal(ours.Count, kvs.Count);
        for (int i = 0; i < ours.Count; i++)
        {
            Assert.Equal(ours[i].Key.ToBase64(), kvs[i]!["key"]!.GetValue<string>());
            Assert.Equal(ours[i].Value.ToBase64(), kvs[i]!["value"]!.GetValue<string>());
            Assert.Equal(ours[i].CreateRevision, kvs[i]!["create_revision"]!.GetValue<long>());
            Assert.Equal(ours[i].ModRevision, kvs[i]!["mod_revision"]!.GetValue<long>());
            Assert.Equal(ours[i].Version, kvs[i]!["version"]!.GetValue<long>());
        }
        // History below our compaction is compacted there too, and history above it is served.
        (int exit, string _, string stderr) = EtcdTools.Etcdctl3(_directory, "--endpoints", etcd.Endpoint, "get", "/", "--prefix", "--rev", "2");
        Assert.NotEqual(0, exit);
        Assert.Contains("required revision has been compacted", stderr);
        long old = t.Store.CompactRevision + 5;
        JsonNode past = JsonNode.Parse(etcd.Ctl(_directory, "get", "/", "--prefix", "--rev", $"{old}", "-w", "json"))!;
        Assert.Equal(t.Prefix("/", old).Kvs.Count, past["kvs"]?.AsArray().Count ?? 0);
        // etcd keeps writing after our last revision.
        JsonNode put = JsonNode.Parse(etcd.Ctl(_directory, "put", "/after/restore", "x", "-w", "json"))!;
        Assert.Equal(t.Store.CurrentRevision + 1, put["header"]!["revision"]!.GetValue<long>());
    }

    private void RunPutFromFile(EtcdProcess etcd, string key, string valueFile)
    {
        // etcdctl put reads the value from stdin when it is not given.
        var start = new System.Diagnostics.ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"ETCDCTL_API=3 {EtcdTools.Etcdctl} --endpoints {etcd.Endpoint} put {key} < {valueFile}");
        using var process = System.Diagnostics.Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(30_000) && process.ExitCode == 0, output);
    }
}
