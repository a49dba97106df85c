using Dotcd.Configuration;
using Dotcd.Logging;

namespace Dotcd.Host.Tests;

public sealed class GoSyntaxTests
{
    [Theory]
    [InlineData("0", 0L)]
    [InlineData("1h", 36_000_000_000L)]
    [InlineData("1h30m", 54_000_000_000L)]
    [InlineData("1.5s", 15_000_000L)]
    [InlineData("-2m", -1_200_000_000L)]
    [InlineData("+100ms", 1_000_000L)]
    [InlineData("300us", 3_000L)]
    [InlineData("300µs", 3_000L)]
    [InlineData(".5h", 18_000_000_000L)]
    [InlineData("2h45m30.5s", 99_305_000_000L)]
    public void DurationsParseAsGosTimeParseDuration(string text, long ticks)
    {
        Assert.True(GoSyntax.TryParseDuration(text, out TimeSpan duration, out string error), error);
        Assert.Equal(ticks, duration.Ticks);
    }

    [Theory]
    [InlineData("", "time: invalid duration \"\"")]
    [InlineData("abc", "time: invalid duration \"abc\"")]
    [InlineData("5", "time: missing unit in duration \"5\"")]
    [InlineData("-5", "time: missing unit in duration \"-5\"")]
    [InlineData("5d", "time: unknown unit \"d\" in duration \"5d\"")]
    [InlineData(".s", "time: invalid duration \".s\"")]
    [InlineData("9999999999h", "time: invalid duration \"9999999999h\"")]
    public void BadDurationsFailWithGosMessages(string text, string message)
    {
        Assert.False(GoSyntax.TryParseDuration(text, out _, out string error));
        Assert.Equal(message, error);
    }

    [Theory]
    [InlineData(0L, "0s")]
    [InlineData(1L, "1ns")]
    [InlineData(1_500L, "1.5µs")]
    [InlineData(100_000_000L, "100ms")]
    [InlineData(1_000_000_000L, "1s")]
    [InlineData(1_500_000_000L, "1.5s")]
    [InlineData(90_000_000_000L, "1m30s")]
    [InlineData(600_000_000_000L, "10m0s")]
    [InlineData(7_200_000_000_000L, "2h0m0s")]
    [InlineData(3_600_500_000_000L, "1h0m0.5s")]
    [InlineData(-1_500_000_000L, "-1.5s")]
    public void DurationsFormatAsGosDurationString(long nanoseconds, string text)
    {
        Assert.Equal(text, GoDurationText.FormatNanoseconds(nanoseconds));
    }

    [Theory]
    [InlineData("0", 0UL)]
    [InlineData("42", 42UL)]
    [InlineData("0x2A", 42UL)]
    [InlineData("0o52", 42UL)]
    [InlineData("052", 42UL)]
    [InlineData("0b101010", 42UL)]
    [InlineData("4_2", 42UL)]
    [InlineData("0x_2a", 42UL)]
    [InlineData("18446744073709551615", ulong.MaxValue)]
    public void UnsignedNumbersUseBaseZero(string text, ulong expected)
    {
        Assert.Equal(GoNumberError.None, GoSyntax.ParseUnsigned(text, 64, out ulong value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("", "Syntax")]
    [InlineData("-1", "Syntax")]
    [InlineData("0x", "Syntax")]
    [InlineData("08", "Syntax")]
    [InlineData("_42", "Syntax")]
    [InlineData("4__2", "Syntax")]
    [InlineData("42_", "Syntax")]
    [InlineData("18446744073709551616", "Range")]
    public void BadUnsignedNumbersFailAsInGo(string text, string expected)
    {
        Assert.Equal(expected, GoSyntax.ParseUnsigned(text, 64, out _).ToString());
    }

    [Fact]
    public void SignedNumbersHaveGosRange()
    {
        Assert.Equal(GoNumberError.None, GoSyntax.ParseSigned("-9223372036854775808", 64, out long min));
        Assert.Equal(long.MinValue, min);
        Assert.Equal(GoNumberError.Range, GoSyntax.ParseSigned("9223372036854775808", 64, out _));
        Assert.Equal(GoNumberError.Syntax, GoSyntax.ParseSigned("--1", 64, out _));
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("t", true)]
    [InlineData("TRUE", true)]
    [InlineData("True", true)]
    [InlineData("0", false)]
    [InlineData("F", false)]
    [InlineData("false", false)]
    public void BooleansAreGosParseBool(string text, bool expected)
    {
        Assert.True(GoSyntax.TryParseBool(text, out bool value));
        Assert.Equal(expected, value);
        Assert.False(GoSyntax.TryParseBool("yes", out _));
        Assert.False(GoSyntax.TryParseBool("tRUE", out _));
    }

    [Theory]
    [InlineData("http://127.0.0.1:2379", "http", "127.0.0.1", "2379")]
    [InlineData("HTTPS://Example.com:443", "https", "Example.com", "443")]
    [InlineData("http://[::1]:2379", "http", "::1", "2379")]
    [InlineData(" http://localhost:2380 ", "http", "localhost", "2380")]
    [InlineData("unix://localhost:12345", "unix", "localhost", "12345")]
    [InlineData("http://user:pw@host:1", "http", "host", "1")]
    public void UrlsParseAsEtcdReadsThem(string text, string scheme, string host, string port)
    {
        Assert.True(EtcdUrl.TryParse(text, out EtcdUrl? url, out string error), error);
        Assert.Equal(scheme, url!.Scheme);
        Assert.Equal(host, url.Host);
        Assert.Equal(port, url.Port);
        Assert.StartsWith(scheme + "://", url.ToString());
    }
}
