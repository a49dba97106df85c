namespace Dotcd.Grpc;

/// <summary>
/// The grpc-timeout header: 1 to 8 ASCII digits followed by a unit,
/// H (hours), M (minutes), S (seconds), m (milliseconds), u (microseconds) or n (nanoseconds).
/// </summary>
internal static class GrpcTimeout
{
    private const int MaxDigits = 8;
    private const long MaxValue = 99_999_999;

    public static bool TryParse(ReadOnlySpan<char> value, out TimeSpan timeout)
    {
        timeout = default;
        if (value.Length < 2 || value.Length > MaxDigits + 1)
        {
            return false;
        }

        long amount = 0;
        foreach (char c in value[..^1])
        {
            if (c < '0' || c > '9')
            {
                return false;
            }

            amount = (amount * 10) + (c - '0');
        }

        // At most 99,999,999 hours = 3.6e18 ticks, which fits in a TimeSpan; no overflow checks needed.
        timeout = value[^1] switch
        {
            'H' => TimeSpan.FromTicks(amount * TimeSpan.TicksPerHour),
            'M' => TimeSpan.FromTicks(amount * TimeSpan.TicksPerMinute),
            'S' => TimeSpan.FromTicks(amount * TimeSpan.TicksPerSecond),
            'm' => TimeSpan.FromTicks(amount * TimeSpan.TicksPerMillisecond),
            'u' => TimeSpan.FromTicks(amount * TimeSpan.TicksPerMicrosecond),
            // Round nanoseconds up to whole ticks so that "1n" is a (tiny) deadline, not none at all.
            'n' => TimeSpan.FromTicks((amount + 99) / 100),
            _ => TimeSpan.MinValue,
        };
        return timeout != TimeSpan.MinValue;
    }

    /// <summary>
    /// Formats a timeout in the finest unit whose value fits in 8 digits, rounding up as grpc-go
    /// does so the server never sees a shorter deadline than the client keeps.
    /// </summary>
    public static string Format(TimeSpan timeout)
    {
        long ticks = timeout.Ticks;
        if (ticks <= 0)
        {
            return "0n";
        }

        if (ticks <= MaxValue / 100)
        {
            return Value(ticks * 100, 'n');
        }

        if (CeilDiv(ticks, TimeSpan.TicksPerMicrosecond) is var us && us <= MaxValue)
        {
            return Value(us, 'u');
        }

        if (CeilDiv(ticks, TimeSpan.TicksPerMillisecond) is var ms && ms <= MaxValue)
        {
            return Value(ms, 'm');
        }

        if (CeilDiv(ticks, TimeSpan.TicksPerSecond) is var s && s <= MaxValue)
        {
            return Value(s, 'S');
        }

        if (CeilDiv(ticks, TimeSpan.TicksPerMinute) is var m && m <= MaxValue)
        {
            return Value(m, 'M');
        }

        return Value(Math.Min(CeilDiv(ticks, TimeSpan.TicksPerHour), MaxValue), 'H');
    }

    private static long CeilDiv(long value, long divisor) => (value + divisor - 1) / divisor;

    private static string Value(long amount, char unit) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{amount}{unit}");
}
