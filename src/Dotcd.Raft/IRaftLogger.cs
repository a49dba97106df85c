namespace Dotcd.Raft;

public enum RaftLogLevel
{
    Debug = 0,
    Info = 1,
    Warning = 2,
    Error = 3,
}

/// <summary>Where the core writes what it decides (role changes, rejections, conf changes).</summary>
public interface IRaftLogger
{
    bool IsEnabled(RaftLogLevel level);

    void Log(RaftLogLevel level, string message);
}

public sealed class NullRaftLogger : IRaftLogger
{
    public static readonly NullRaftLogger Instance = new();

    public bool IsEnabled(RaftLogLevel level) => false;

    public void Log(RaftLogLevel level, string message) { }
}
