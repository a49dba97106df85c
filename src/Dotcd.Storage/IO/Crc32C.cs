using System.Buffers.Binary;
using System.Numerics;

namespace Dotcd.Storage.IO;

/// <summary>CRC-32C (Castagnoli), the checksum of etcd's WAL and snapshot files.</summary>
/// <remarks>
/// Standard parameters: reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF, so
/// <c>Compute("123456789"u8) == 0xE3069283</c>. <see cref="Append"/> continues a finished CRC:
/// <c>Append(Compute(a), b) == Compute(a ++ b)</c>. BitOperations.Crc32C uses the CPU's crc32
/// instruction when there is one (SSE4.2, ARMv8), which makes this fast enough for the WAL path.
/// </remarks>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        while (data.Length >= 8)
        {
            c = BitOperations.Crc32C(c, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        if (data.Length >= 4)
        {
            c = BitOperations.Crc32C(c, BinaryPrimitives.ReadUInt32LittleEndian(data));
            data = data[4..];
        }
        for (int i = 0; i < data.Length; i++)
        {
            c = BitOperations.Crc32C(c, data[i]);
        }
        return ~c;
    }
}
