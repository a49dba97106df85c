using System.Text;

namespace Dotcd.Grpc.Tests;

/// <summary>The HPACK reading behind the :authority repair, checked against RFC 7541's examples.</summary>
public sealed class HpackTests
{
    [Theory]
    [InlineData("f1e3c2e5f23a6ba0ab90f4ff", "www.example.com")] // RFC 7541 C.4.1
    [InlineData("a8eb10649cbf", "no-cache")]                  // C.4.2
    [InlineData("25a849e95ba97d7f", "custom-key")]            // C.4.3
    [InlineData("25a849e95bb8e8b4bf", "custom-value")]        // C.4.3
    [InlineData("", "")]
    public void HuffmanDecodesTheRfcExamples(string hex, string expected)
    {
        byte[] output = new byte[64];
        int length = HuffmanDecoder.Decode(Convert.FromHexString(hex), output, countOnly: false);
        Assert.Equal(expected, Encoding.ASCII.GetString(output, 0, length));
        Assert.Equal(expected.Length, HuffmanDecoder.Decode(Convert.FromHexString(hex), [], countOnly: true));
    }

    [Theory]
    [InlineData("f1e3c2e5f23a6ba0ab90f4fe")] // Padding that is not all ones.
    [InlineData("ffffffff")]                 // 30 one-bits: the EOS symbol itself.
    [InlineData("f1e3c2e5f23a6ba0ab90f4ffff")] // More than 7 bits of padding.
    public void HuffmanRejectsWhatTheRfcForbids(string hex) =>
        Assert.Equal(-1, HuffmanDecoder.Decode(Convert.FromHexString(hex), new byte[64], countOnly: false));

    [Theory]
    [InlineData("RFC 7541 C.3", "828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865",
        "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565")] // Plain literals
    [InlineData("RFC 7541 C.4", "828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf",
        "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf")]           // Huffman literals
    public void ScannerTracksTheDynamicTableLikeTheRfc(string example, string first, string second, string third)
    {
        var scanner = new HpackAuthorityScanner(4096);
        var patches = new List<HpackAuthorityScanner.Patch>();
        int[] expectedSizes = [57, 110, 164];
        string[] blocks = [first, second, third];
        for (int i = 0; i < blocks.Length; i++)
        {
            Assert.True(scanner.TryScan(Convert.FromHexString(blocks[i]), patches), $"{example} request {i + 1}");
            Assert.Equal(expectedSizes[i], scanner.DynamicTableSize);
            Assert.Equal(i + 1, scanner.DynamicTableCount);
        }

        Assert.Empty(patches); // www.example.com is a fine authority.
    }

    [Fact]
    public void ScannerEvictsOldEntriesWhenTheTableShrinks()
    {
        var scanner = new HpackAuthorityScanner(4096);
        var patches = new List<HpackAuthorityScanner.Patch>();
        Assert.True(scanner.TryScan(Convert.FromHexString("828684410f7777772e6578616d706c652e636f6d"), patches));
        Assert.True(scanner.TryScan([0x20], patches)); // Size update to 0 empties the table.
        Assert.Equal(0, scanner.DynamicTableSize);
        Assert.False(scanner.TryScan([0xBE], patches)); // Index 62 no longer exists.
    }

    [Theory]
    [InlineData("127.0.0.1:2379", true)]
    [InlineData("etcd-0.etcd.kube-system.svc", true)]
    [InlineData("[::1]:2379", true)]
    [InlineData("", true)]
    [InlineData("http://127.0.0.1:2379", false)]
    [InlineData("#initially=[https://10.0.0.1:2379;https://10.0.0.2:2379]", false)]
    [InlineData("/var/run/etcd.sock", false)]
    [InlineData(":2379", false)]
    [InlineData("host:", false)]
    [InlineData("host:123456", false)]
    public void AuthorityCheckIsAtLeastAsStrictAsKestrel(string authority, bool acceptable) =>
        Assert.Equal(acceptable, HpackAuthorityScanner.IsAcceptableAuthority(Encoding.ASCII.GetBytes(authority)));

    [Fact]
    public void ScannerFindsABadAuthorityLiteralAndKeepsItsTableSize()
    {
        byte[] block = H2c.RequestBlock("/test.Echo/Unary", "#initially=[http://127.0.0.1:2379]");
        var scanner = new HpackAuthorityScanner(4096);
        var patches = new List<HpackAuthorityScanner.Patch>();
        Assert.True(scanner.TryScan(block, patches));
        HpackAuthorityScanner.Patch patch = Assert.Single(patches);
        Assert.Equal("#initially=[http://127.0.0.1:2379]".Length, patch.DecodedLength);
    }

    [Fact]
    public void ScannerNeverThrowsOnRandomBlocks()
    {
        var random = new Random(7541);
        var patches = new List<HpackAuthorityScanner.Patch>();
        for (int i = 0; i < 3000; i++)
        {
            byte[] block = new byte[random.Next(1, 40)];
            random.NextBytes(block);
            var scanner = new HpackAuthorityScanner(4096);
            scanner.TryScan(block, patches); // Either verdict is fine; an exception is not.
            Assert.InRange(scanner.DynamicTableSize, 0, 4096);
        }
    }
}
