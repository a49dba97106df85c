using System.Buffers.Binary;
using System.Numerics;

namespace Dotcd.Mvcc;

/// <summary>CRC-32C (Castagnoli) as Go's hash/crc32 computes it, for etcd-comparable hashes.</summary>
public struct Crc32C
{
    private uint _state; // Inverted running CRC; Go starts from 0 and inverts around each update.

    public Crc32C() => _state = 0xFFFFFFFF;

    public void Append(ReadOnlySpan<byte> data)
    {
        uint crc = _state;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }
        _state = crc;
    }

    public readonly uint Value => ~_state;
}
