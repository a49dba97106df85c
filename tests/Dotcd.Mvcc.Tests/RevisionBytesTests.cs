namespace Dotcd.Mvcc.Tests;

public sealed class RevisionBytesTests
{
    [Fact]
    public void RevisionEncodesAsMainUnderscoreSubBigEndian()
    {
        byte[] bytes = RevisionBytes.ToBytes(new Revision(0x0102, 3));
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 1, 2, (byte)'_', 0, 0, 0, 0, 0, 0, 0, 3 }, bytes);
        Assert.Equal(new Revision(0x0102, 3), RevisionBytes.Read(bytes));
        Assert.False(RevisionBytes.IsTombstone(bytes));
    }

    [Fact]
    public void TombstoneAppendsTheMarkByte()
    {
        byte[] bytes = RevisionBytes.ToBytes(new Revision(7, 1), tombstone: true);
        Assert.Equal(18, bytes.Length);
        Assert.Equal((byte)'t', bytes[17]);
        Assert.True(RevisionBytes.IsTombstone(bytes));
        Assert.Equal(new Revision(7, 1), RevisionBytes.Read(bytes));
    }

    [Fact]
    public void ByteOrderIsRevisionOrder()
    {
        var revisions = new List<Revision>();
        var random = new Random(5);
        for (int i = 0; i < 200; i++)
        {
            revisions.Add(new Revision(random.NextInt64(0, 1L << 40), random.Next(0, 300)));
        }
        var byBytes = revisions.OrderBy(r => RevisionBytes.ToBytes(r), Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b))).ToList();
        var byValue = revisions.OrderBy(r => r).ToList();
        Assert.Equal(byValue, byBytes);
    }

    [Fact]
    public void Crc32CMatchesTheCastagnoliCheckValue()
    {
        var crc = new Crc32C();
        crc.Append("123456789"u8);
        Assert.Equal(0xE3069283u, crc.Value);
        var split = new Crc32C();
        split.Append("1234"u8);
        split.Append("56789"u8);
        Assert.Equal(crc.Value, split.Value);
    }
}
