using System.Globalization;
using System.Text;

namespace Dotcd.Server.Metrics;

/// <summary>
/// Pieces of the Prometheus text exposition format 0.0.4, written the way Go's client_golang
/// (expfmt) writes them, so our /metrics reads byte for byte like etcd's:
/// <code>
/// # HELP name help text with \\ and \n escaped
/// # TYPE name counter|gauge|histogram
/// name{label="value with \\ \" \n escaped",...} value
/// name_bucket{...,le="0.001"} cumulative-count      (histograms; le last, then le="+Inf")
/// name_sum{...} sum
/// name_count{...} count
/// </code>
/// Values are Go's strconv 'g' with the shortest digits: 1234567 is "1.234567e+06", 0.001 is "0.001".
/// </summary>
public static class PrometheusText
{
    /// <summary>The Content-Type of a text exposition (promhttp's for format 0.0.4).</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>True for a valid metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.</summary>
    public static bool IsValidMetricName(string name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return false;
        }

        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' or ':' || (i > 0 && c is >= '0' and <= '9');
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True for a valid label name: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved).</summary>
    public static bool IsValidLabelName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.StartsWith("__", StringComparison.Ordinal))
        {
            return false;
        }

        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (i > 0 && c is >= '0' and <= '9');
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Appends a HELP text: backslash and newline escaped (quotes stay as they are).</summary>
    public static void AppendEscapedHelp(StringBuilder text, string help)
    {
        foreach (char c in help)
        {
            switch (c)
            {
                case '\\': text.Append(@"\\"); break;
                case '\n': text.Append(@"\n"); break;
                default: text.Append(c); break;
            }
        }
    }

    /// <summary>Appends a label value: backslash, double quote and newline escaped.</summary>
    public static void AppendEscapedLabelValue(StringBuilder text, string value)
    {
        foreach (char c in value)
        {
            switch (c)
            {
                case '\\': text.Append(@"\\"); break;
                case '"': text.Append("\\\""); break;
                case '\n': text.Append(@"\n"); break;
                default: text.Append(c); break;
            }
        }
    }

    /// <summary>A sample value as Go's expfmt writes it.</summary>
    public static string FormatValue(double value)
    {
        var text = new StringBuilder(24);
        AppendValue(text, value);
        return text.ToString();
    }

    /// <summary>
    /// Appends a sample value as Go's expfmt.writeFloat does: "1", "0", "-1", "NaN", "+Inf", "-Inf",
    /// otherwise strconv.FormatFloat(v, 'g', -1, 64): the shortest digits that read back exactly,
    /// in exponent form ("d.ddde+XX") when the decimal exponent is below -4 or at least 6.
    /// </summary>
    public static void AppendValue(StringBuilder text, double value)
    {
        if (value == 1)
        {
            text.Append('1');
            return;
        }

        if (value == 0)
        {
            text.Append('0'); // Also -0, as Go prints "0" for it through this path.
            return;
        }

        if (value == -1)
        {
            text.Append("-1");
            return;
        }

        if (double.IsNaN(value))
        {
            text.Append("NaN");
            return;
        }

        if (double.IsInfinity(value))
        {
            text.Append(value > 0 ? "+Inf" : "-Inf");
            return;
        }

        // .NET's "R" gives the shortest round-trip digits (like Go's shortest mode) but its own
        // layout ("1E-05", "123.45", "1.5E+20"); take the digits and the exponent from it.
        string r = value.ToString("R", CultureInfo.InvariantCulture);
        bool negative = r[0] == '-';
        int start = negative ? 1 : 0;
        int exponentAt = r.IndexOf('E', start);
        int exponent = exponentAt < 0 ? 0 : int.Parse(r.AsSpan(exponentAt + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        ReadOnlySpan<char> mantissa = exponentAt < 0 ? r.AsSpan(start) : r.AsSpan(start, exponentAt - start);

        Span<char> digits = stackalloc char[32];
        int count = 0;
        int pointAt = -1; // Digits before the decimal point in the mantissa.
        foreach (char c in mantissa)
        {
            if (c == '.')
            {
                pointAt = count;
                continue;
            }

            digits[count++] = c;
        }

        // value = 0.d1d2...dn * 10^decimalPoint
        int decimalPoint = (pointAt < 0 ? count : pointAt) + exponent;
        int first = 0;
        while (first < count - 1 && digits[first] == '0')
        {
            first++;
            decimalPoint--;
        }

        int last = count;
        while (last > first + 1 && digits[last - 1] == '0')
        {
            last--;
        }

        ReadOnlySpan<char> d = digits[first..last];
        if (negative)
        {
            text.Append('-');
        }

        int decimalExponent = decimalPoint - 1;
        if (decimalExponent < -4 || decimalExponent >= 6)
        {
            // %e: d[.ddd]e±XX with at least two exponent digits.
            text.Append(d[0]);
            if (d.Length > 1)
            {
                text.Append('.').Append(d[1..]);
            }

            text.Append('e').Append(decimalExponent < 0 ? '-' : '+');
            int magnitude = Math.Abs(decimalExponent);
            if (magnitude < 10)
            {
                text.Append('0');
            }

            text.Append(magnitude.ToString(CultureInfo.InvariantCulture));
            return;
        }

        // %f with exactly the digits needed.
        if (decimalPoint <= 0)
        {
            text.Append("0.");
            text.Append('0', -decimalPoint);
            text.Append(d);
        }
        else if (decimalPoint >= d.Length)
        {
            text.Append(d);
            text.Append('0', decimalPoint - d.Length);
        }
        else
        {
            text.Append(d[..decimalPoint]).Append('.').Append(d[decimalPoint..]);
        }
    }
}
