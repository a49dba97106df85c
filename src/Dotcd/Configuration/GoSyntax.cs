using System.Numerics;

namespace Dotcd.Configuration;

/// <summary>How Go's strconv failed, which decides the wording of etcd's flag errors.</summary>
internal enum GoNumberError
{
    None,
    Syntax, // strconv's "invalid syntax"; Go's flag package says "parse error".
    Range,  // strconv's "value out of range".
}

/// <summary>
/// Go's parsers for flag values, so dotcd accepts exactly what etcd's flags accept:
/// strconv.ParseBool, strconv.ParseInt/ParseUint with base 0 ("0x1f", "0o17", "017", "0b101",
/// "1_000"), and time.ParseDuration.
/// </summary>
internal static class GoSyntax
{
    /// <summary>strconv.ParseBool: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False.</summary>
    public static bool TryParseBool(string text, out bool value)
    {
        switch (text)
        {
            case "1" or "t" or "T" or "TRUE" or "true" or "True":
                value = true;
                return true;
            case "0" or "f" or "F" or "FALSE" or "false" or "False":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>strconv.ParseUint(text, 0, bits).</summary>
    public static GoNumberError ParseUnsigned(string text, int bits, out ulong value)
    {
        value = 0;
        if (text.Length == 0)
        {
            return GoNumberError.Syntax;
        }

        GoNumberError error = ParseMagnitude(text, out BigInteger magnitude);
        if (error != GoNumberError.None)
        {
            return error;
        }

        BigInteger max = (BigInteger.One << bits) - 1;
        if (magnitude > max)
        {
            value = (ulong)max;
            return GoNumberError.Range;
        }

        value = (ulong)magnitude;
        return GoNumberError.None;
    }

    /// <summary>strconv.ParseInt(text, 0, bits).</summary>
    public static GoNumberError ParseSigned(string text, int bits, out long value)
    {
        value = 0;
        if (text.Length == 0)
        {
            return GoNumberError.Syntax;
        }

        bool negative = false;
        string digits = text;
        if (text[0] is '+' or '-')
        {
            negative = text[0] == '-';
            digits = text[1..];
        }

        if (digits.Length == 0)
        {
            return GoNumberError.Syntax;
        }

        GoNumberError error = ParseMagnitude(digits, out BigInteger magnitude);
        if (error != GoNumberError.None)
        {
            return error;
        }

        BigInteger limit = BigInteger.One << (bits - 1);
        if (!negative && magnitude >= limit)
        {
            value = (long)(limit - 1);
            return GoNumberError.Range;
        }

        if (negative && magnitude > limit)
        {
            value = (long)-limit;
            return GoNumberError.Range;
        }

        value = (long)(negative ? -magnitude : magnitude);
        return GoNumberError.None;
    }

    // Base 0: a prefix picks the base; underscores may only separate digits (or follow the prefix).
    private static GoNumberError ParseMagnitude(string text, out BigInteger magnitude)
    {
        magnitude = BigInteger.Zero;
        int numberBase = 10;
        int start = 0;
        if (text.Length > 1 && text[0] == '0')
        {
            switch (char.ToLowerInvariant(text[1]))
            {
                case 'x': numberBase = 16; start = 2; break;
                case 'o': numberBase = 8; start = 2; break;
                case 'b': numberBase = 2; start = 2; break;
                default: numberBase = 8; start = 1; break;
            }
        }

        if (!UnderscoresAreWellPlaced(text))
        {
            return GoNumberError.Syntax;
        }

        int digitsSeen = 0;
        for (int i = start; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '_')
            {
                continue;
            }

            int digit = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'z' => c - 'a' + 10,
                >= 'A' and <= 'Z' => c - 'A' + 10,
                _ => 99,
            };
            if (digit >= numberBase)
            {
                return GoNumberError.Syntax;
            }

            magnitude = magnitude * numberBase + digit;
            digitsSeen++;
        }

        // "0x" alone has no digits; a lone leading "0" (octal prefix) is the number zero.
        if (digitsSeen == 0 && start == 2)
        {
            return GoNumberError.Syntax;
        }

        return GoNumberError.None;
    }

    // Go's underscoreOK: '_' must sit between digits, or right after a base prefix.
    private static bool UnderscoresAreWellPlaced(string text)
    {
        if (!text.Contains('_'))
        {
            return true;
        }

        char saw = '^'; // '^' start, '0' digit or base prefix, '_' underscore, '!' anything else.
        int i = 0;
        bool hex = false;
        if (text.Length >= 2 && text[0] == '0' && char.ToLowerInvariant(text[1]) is 'x' or 'o' or 'b')
        {
            saw = '0';
            i = 2;
            hex = char.ToLowerInvariant(text[1]) == 'x';
        }

        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsAsciiDigit(c) || (hex && char.IsAsciiHexDigit(c)))
            {
                saw = '0';
            }
            else if (c == '_')
            {
                if (saw != '0')
                {
                    return false;
                }

                saw = '_';
            }
            else
            {
                if (saw == '_')
                {
                    return false;
                }

                saw = '!';
            }
        }

        return saw != '_';
    }

    /// <summary>
    /// time.ParseDuration: "[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+" with units ns, us, µs, ms, s, m, h,
    /// or a bare "0". On failure <paramref name="error"/> is Go's message.
    /// </summary>
    public static bool TryParseDuration(string text, out TimeSpan duration, out string error)
    {
        duration = TimeSpan.Zero;
        error = "";
        string quoted = "\"" + text + "\"";
        string s = text;
        bool negative = false;
        if (s.Length > 0 && s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        if (s == "0")
        {
            return true;
        }

        if (s.Length == 0)
        {
            error = "time: invalid duration " + quoted;
            return false;
        }

        decimal totalNanoseconds = 0;
        while (s.Length > 0)
        {
            if (!(s[0] == '.' || char.IsAsciiDigit(s[0])))
            {
                error = "time: invalid duration " + quoted;
                return false;
            }

            int i = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }

            string whole = s[..i];
            s = s[i..];
            string fraction = "";
            bool hasDot = s.Length > 0 && s[0] == '.';
            if (hasDot)
            {
                s = s[1..];
                i = 0;
                while (i < s.Length && char.IsAsciiDigit(s[i]))
                {
                    i++;
                }

                fraction = s[..i];
                s = s[i..];
            }

            if (whole.Length == 0 && fraction.Length == 0)
            {
                error = "time: invalid duration " + quoted;
                return false;
            }

            i = 0;
            while (i < s.Length && s[i] != '.' && !char.IsAsciiDigit(s[i]))
            {
                i++;
            }

            if (i == 0)
            {
                error = "time: missing unit in duration " + quoted;
                return false;
            }

            string unit = s[..i];
            s = s[i..];
            decimal unitNanoseconds = unit switch
            {
                "ns" => 1m,
                "us" or "µs" or "μs" => 1_000m,
                "ms" => 1_000_000m,
                "s" => 1_000_000_000m,
                "m" => 60m * 1_000_000_000m,
                "h" => 3600m * 1_000_000_000m,
                _ => -1m,
            };
            if (unitNanoseconds < 0)
            {
                error = "time: unknown unit \"" + unit + "\" in duration " + quoted;
                return false;
            }

            try
            {
                decimal wholeValue = whole.Length == 0 ? 0 : decimal.Parse(whole, System.Globalization.CultureInfo.InvariantCulture);
                decimal fractionValue = fraction.Length == 0
                    ? 0
                    : decimal.Parse("0." + fraction[..Math.Min(fraction.Length, 27)], System.Globalization.CultureInfo.InvariantCulture);
                totalNanoseconds += (wholeValue + fractionValue) * unitNanoseconds;
            }
            catch (OverflowException)
            {
                error = "time: invalid duration " + quoted;
                return false;
            }

            // Go's Duration is an int64 of nanoseconds; beyond that it is invalid.
            if (totalNanoseconds > long.MaxValue)
            {
                error = "time: invalid duration " + quoted;
                return false;
            }
        }

        long nanoseconds = (long)decimal.Truncate(totalNanoseconds);
        duration = TimeSpan.FromTicks((negative ? -nanoseconds : nanoseconds) / 100);
        return true;
    }
}
