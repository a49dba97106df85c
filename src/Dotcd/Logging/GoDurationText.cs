using System.Globalization;
using System.Text;

namespace Dotcd.Logging;

/// <summary>
/// Durations written the way Go's time.Duration.String writes them ("0s", "100ms", "1.5s",
/// "10m0s", "2h0m0s"), because etcd's logs and help text show durations that way.
/// </summary>
public static class GoDurationText
{
    /// <summary>Formats a duration as Go does; TimeSpan's 100 ns ticks become nanoseconds.</summary>
    public static string Format(TimeSpan duration) => FormatNanoseconds(ToNanoseconds(duration));

    /// <summary>Formats a signed nanosecond count as Go's time.Duration.String.</summary>
    public static string FormatNanoseconds(long nanoseconds)
    {
        if (nanoseconds == 0)
        {
            return "0s";
        }

        bool negative = nanoseconds < 0;
        // long.MinValue has no positive twin; unsigned negation keeps its magnitude exact.
        ulong u = negative ? unchecked(0UL - (ulong)nanoseconds) : (ulong)nanoseconds;
        var text = new StringBuilder(24);
        if (negative)
        {
            text.Append('-');
        }

        if (u < 1_000_000_000UL)
        {
            // Below one second Go picks the largest unit that keeps an integer part.
            if (u < 1_000UL)
            {
                text.Append(u.ToString(CultureInfo.InvariantCulture)).Append("ns");
            }
            else if (u < 1_000_000UL)
            {
                AppendFraction(text, u, 3).Append("µs");
            }
            else
            {
                AppendFraction(text, u, 6).Append("ms");
            }

            return text.ToString();
        }

        ulong wholeSeconds = u / 1_000_000_000UL;
        ulong hours = wholeSeconds / 3600;
        ulong minutes = wholeSeconds / 60 % 60;
        if (hours > 0)
        {
            text.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        }

        if (hours > 0 || minutes > 0)
        {
            text.Append(minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        }

        ulong secondsPart = wholeSeconds % 60 * 1_000_000_000UL + u % 1_000_000_000UL;
        AppendFraction(text, secondsPart, 9).Append('s');
        return text.ToString();
    }

    internal static long ToNanoseconds(TimeSpan duration)
    {
        const long nanosecondsPerTick = 100;
        long ticks = duration.Ticks;
        if (ticks > long.MaxValue / nanosecondsPerTick)
        {
            return long.MaxValue;
        }

        if (ticks < long.MinValue / nanosecondsPerTick)
        {
            return long.MinValue;
        }

        return ticks * nanosecondsPerTick;
    }

    // Writes value / 10^digits with the fraction's trailing zeros (and a bare '.') dropped.
    private static StringBuilder AppendFraction(StringBuilder text, ulong value, int digits)
    {
        ulong scale = 1;
        for (int i = 0; i < digits; i++)
        {
            scale *= 10;
        }

        text.Append((value / scale).ToString(CultureInfo.InvariantCulture));
        ulong fraction = value % scale;
        if (fraction != 0)
        {
            string fractionText = fraction.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0').TrimEnd('0');
            text.Append('.').Append(fractionText);
        }

        return text;
    }
}
