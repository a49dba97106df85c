using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Dotcd.Configuration;

namespace Dotcd.Host.Tests;

/// <summary>A clock that stands still unless told to move, in a chosen time zone.</summary>
internal sealed class FakeTime : TimeProvider
{
    private readonly TimeZoneInfo _zone;
    private DateTimeOffset _now;

    public FakeTime(DateTimeOffset now, TimeZoneInfo? zone = null)
    {
        _now = now;
        _zone = zone ?? TimeZoneInfo.Utc;
    }

    public override TimeZoneInfo LocalTimeZone => _zone;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

/// <summary>What one in-process run of the dotcd executable produced.</summary>
internal sealed record HostRun(int ExitCode, string StandardOutput, string StandardError)
{
    public static readonly DateTimeOffset Epoch = new(2026, 11, 21, 23, 59, 59, 123, TimeSpan.Zero);

    public static HostRun Of(string[] args, Dictionary<string, string>? environment = null, TimeProvider? time = null)
    {
        using var output = new MemoryStream();
        using var error = new MemoryStream();
        int exit = DotcdHost.Run(args, environment ?? [], output, error, time ?? new FakeTime(Epoch));
        return new HostRun(exit, Encoding.UTF8.GetString(output.ToArray()), Encoding.UTF8.GetString(error.ToArray()));
    }

    /// <summary>The stderr lines that are JSON log lines, parsed.</summary>
    public IReadOnlyList<JsonElement> LogLines => StandardError
        .Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Where(line => line.StartsWith('{'))
        .Select(line => JsonDocument.Parse(line).RootElement.Clone())
        .ToList();

    public JsonElement LogLine(string message) => LogLines.Single(l => l.GetProperty("msg").GetString() == message);

    /// <summary>The "error" of etcd's "failed to verify flags" line.</summary>
    public string VerifyError => LogLine("failed to verify flags").GetProperty("error").GetString()!;
}

internal static class Load
{
    public static ConfigLoadResult Of(params string[] args) => ConfigLoader.Load(args, new Dictionary<string, string>());

    public static ConfigLoadResult With(Dictionary<string, string> environment, params string[] args) => ConfigLoader.Load(args, environment);

    /// <summary>Loads and insists on a valid configuration.</summary>
    public static MemberConfig Config(params string[] args) => ConfigWith(new Dictionary<string, string>(), args);

    public static MemberConfig ConfigWith(Dictionary<string, string> environment, params string[] args)
    {
        ConfigLoadResult result = ConfigLoader.Load(args, environment);
        Assert.True(result.Outcome == LoadOutcome.Run, $"{result.Outcome}: {result.Message}");
        return result.Config!;
    }

    public static string Urls(ImmutableArray<EtcdUrl> urls) => string.Join(",", urls);
}

/// <summary>A temporary directory removed after the test.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dotcd-host-" + Guid.NewGuid().ToString("N"));

    public string File(string name, string content)
    {
        string path = System.IO.Path.Combine(Path, name);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
