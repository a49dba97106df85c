using System.Security.Cryptography;

namespace Dotcd.Client;

/// <summary>
/// Checks a snapshot stream as etcdctl does (save: the size, restore: the digest).
/// Snapshot stream: [database: n bytes][sha256(database): 32 bytes], with (n + 32) % 512 == 32
/// because the database is whole pages. Bytes are hashed once they can no longer be part of the
/// trailing 32, so the digest needs no second pass and no knowledge of message boundaries.
/// </summary>
internal sealed class SnapshotChecksum : IDisposable
{
    private const int DigestLength = 32;

    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _tail = new byte[DigestLength]; // The last _tailLength bytes seen, not yet hashed.
    private int _tailLength;                                 // Invariant: 0 <= _tailLength <= 32.

    public long Length { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        Length += data.Length;
        int overflow = _tailLength + data.Length - DigestLength;
        if (overflow <= 0)
        {
            data.CopyTo(_tail.AsSpan(_tailLength));
            _tailLength += data.Length;
            return;
        }

        // The oldest `overflow` bytes leave the window: first from the tail, then from data.
        int fromTail = Math.Min(overflow, _tailLength);
        _sha256.AppendData(_tail.AsSpan(0, fromTail));
        _sha256.AppendData(data[..(overflow - fromTail)]);
        ReadOnlySpan<byte> keptData = data[(overflow - fromTail)..];
        int keptTail = _tailLength - fromTail;
        _tail.AsSpan(fromTail, keptTail).CopyTo(_tail);
        keptData.CopyTo(_tail.AsSpan(keptTail));
        _tailLength = keptTail + keptData.Length;
    }

    /// <summary>Throws <see cref="InvalidDataException"/> unless the stream ended in the digest of what came before.</summary>
    public void Verify()
    {
        if (Length % 512 != DigestLength)
        {
            throw new InvalidDataException($"sha256 checksum not found [bytes: {Length}]");
        }

        byte[] actual = _sha256.GetHashAndReset();
        if (!CryptographicOperations.FixedTimeEquals(actual, _tail))
        {
            throw new InvalidDataException($"expected sha256 {Convert.ToHexStringLower(_tail)}, got {Convert.ToHexStringLower(actual)}");
        }
    }

    public void Dispose() => _sha256.Dispose();
}
