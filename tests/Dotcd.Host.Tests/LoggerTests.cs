using System.Text;
using System.Text.Json;
using Dotcd.Logging;

namespace Dotcd.Host.Tests;

public sealed class LoggerTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 23, 59, 59, 123, TimeSpan.Zero);

    private static (Logger Log, MemoryStream Output) NewLogger(LogLevel level = LogLevel.Info, TimeProvider? time = null)
    {
        var output = new MemoryStream();
        var log = new Logger(level, time ?? new FakeTime(Now.AddTicks(9_999)), [new LogOutput("stderr", output, ownsStream: false)]);
        return (log, output);
    }

    private static string[] Lines(MemoryStream output) =>
        Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void ALineIsEtcdsZapJsonWithKeysInZapsOrder()
    {
        (Logger log, MemoryStream output) = NewLogger();

        log.Info("configuring peer listeners", LogField.Strings("listen-peer-urls", ["http://localhost:2380"]));

        string line = Assert.Single(Lines(output));
        Assert.Matches(
            "^\\{\"level\":\"info\",\"ts\":\"2026-11-21T23:59:59.123Z\",\"caller\":\"Dotcd.Host.Tests/LoggerTests.cs:[0-9]+\",\"msg\":\"configuring peer listeners\",\"listen-peer-urls\":\\[\"http://localhost:2380\"\\]\\}$",
            line);
    }

    [Fact]
    public void TheTimestampIsLocalTimeWithGosOffsetLayout()
    {
        var zone = TimeZoneInfo.CreateCustomTimeZone("plus-one", TimeSpan.FromHours(1), "plus-one", "plus-one");
        var west = TimeZoneInfo.CreateCustomTimeZone("minus-five-thirty", TimeSpan.FromMinutes(-330), "w", "w");
        (Logger east, MemoryStream eastOutput) = NewLogger(time: new FakeTime(Now, zone));
        (Logger other, MemoryStream westOutput) = NewLogger(time: new FakeTime(Now, west));

        east.Info("x");
        other.Info("x");

        Assert.Equal("2026-11-22T00:59:59.123+0100", JsonDocument.Parse(Lines(eastOutput)[0]).RootElement.GetProperty("ts").GetString());
        Assert.Equal("2026-11-21T18:29:59.123-0530", JsonDocument.Parse(Lines(westOutput)[0]).RootElement.GetProperty("ts").GetString());
    }

    [Fact]
    public void TimeComesFromTheInjectedClock()
    {
        var time = new FakeTime(Now);
        (Logger log, MemoryStream output) = NewLogger(time: time);

        log.Info("first");
        time.Advance(TimeSpan.FromMilliseconds(1500.7));
        log.Info("second");

        string[] stamps = [.. Lines(output).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("ts").GetString()!)];
        Assert.Equal(["2026-11-21T23:59:59.123Z", "2026-11-22T00:00:00.623Z"], stamps);
    }

    [Fact]
    public void LevelsBelowTheMinimumAreDropped()
    {
        (Logger log, MemoryStream output) = NewLogger(LogLevel.Warn);

        log.Debug("d");
        log.Info("i");
        log.Warn("w");
        log.Error("e");
        log.Log(LogLevel.Fatal, "f", []);

        string[] levels = [.. Lines(output).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("level").GetString()!)];
        Assert.Equal(["warn", "error", "fatal"], levels);
        Assert.False(log.IsEnabled(LogLevel.Info));
        Assert.True(log.IsEnabled(LogLevel.Warn));
    }

    [Fact]
    public void ADisabledLevelDoesNotReadTheClockOrFormatFields()
    {
        var clock = new CountingTime();
        var output = new MemoryStream();
        var log = new Logger(LogLevel.Error, clock, [new LogOutput("stderr", output, ownsStream: false)]);
        var expensive = new CountingStringer();

        log.Info("skipped", LogField.Stringer("value", expensive), LogField.Strings("list", [expensive]));

        Assert.Equal(0, clock.Reads);
        Assert.Equal(0, expensive.Calls);
        Assert.Equal(0, output.Length);
    }

    [Fact]
    public void EveryFieldKindIsWrittenAsZapWritesIt()
    {
        (Logger log, MemoryStream output) = NewLogger();

        log.Log(LogLevel.Info, "fields",
        [
            LogField.String("s", "v"),
            LogField.Int64("i", -5),
            LogField.UInt64("u", ulong.MaxValue),
            LogField.Double("d", 1.5),
            LogField.Double("nan", double.NaN),
            LogField.Bool("b", true),
            LogField.Duration("dur", TimeSpan.FromSeconds(90)),
            LogField.Duration("ms", TimeSpan.FromMilliseconds(100)),
            LogField.Error(new InvalidOperationException("boom")),
            LogField.Stringer("obj", new Uri("http://x:1")),
            LogField.Strings("empty", []),
        ]);

        JsonElement line = JsonDocument.Parse(Lines(output)[0]).RootElement;
        Assert.Equal("v", line.GetProperty("s").GetString());
        Assert.Equal(-5, line.GetProperty("i").GetInt64());
        Assert.Equal(ulong.MaxValue, line.GetProperty("u").GetUInt64());
        Assert.Equal(1.5, line.GetProperty("d").GetDouble());
        Assert.Equal("NaN", line.GetProperty("nan").GetString());
        Assert.True(line.GetProperty("b").GetBoolean());
        Assert.Equal("1m30s", line.GetProperty("dur").GetString());
        Assert.Equal("100ms", line.GetProperty("ms").GetString());
        Assert.Equal("boom", line.GetProperty("error").GetString());
        Assert.Equal("http://x:1/", line.GetProperty("obj").GetString());
        Assert.Equal(0, line.GetProperty("empty").GetArrayLength());
    }

    [Fact]
    public void StringsAreEscapedLikeZapAndStayValidJson()
    {
        (Logger log, MemoryStream output) = NewLogger();
        string nasty = "quote\" backslash\\ newline\n tab\t bell\u0007 é 日本 <&>";

        log.Info(nasty, LogField.String("k\"ey", nasty));

        string line = Lines(output)[0];
        Assert.Contains("\\u0007", line);
        Assert.Contains("é 日本 <&>", line);
        JsonElement parsed = JsonDocument.Parse(line).RootElement;
        Assert.Equal(nasty, parsed.GetProperty("msg").GetString());
        Assert.Equal(nasty, parsed.GetProperty("k\"ey").GetString());
    }

    [Fact]
    public void WithAddsFieldsBeforeTheCallsOwn()
    {
        (Logger log, MemoryStream output) = NewLogger();

        log.With(LogField.String("local-member-id", "8e9e05c52164694d")).Info("started", LogField.Int64("term", 2));

        Assert.EndsWith("\"msg\":\"started\",\"local-member-id\":\"8e9e05c52164694d\",\"term\":2}", Lines(output)[0]);
    }

    [Fact]
    public void ConcurrentWritersNeverInterleaveLines()
    {
        (Logger log, MemoryStream output) = NewLogger();
        string payload = new('x', 3000);

        Parallel.For(0, 8, worker =>
        {
            for (int i = 0; i < 200; i++)
            {
                log.Info("line", LogField.Int64("worker", worker), LogField.Int64("i", i), LogField.String("payload", payload));
            }
        });

        string[] lines = Lines(output);
        Assert.Equal(1600, lines.Length);
        Assert.All(lines, line => Assert.Equal(payload, JsonDocument.Parse(line).RootElement.GetProperty("payload").GetString()));
    }

    [Fact]
    public void DefaultGoesToStderrAndFilesAppend()
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "a.log");
        File.WriteAllText(file, "earlier\n");
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();

        using (Logger log = Logger.Create(LogLevel.Info, ["default"], TimeProvider.System, stdout, stderr))
        {
            log.Info("to stderr");
        }

        using (Logger log = Logger.Create(LogLevel.Info, [file, "stdout", file], TimeProvider.System, stdout, stderr))
        {
            log.Info("to both");
        }

        Assert.Equal(2, Lines(stderr).Length + Lines(stdout).Length);
        string[] fileLines = File.ReadAllLines(file);
        Assert.Equal("earlier", fileLines[0]);
        Assert.Contains("to both", fileLines[1]);
        Assert.Equal(2, fileLines.Length);
    }

    [Fact]
    public void DevNullDiscardsEverything()
    {
        var stderr = new MemoryStream();

        using Logger log = Logger.Create(LogLevel.Info, ["stderr", "/dev/null"], TimeProvider.System, new MemoryStream(), stderr);
        log.Error("gone");

        Assert.Equal(0, stderr.Length);
    }

    [Fact]
    public void DefaultCannotBeCombinedWithOtherOutputs()
    {
        var error = Assert.Throws<LogOutputException>(() => Logger.Create(LogLevel.Info, ["stdout", "default"], TimeProvider.System, Stream.Null, Stream.Null));

        Assert.Equal("multi logoutput for \"default\" is not supported yet", error.Message);
    }

    [Fact]
    public void AFailingOutputDoesNotStopTheOthers()
    {
        var broken = new MemoryStream();
        broken.Dispose();
        var good = new MemoryStream();
        var log = new Logger(LogLevel.Info, TimeProvider.System, [new LogOutput("a", broken, false), new LogOutput("b", good, false)]);

        log.Info("still written");

        Assert.Single(Lines(good));
    }

    [Fact]
    public void LevelNamesAreEtcds()
    {
        foreach (string name in (string[])["debug", "info", "warn", "error", "dpanic", "panic", "fatal"])
        {
            Assert.True(LogLevels.TryParse(name, out LogLevel level));
            Assert.Equal(name, LogLevels.Name(level));
        }

        Assert.False(LogLevels.TryParse("INFO", out _));
        Assert.False(LogLevels.TryParse("warning", out _));
    }

    private sealed class CountingTime : TimeProvider
    {
        public int Reads { get; private set; }

        public override DateTimeOffset GetUtcNow()
        {
            Reads++;
            return Now;
        }
    }

    private sealed class CountingStringer
    {
        public int Calls { get; private set; }

        public override string ToString()
        {
            Calls++;
            return "expensive";
        }
    }
}
