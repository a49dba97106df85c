namespace Dotcd.Logging;

/// <summary>
/// etcd's --log-outputs for the zap logger: "default" and "stderr" write to standard error,
/// "stdout" to standard output, anything else is a file path opened for appending; "/dev/null"
/// anywhere in the list discards everything. Duplicates are written once.
/// </summary>
public static class LogOutputs
{
    /// <summary>etcd's default output, which is standard error for zap.</summary>
    public const string Default = "default";

    public const string StandardError = "stderr";

    public const string StandardOutput = "stdout";

    /// <summary>Not supported by dotcd yet (journald's native protocol).</summary>
    public const string Journal = "systemd/journal";

    public const string DevNull = "/dev/null";

    /// <summary>etcd's checks on the list before anything is opened; null when it is valid.</summary>
    public static string? Validate(IReadOnlyList<string> outputs)
    {
        if (outputs.Count > 1 && outputs.Contains(Default))
        {
            return $"multi logoutput for \"{Default}\" is not supported yet";
        }

        return null;
    }

    /// <summary>
    /// Opens the outputs in etcd's order (sorted, duplicates merged). The caller owns the
    /// returned file streams; <paramref name="standardOutput"/> and
    /// <paramref name="standardError"/> are used as given.
    /// </summary>
    /// <exception cref="LogOutputException">A file could not be opened, or the list is invalid.</exception>
    public static IReadOnlyList<LogOutput> Open(IReadOnlyList<string> outputs, Stream standardOutput, Stream standardError)
    {
        if (outputs.Count == 0)
        {
            outputs = [Default];
        }

        string? invalid = Validate(outputs);
        if (invalid is not null)
        {
            throw new LogOutputException(invalid);
        }

        var paths = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string output in outputs)
        {
            paths.Add(output switch
            {
                Default => StandardError,
                _ => output,
            });
        }

        if (paths.Contains(DevNull))
        {
            return [];
        }

        var opened = new List<LogOutput>(paths.Count);
        try
        {
            foreach (string path in paths)
            {
                switch (path)
                {
                    case StandardError:
                        opened.Add(new LogOutput(path, standardError, ownsStream: false));
                        break;
                    case StandardOutput:
                        opened.Add(new LogOutput(path, standardOutput, ownsStream: false));
                        break;
                    case Journal:
                        throw new LogOutputException($"log output \"{Journal}\" is not supported yet");
                    default:
                        opened.Add(new LogOutput(path, OpenFile(path), ownsStream: true));
                        break;
                }
            }
        }
        catch
        {
            foreach (LogOutput output in opened)
            {
                output.Dispose();
            }

            throw;
        }

        return opened;
    }

    private static FileStream OpenFile(string path)
    {
        try
        {
            // Unbuffered: each line goes out in one write, so a crash loses no logged line.
            return new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new LogOutputException($"open sink \"{path}\": {e.Message}", e);
        }
    }
}

/// <summary>One place log lines go to.</summary>
public sealed class LogOutput : IDisposable
{
    private readonly bool _ownsStream;

    public LogOutput(string name, Stream stream, bool ownsStream)
    {
        Name = name;
        Stream = stream;
        _ownsStream = ownsStream;
    }

    /// <summary>"stderr", "stdout" or the file path.</summary>
    public string Name { get; }

    public Stream Stream { get; }

    public void Dispose()
    {
        if (_ownsStream)
        {
            Stream.Dispose();
        }
    }
}

/// <summary>A --log-outputs value that cannot be used; the message is etcd's where etcd has one.</summary>
public sealed class LogOutputException : Exception
{
    public LogOutputException(string message)
        : base(message)
    {
    }

    public LogOutputException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
