namespace Dotcd.Interop.Tests.Harness;

/// <summary>The normalizer hides what legitimately differs between servers and nothing else.</summary>
public sealed class OutputNormalizerTests
{
    private const string Header =
        "\"header\":{\"cluster_id\":15118495548433857066,\"member_id\":13668033151171901709,\"revision\":3,\"raft_term\":2}";

    private static OutputNormalizer Create() => new("http://127.0.0.1:23791", "http://127.0.0.1:23801", "127.0.0.1:23791");

    [Fact]
    public void IdsAndTermsBecomePlaceholdersWhileRevisionsStay()
    {
        string normalized = Create().Json("{" + Header + ",\"kvs\":[{\"key\":\"YQ==\",\"create_revision\":2,\"mod_revision\":3,\"version\":2,\"value\":\"Mg==\"}],\"count\":1}\n");

        Assert.Equal(
            "{\"header\":{\"cluster_id\":\"<id1>\",\"member_id\":\"<id2>\",\"revision\":3,\"raft_term\":\"<term1>\"}," +
            "\"kvs\":[{\"key\":\"YQ==\",\"create_revision\":2,\"mod_revision\":3,\"version\":2,\"value\":\"Mg==\"}],\"count\":1}\n",
            normalized);
    }

    [Fact]
    public void DifferentRevisionsStillCompareUnequal()
    {
        string three = Create().Json("{" + Header + "}");
        string four = Create().Json("{" + Header.Replace("\"revision\":3", "\"revision\":4", StringComparison.Ordinal) + "}");

        Assert.NotEqual(three, four);
    }

    [Fact]
    public void AlarmResponsesCompareWithoutTheirHeaderButWithTheirAlarms()
    {
        // etcd 3.4 leaves the alarm response's header unset; 3.5+ (and dotcd) fill it.
        Assert.Equal("{}\n", Create().Json("{}\n", "alarm"));
        Assert.Equal("{}\n", Create().Json("{" + Header + "}\n", "alarm"));
        Assert.Equal(
            "{\"alarms\":[{\"memberID\":\"<id1>\",\"alarm\":1}]}\n",
            Create().Json("{" + Header + ",\"alarms\":[{\"memberID\":13668033151171901709,\"alarm\":1}]}", "alarm"));
        Assert.NotEqual(Create().Json("{}", "alarm"), Create().Json("{\"alarms\":[{\"memberID\":1,\"alarm\":1}]}", "alarm"));

        // Other commands keep their header.
        Assert.Contains("\"header\"", Create().Json("{" + Header + "}", "get"));
    }

    [Fact]
    public void TwoMembersWithDifferentIdsNormalizeAlike()
    {
        string first = Create().Json("{" + Header + "}");
        string second = new OutputNormalizer("http://127.0.0.1:40001", "http://127.0.0.1:40002", "127.0.0.1:40001")
            .Json("{\"header\":{\"cluster_id\":1,\"member_id\":2,\"revision\":3,\"raft_term\":5}}");

        Assert.Equal(first, second);
    }

    [Fact]
    public void AnIdKeepsItsPlaceholderAcrossJsonHexAndFieldsOutput()
    {
        OutputNormalizer normalizer = Create();
        string status = normalizer.Json(
            "[{\"Endpoint\":\"127.0.0.1:23791\",\"Status\":{" + Header + ",\"version\":\"3.4.23\",\"dbSize\":20480," +
            "\"leader\":13668033151171901709,\"raftIndex\":7,\"raftTerm\":2,\"raftAppliedIndex\":7,\"dbSizeInUse\":16384}}]");

        Assert.Equal(
            "[{\"Endpoint\":\"<endpoint>\",\"Status\":{\"header\":{\"cluster_id\":\"<id1>\",\"member_id\":\"<id2>\",\"revision\":3," +
            "\"raft_term\":\"<term1>\"},\"version\":\"<server-version>\",\"dbSize\":\"<bytes>\",\"leader\":\"<id2>\"," +
            "\"raftIndex\":\"<raft-index>\",\"raftTerm\":\"<term1>\",\"raftAppliedIndex\":\"<raft-index>\",\"dbSizeInUse\":\"<bytes>\"}}]\n",
            status);
        Assert.Equal(
            "<id2>, started, interop, <peer-url>, <client-url>, false\n",
            normalizer.Text("bdae9bbc11dd390d, started, interop, http://127.0.0.1:23801, http://127.0.0.1:23791, false\n"));
        Assert.Equal(
            "\"MemberID\" : <id2>\n\"Revision\" : 3\n\"RaftTerm\" : <term1>\n\"Version\" : 2\n\"Lease\" : 0\n",
            normalizer.Text("\"MemberID\" : 13668033151171901709\n\"Revision\" : 3\n\"RaftTerm\" : 2\n\"Version\" : 2\n\"Lease\" : 0\n"));
    }

    [Fact]
    public void LeaseIdsInSimpleOutputMapToTheJsonOnes()
    {
        OutputNormalizer normalizer = Create();

        Assert.Equal("lease <id1> granted with TTL(60s)\n", normalizer.Text("lease 390da200ae86d32b granted with TTL(60s)\n"));
        Assert.Contains("\"lease\":\"<id1>\"", normalizer.Json("{\"kvs\":[{\"key\":\"YQ==\",\"lease\":4111120158670902059}]}"));
        Assert.Equal("found 1 leases\n<id1>\n", normalizer.Text("found 1 leases\n390da200ae86d32b\n"));
    }

    [Fact]
    public void HexIdsMatchWithOrWithoutLeadingZeros()
    {
        OutputNormalizer normalizer = Create();

        // lease grant prints %x, lease list prints %016x.
        Assert.Equal("lease <id1> granted with TTL(600s)", normalizer.Text("lease 924a200c0ac1233 granted with TTL(600s)"));
        Assert.Equal("found 1 leases\n<id1>\n", normalizer.Text("found 1 leases\n0924a200c0ac1233\n"));
    }

    [Fact]
    public void SmallNumbersAreNotTakenForSmallIds()
    {
        OutputNormalizer normalizer = Create();
        normalizer.Text("lease 1 granted with TTL(60s)");

        Assert.Equal("2\n/x/1\nv\n", normalizer.Text("2\n/x/1\nv\n"));
    }

    [Fact]
    public void ClientLogLinesKeepOnlyLevelMessageAndTheServersError()
    {
        const string Log =
            "{\"level\":\"warn\",\"ts\":\"2026-11-22T00:36:24.902Z\",\"caller\":\"clientv3/retry_interceptor.go:62\"," +
            "\"msg\":\"retrying of unary invoker failed\",\"target\":\"endpoint://client-1eae291c/127.0.0.1:23791\",\"attempt\":0," +
            "\"error\":\"rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision is a future revision\"}\n" +
            "Error: etcdserver: mvcc: required revision is a future revision\n";

        Assert.Equal(
            "log warn: retrying of unary invoker failed: rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision is a future revision\n" +
            "Error: etcdserver: mvcc: required revision is a future revision\n",
            Create().Stderr(Log));
    }

    [Fact]
    public void DurationsAndSnapshotFileDetailsAreHiddenButTheSnapshotRevisionIsNot()
    {
        OutputNormalizer normalizer = Create();

        Assert.Equal(
            "127.0.0.1:9 is healthy: successfully committed proposal: took = <duration>",
            normalizer.Text("127.0.0.1:9 is healthy: successfully committed proposal: took = 979.045µs"));
        Assert.Equal(
            "{\"hash\":\"<hash>\",\"revision\":21,\"totalKey\":\"<key-count>\",\"totalSize\":\"<bytes>\"}\n",
            normalizer.Json("{\"hash\":4288786268,\"revision\":21,\"totalKey\":6,\"totalSize\":20480}"));
    }

    [Fact]
    public void ProtobufOutputIsDecodedWithItsHeaderNormalized()
    {
        // RangeResponse{header{cluster_id=300 member_id=5 revision=3 raft_term=2} kvs{key="a" version=1} count=1}
        byte[] header = [0x08, 0xAC, 0x02, 0x10, 0x05, 0x18, 0x03, 0x20, 0x02];
        byte[] kv = [0x0A, 0x01, (byte)'a', 0x20, 0x01];
        byte[] response = [0x0A, (byte)header.Length, .. header, 0x12, (byte)kv.Length, .. kv, 0x20, 0x01];

        Assert.Equal(
            "RangeResponse{header:ResponseHeader{cluster_id:<id1> member_id:<id2> revision:3 raft_term:<term1>} " +
            "kvs:KeyValue{key:\"a\" version:1} count:1}\n",
            Create().Protobuf(response, ProtoSchema.RangeResponse));
        Assert.Contains("<malformed", Create().Protobuf(response[..^1], ProtoSchema.RangeResponse));
        Assert.Equal("RangeResponse{?9:\"\\x00\"}", ProtobufDump.Render([0x4A, 0x01, 0x00], ProtoSchema.RangeResponse, Create()));
    }
}
