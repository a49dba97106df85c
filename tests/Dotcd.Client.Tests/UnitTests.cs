using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;

namespace Dotcd.Client.Tests;

/// <summary>Request building and client-side checks that need no server.</summary>
public sealed class UnitTests
{
    [Theory]
    [InlineData(new byte[] { 0x61 }, new byte[] { 0x62 })]
    [InlineData(new byte[] { 0x61, 0xff }, new byte[] { 0x62 })]
    [InlineData(new byte[] { 0x61, 0x62, 0xff, 0xff }, new byte[] { 0x61, 0x63 })]
    [InlineData(new byte[] { 0xff, 0xff }, new byte[] { 0x00 })]
    [InlineData(new byte[] { }, new byte[] { 0x00 })]
    public void PrefixEndIsTheNextKeyAfterEveryKeyWithThePrefix(byte[] prefix, byte[] expected) =>
        Assert.Equal(expected, KeyRange.PrefixEnd(prefix));

    [Fact]
    public void AnEmptyPrefixCoversEveryKey()
    {
        RequestOp op = Ops.GetPrefix("");
        Assert.Equal([0], op.RequestRange.Key.ToByteArray());
        Assert.Equal([0], op.RequestRange.RangeEnd.ToByteArray());
    }

    [Fact]
    public void GetOptionsFillEveryRangeField()
    {
        RangeRequest request = Ops.Get("k", new GetOptions
        {
            Limit = 1, Revision = 2, SortOrder = SortOrder.Descend, SortTarget = SortTarget.Value, Serializable = true,
            KeysOnly = true, CountOnly = true, MinModRevision = 3, MaxModRevision = 4, MinCreateRevision = 5, MaxCreateRevision = 6,
        }).RequestRange;
        Assert.Equal((1, 2, RangeRequest.Types.SortOrder.Descend, RangeRequest.Types.SortTarget.Value, true, true, true, 3, 4, 5, 6),
            (request.Limit, request.Revision, request.SortOrder, request.SortTarget, request.Serializable, request.KeysOnly, request.CountOnly,
             request.MinModRevision, request.MaxModRevision, request.MinCreateRevision, request.MaxCreateRevision));
    }

    [Fact]
    public void TxnBuilderRefusesClausesOutOfOrder()
    {
        TxnBuilder txn = TxnBuilder.Nested().Then(Ops.Get("x"));
        Assert.Throws<InvalidOperationException>(() => txn.If(Compares.Version("x", CompareOperator.Equal, 0)));
        Assert.Throws<InvalidOperationException>(() => txn.Then(Ops.Get("y")));
        txn.Else(Ops.Get("z"));
        Assert.Throws<InvalidOperationException>(() => txn.Else(Ops.Get("z")));
        Assert.Throws<InvalidOperationException>(() => { _ = txn.CommitAsync(); });
    }

    [Fact]
    public void OnlyTransactionsWithoutWritesCountAsReadOnly()
    {
        Assert.True(Ops.IsReadOnly(TxnBuilder.Nested().Then(Ops.Get("a")).Else(Ops.GetPrefix("b")).ToRequest()));
        Assert.False(Ops.IsReadOnly(TxnBuilder.Nested().Then(Ops.Get("a")).Else(Ops.Put("b", "v")).ToRequest()));
        Assert.False(Ops.IsReadOnly(TxnBuilder.Nested().Then(Ops.Delete("a")).ToRequest()));
        TxnRequest nestedWrite = TxnBuilder.Nested().Then(Ops.Txn(TxnBuilder.Nested().Else(Ops.Put("c", "v")).ToRequest())).ToRequest();
        Assert.False(Ops.IsReadOnly(nestedWrite));
    }

    [Fact]
    public void EtcdErrorsAreRecognisedByTheirExactText()
    {
        Assert.Equal(EtcdError.Compacted, EtcdErrors.FromMessage("etcdserver: mvcc: required revision has been compacted"));
        Assert.Equal(EtcdError.Unrecognized, EtcdErrors.FromMessage("etcdserver: mvcc: required revision has been compacted "));
        var error = new EtcdException(StatusCode.Unavailable, "etcdserver: no leader");
        Assert.True(error.IsNoLeader);
        Assert.Equal("etcdserver: no leader", error.Message);
        var other = new EtcdException(StatusCode.Internal, "boom");
        Assert.Equal(EtcdError.Unrecognized, other.Error);
        Assert.Equal("rpc error: code = Internal desc = boom", other.Message);
    }

    [EtcdSourceFact]
    public void EveryEtcdErrorMatchesEtcdsOwnTable()
    {
        string source = EtcdSourceFactAttribute.RpcTypes;
        var etcd = new Dictionary<string, string>();
        foreach (Match match in Regex.Matches(File.ReadAllText(source), @"status\.New\(codes\.(\w+), ""([^""]+)""\)"))
        {
            etcd[match.Groups[2].Value] = match.Groups[1].Value;
        }

        foreach (EtcdError error in Enum.GetValues<EtcdError>().Where(e => e != EtcdError.Unrecognized))
        {
            string message = EtcdErrors.Message(error);
            Assert.True(etcd.TryGetValue(message, out string? code), $"{error}: \"{message}\" is not in etcd's rpctypes");
            string ours = EtcdErrors.Code(error) == StatusCode.Cancelled ? "Canceled" : EtcdErrors.Code(error).ToString();
            Assert.Equal(code, ours);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(4096)]
    public void SnapshotChecksumAcceptsAnyChunkingOfAValidStream(int chunk)
    {
        byte[] stream = ValidSnapshot(out _);
        using var checksum = new SnapshotChecksum();
        for (int at = 0; at < stream.Length; at += chunk)
        {
            checksum.Append(stream.AsSpan(at, Math.Min(chunk, stream.Length - at)));
        }

        checksum.Verify();
        Assert.Equal(stream.Length, checksum.Length);
    }

    [Fact]
    public void SnapshotChecksumRejectsAFlippedByteAndAMissingDigest()
    {
        byte[] stream = ValidSnapshot(out _);
        stream[100] ^= 1;
        using var corrupt = new SnapshotChecksum();
        corrupt.Append(stream);
        Assert.StartsWith("expected sha256 ", Assert.Throws<InvalidDataException>(corrupt.Verify).Message);

        using var truncated = new SnapshotChecksum();
        truncated.Append(stream.AsSpan(0, 1024));
        Assert.Equal("sha256 checksum not found [bytes: 1024]", Assert.Throws<InvalidDataException>(truncated.Verify).Message);
    }

    private static byte[] ValidSnapshot(out byte[] database)
    {
        database = new byte[3 * 4096];
        new Random(7).NextBytes(database);
        return [.. database, .. SHA256.HashData(database)];
    }
}

/// <summary>Runs when etcd's Go sources are installed; skipped with the reason otherwise.</summary>
public sealed class EtcdSourceFactAttribute : FactAttribute
{
    public const string RpcTypes = "/usr/share/gocode/src/go.etcd.io/etcd/etcdserver/api/v3rpc/rpctypes/error.go";

    public EtcdSourceFactAttribute()
    {
        if (!File.Exists(RpcTypes))
        {
            Skip = $"etcd's Go sources are not installed ({RpcTypes}); they are the reference for the error table";
        }
    }
}
