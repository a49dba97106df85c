namespace Dotcd.Logging;

/// <summary>zap's levels, in zap's order; etcd's --log-level takes their lower-case names.</summary>
public enum LogLevel
{
    Debug = -1,
    Info = 0,
    Warn = 1,
    Error = 2,
    DPanic = 3,
    Panic = 4,
    Fatal = 5,
}

/// <summary>Names of <see cref="LogLevel"/> as etcd's flags and zap's JSON lines spell them.</summary>
public static class LogLevels
{
    /// <summary>Parses a --log-level value: debug, info, warn, error, dpanic, panic or fatal (case-sensitive, as etcd).</summary>
    public static bool TryParse(string text, out LogLevel level)
    {
        switch (text)
        {
            case "debug": level = LogLevel.Debug; return true;
            case "info": level = LogLevel.Info; return true;
            case "warn": level = LogLevel.Warn; return true;
            case "error": level = LogLevel.Error; return true;
            case "dpanic": level = LogLevel.DPanic; return true;
            case "panic": level = LogLevel.Panic; return true;
            case "fatal": level = LogLevel.Fatal; return true;
            default: level = LogLevel.Info; return false;
        }
    }

    /// <summary>The lower-case name written in the "level" field.</summary>
    public static string Name(LogLevel level) => level switch
    {
        LogLevel.Debug => "debug",
        LogLevel.Info => "info",
        LogLevel.Warn => "warn",
        LogLevel.Error => "error",
        LogLevel.DPanic => "dpanic",
        LogLevel.Panic => "panic",
        LogLevel.Fatal => "fatal",
        _ => throw new ArgumentOutOfRangeException(nameof(level), level, null),
    };

    internal static ReadOnlySpan<byte> Utf8Name(LogLevel level) => level switch
    {
        LogLevel.Debug => "debug"u8,
        LogLevel.Info => "info"u8,
        LogLevel.Warn => "warn"u8,
        LogLevel.Error => "error"u8,
        LogLevel.DPanic => "dpanic"u8,
        LogLevel.Panic => "panic"u8,
        LogLevel.Fatal => "fatal"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(level), level, null),
    };
}
