using Dotcd.Raft;

namespace Dotcd.Storage.Tests;

/// <summary>A fresh directory under /tmp, deleted with everything in it on Dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dotcd-storage-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

/// <summary>Keeps every log line so tests can assert what was reported.</summary>
internal sealed class RecordingLog : IStorageLog
{
    private readonly List<(StorageLogLevel Level, string Message, string Fields)> _lines = [];

    public IReadOnlyList<(StorageLogLevel Level, string Message, string Fields)> Lines
    {
        get
        {
            lock (_lines) return _lines.ToArray();
        }
    }

    public void Write(StorageLogLevel level, string message, params ReadOnlySpan<(string Key, object? Value)> fields)
    {
        var text = string.Join(" ", fields.ToArray().Select(f => $"{f.Key}={f.Value}"));
        lock (_lines) _lines.Add((level, message, text));
    }

    public bool Has(StorageLogLevel level, string fragment) =>
        Lines.Any(l => l.Level == level && l.Message.Contains(fragment, StringComparison.Ordinal));

    public void Clear()
    {
        lock (_lines) _lines.Clear();
    }
}

internal static class Entries
{
    /// <summary>Entries [first, last] at term, each with data that names it (so a mix-up shows).</summary>
    public static Entry[] Range(ulong first, ulong last, ulong term, int dataBytes = 24)
    {
        var entries = new Entry[last - first + 1];
        for (ulong i = first; i <= last; i++)
        {
            entries[i - first] = Make(i, term, dataBytes);
        }
        return entries;
    }

    public static Entry Make(ulong index, ulong term, int dataBytes = 24)
    {
        var data = new byte[dataBytes];
        for (int k = 0; k < data.Length; k++) data[k] = (byte)(index * 31 + term * 7 + (ulong)k + 1);
        return new Entry(term, index, EntryType.Normal, data);
    }

    public static void AssertEqual(IReadOnlyList<Entry> expected, IReadOnlyList<Entry> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) AssertEqual(expected[i], actual[i]);
    }

    public static void AssertEqual(Entry expected, Entry actual)
    {
        Assert.Equal(expected.Index, actual.Index);
        Assert.Equal(expected.Term, actual.Term);
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(expected.Data.ToArray(), actual.Data.ToArray());
    }
}
