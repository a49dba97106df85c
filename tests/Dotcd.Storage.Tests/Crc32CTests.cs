using Dotcd.Storage.IO;

namespace Dotcd.Storage.Tests;

public sealed class Crc32CTests
{
    [Fact]
    public void CheckValueMatchesTheCastagnoliStandard()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
    }

    [Fact]
    public void AppendContinuesAFinishedCrc()
    {
        var random = new Random(7);
        for (int n = 0; n < 200; n++)
        {
            var data = new byte[random.Next(0, 100)];
            random.NextBytes(data);
            int split = random.Next(0, data.Length + 1);
            Assert.Equal(Crc32C.Compute(data), Crc32C.Append(Crc32C.Compute(data.AsSpan(0, split)), data.AsSpan(split)));
            Assert.Equal(BitwiseCrc32C(data), Crc32C.Compute(data));
        }
    }

    // The textbook bit-at-a-time definition, to check the hardware-assisted one against.
    private static uint BitwiseCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
        }
        return ~crc;
    }
}
