using System.Runtime.CompilerServices;

namespace Dotcd.Logging;

/// <summary>
/// Structured logger writing etcd's zap JSON lines (see <see cref="LogLineEncoder"/>).
/// Thread-safe; each line reaches each output in one write under one lock, so lines never
/// interleave. A disabled level costs one comparison: no clock read, no formatting, no
/// allocation (fields are structs passed by reference). Time comes only from the injected
/// <see cref="TimeProvider"/>, in its local zone.
/// </summary>
/// <example>
/// <code>
/// log.Info("configuring peer listeners", LogField.Strings("listen-peer-urls", config.ListenPeerUrls));
/// </code>
/// </example>
public sealed class Logger : IDisposable
{
    [ThreadStatic]
    private static LogLineEncoder? t_encoder; // Taken while a line is built, so re-entrant logging gets its own.

    private readonly LogLevel _level;
    private readonly TimeProvider _time;
    private readonly Sinks _sinks; // Shared by this logger and every logger made from it by With.
    private readonly LogField[] _context;

    /// <summary>Logs lines at <paramref name="level"/> and above to the given outputs.</summary>
    public Logger(LogLevel level, TimeProvider time, IReadOnlyList<LogOutput> outputs)
        : this(level, time, new Sinks(outputs), [])
    {
    }

    private Logger(LogLevel level, TimeProvider time, Sinks sinks, LogField[] context)
    {
        _level = level;
        _time = time;
        _sinks = sinks;
        _context = context;
    }

    /// <summary>
    /// A logger configured as etcd configures zap from --log-level and --log-outputs.
    /// </summary>
    /// <exception cref="LogOutputException">An output cannot be opened (etcd's "open sink" error).</exception>
    public static Logger Create(LogLevel level, IReadOnlyList<string> outputs, TimeProvider time, Stream standardOutput, Stream standardError) =>
        new(level, time, LogOutputs.Open(outputs, standardOutput, standardError));

    /// <summary>A logger that writes nothing.</summary>
    public static Logger Discard(TimeProvider? time = null) => new(LogLevel.Fatal + 1, time ?? TimeProvider.System, []);

    /// <summary>The lowest level written.</summary>
    public LogLevel Level => _level;

    /// <summary>True when lines at <paramref name="level"/> are written; check it before building costly fields.</summary>
    public bool IsEnabled(LogLevel level) => level >= _level;

    /// <summary>A logger that adds <paramref name="fields"/> to every line, before the call's own (zap's With).</summary>
    public Logger With(params ReadOnlySpan<LogField> fields)
    {
        var context = new LogField[_context.Length + fields.Length];
        _context.CopyTo(context, 0);
        fields.CopyTo(context.AsSpan(_context.Length));
        return new Logger(_level, _time, _sinks, context);
    }

    /// <summary>Logs at debug level with up to eight fields (more: <see cref="Log"/>).</summary>
    public void Debug(
        string message,
        in LogField f0 = default, in LogField f1 = default, in LogField f2 = default, in LogField f3 = default,
        in LogField f4 = default, in LogField f5 = default, in LogField f6 = default, in LogField f7 = default,
        [CallerFilePath] string callerFile = "", [CallerLineNumber] int callerLine = 0)
    {
        if (LogLevel.Debug >= _level)
        {
            Write(LogLevel.Debug, message, [f0, f1, f2, f3, f4, f5, f6, f7], callerFile, callerLine);
        }
    }

    /// <summary>Logs at info level with up to eight fields.</summary>
    public void Info(
        string message,
        in LogField f0 = default, in LogField f1 = default, in LogField f2 = default, in LogField f3 = default,
        in LogField f4 = default, in LogField f5 = default, in LogField f6 = default, in LogField f7 = default,
        [CallerFilePath] string callerFile = "", [CallerLineNumber] int callerLine = 0)
    {
        if (LogLevel.Info >= _level)
        {
            Write(LogLevel.Info, message, [f0, f1, f2, f3, f4, f5, f6, f7], callerFile, callerLine);
        }
    }

    /// <summary>Logs at warn level with up to eight fields.</summary>
    public void Warn(
        string message,
        in LogField f0 = default, in LogField f1 = default, in LogField f2 = default, in LogField f3 = default,
        in LogField f4 = default, in LogField f5 = default, in LogField f6 = default, in LogField f7 = default,
        [CallerFilePath] string callerFile = "", [CallerLineNumber] int callerLine = 0)
    {
        if (LogLevel.Warn >= _level)
        {
            Write(LogLevel.Warn, message, [f0, f1, f2, f3, f4, f5, f6, f7], callerFile, callerLine);
        }
    }

    /// <summary>Logs at error level with up to eight fields.</summary>
    public void Error(
        string message,
        in LogField f0 = default, in LogField f1 = default, in LogField f2 = default, in LogField f3 = default,
        in LogField f4 = default, in LogField f5 = default, in LogField f6 = default, in LogField f7 = default,
        [CallerFilePath] string callerFile = "", [CallerLineNumber] int callerLine = 0)
    {
        if (LogLevel.Error >= _level)
        {
            Write(LogLevel.Error, message, [f0, f1, f2, f3, f4, f5, f6, f7], callerFile, callerLine);
        }
    }

    /// <summary>Any level, any number of fields: <c>log.Log(LogLevel.Info, "msg", [a, b, ...])</c>.</summary>
    public void Log(
        LogLevel level,
        string message,
        ReadOnlySpan<LogField> fields,
        [CallerFilePath] string callerFile = "",
        [CallerLineNumber] int callerLine = 0)
    {
        if (level >= _level)
        {
            Write(level, message, fields, callerFile, callerLine);
        }
    }

    /// <summary>Closes the files this logger opened; standard output and error stay open.</summary>
    public void Dispose() => _sinks.Dispose();

    private void Write(LogLevel level, string message, ReadOnlySpan<LogField> fields, string callerFile, int callerLine)
    {
        LogLineEncoder encoder = t_encoder ?? new LogLineEncoder();
        t_encoder = null;
        try
        {
            DateTimeOffset now = _time.GetUtcNow();
            DateTimeOffset local = TimeZoneInfo.ConvertTime(now, _time.LocalTimeZone);
            encoder.Encode(level, local, callerFile, callerLine, message, _context, fields);
            _sinks.Write(encoder.Line);
        }
        finally
        {
            t_encoder = encoder;
        }
    }

    private sealed class Sinks : IDisposable
    {
        private readonly Lock _gate = new();
        private readonly IReadOnlyList<LogOutput> _outputs;
        private bool _disposed; // Guarded by _gate; after Dispose lines are dropped, never thrown.

        public Sinks(IReadOnlyList<LogOutput> outputs) => _outputs = outputs;

        public void Write(ReadOnlySpan<byte> line)
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                foreach (LogOutput output in _outputs)
                {
                    try
                    {
                        output.Stream.Write(line);
                        output.Stream.Flush();
                    }
                    catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
                    {
                        // A closed pipe or full disk must not take the member down with it; the
                        // line is lost for this output only, as zap's write errors are.
                    }
                }
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                foreach (LogOutput output in _outputs)
                {
                    output.Dispose();
                }
            }
        }
    }
}
