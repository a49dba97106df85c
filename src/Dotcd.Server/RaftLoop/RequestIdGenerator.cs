namespace Dotcd.Server.RaftLoop;

/// <summary>
/// Unique request IDs as etcd's idutil.Generator makes them; also the source of lease IDs.
/// </summary>
/// <remarks>
/// <code>
/// | member ID low 16 bits | unix milliseconds low 40 bits | counter 8 bits |
///   bits 63..48             bits 47..8                      bits 7..0
/// </code>
/// Next increments the low 48 bits as one number, so the counter carries into the timestamp on
/// purpose: IDs stay unique across a restart as long as fewer than 256 were made per millisecond
/// on average, and the time is read only once, at startup.
/// </remarks>
public sealed class RequestIdGenerator
{
    private const int SuffixBits = 48;
    private const int CounterBits = 8;
    private const ulong SuffixMask = (1UL << SuffixBits) - 1;
    private const ulong TimestampMask = (1UL << (SuffixBits - CounterBits)) - 1;

    private readonly ulong _prefix;
    private long _suffix; // Only the low 48 bits reach an ID.

    public RequestIdGenerator(ulong memberId, DateTimeOffset now)
    {
        _prefix = (memberId & 0xFFFF) << SuffixBits;
        ulong unixMilliseconds = (ulong)now.ToUnixTimeMilliseconds();
        _suffix = (long)((unixMilliseconds & TimestampMask) << CounterBits);
    }

    /// <summary>The next ID; safe to call from any thread.</summary>
    public ulong Next()
    {
        ulong suffix = (ulong)Interlocked.Increment(ref _suffix);
        return _prefix | (suffix & SuffixMask);
    }
}
