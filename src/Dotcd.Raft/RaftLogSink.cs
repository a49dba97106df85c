using System.Runtime.CompilerServices;

namespace Dotcd.Raft;

/// <summary>
/// The core's door to RaftConfig.Logger. Messages are interpolated strings that are only built when
/// the level is enabled, so hot paths pay nothing for Debug lines nobody reads.
/// </summary>
internal sealed class RaftLogSink(IRaftLogger logger)
{
    public IRaftLogger Logger { get; } = logger;

    public bool IsEnabled(RaftLogLevel level) => Logger.IsEnabled(level);

    public void Log(RaftLogLevel level, [InterpolatedStringHandlerArgument("", "level")] ref LogMessageHandler message)
    {
        if (message.Enabled) Logger.Log(level, message.ToStringAndClear());
    }

    /// <summary>etcd's Panicf: logs at Error and returns the exception for the caller to throw.</summary>
    public RaftInvariantException Panic(string message)
    {
        if (Logger.IsEnabled(RaftLogLevel.Error)) Logger.Log(RaftLogLevel.Error, message);
        return new RaftInvariantException(message);
    }

    [InterpolatedStringHandler]
    public ref struct LogMessageHandler
    {
        private DefaultInterpolatedStringHandler _inner;

        public LogMessageHandler(int literalLength, int formattedCount, RaftLogSink sink, RaftLogLevel level, out bool enabled)
        {
            Enabled = enabled = sink.Logger.IsEnabled(level);
            _inner = enabled ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
        }

        public bool Enabled { get; }

        public void AppendLiteral(string value) => _inner.AppendLiteral(value);

        public void AppendFormatted<T>(T value) => _inner.AppendFormatted(value);

        public void AppendFormatted<T>(T value, string? format) => _inner.AppendFormatted(value, format);

        public void AppendFormatted(string? value) => _inner.AppendFormatted(value);

        public string ToStringAndClear() => _inner.ToStringAndClear();
    }
}
