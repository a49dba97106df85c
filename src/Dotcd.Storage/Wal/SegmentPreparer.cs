using Dotcd.Storage.IO;
using Microsoft.Win32.SafeHandles;

namespace Dotcd.Storage.WalFiles;

/// <summary>
/// Allocates the next segment file before it is needed (etcd's file pipeline), so a rollover does not
/// wait for fallocate. The file is "0.tmp" or "1.tmp" in the WAL directory, preallocated to the
/// segment size and locked; rollover writes its head records, fsyncs it and renames it into place.
/// A ".tmp" file is never a segment: Open deletes leftovers.
/// </summary>
internal sealed class SegmentPreparer(string dir, long sizeBytes, bool background) : IDisposable
{
    private int _count;
    private Task<SafeFileHandle>? _pending; // The file being (or already) allocated; null when idle.
    private string? _pendingPath;

    public bool Idle => _pending is null;

    /// <summary>Starts allocating the next file unless one is already under way.</summary>
    public void Start()
    {
        if (_pending is not null) return;
        string path = Path.Combine(dir, $"{_count++ % 2}.tmp");
        _pendingPath = path;
        if (background)
        {
            _pending = Task.Run(() => Allocate(path, sizeBytes));
            return;
        }
        try
        {
            _pending = Task.FromResult(Allocate(path, sizeBytes));
        }
        catch (Exception e)
        {
            _pending = Task.FromException<SafeFileHandle>(e);
        }
    }

    /// <summary>Hands over the allocated file (waiting for it if need be); its allocation error, if any, is thrown here.</summary>
    public (SafeFileHandle Handle, string Path) Take()
    {
        Start();
        Task<SafeFileHandle> pending = _pending!;
        string path = _pendingPath!;
        _pending = null;
        _pendingPath = null;
        return (pending.GetAwaiter().GetResult(), path);
    }

    public void Dispose()
    {
        if (_pending is null) return;
        try
        {
            _pending.GetAwaiter().GetResult().Dispose();
            File.Delete(_pendingPath!);
        }
        catch (Exception)
        {
            // The allocation failed or the file is gone; there is nothing left to clean up, and Open
            // deletes stray .tmp files anyway.
        }
        _pending = null;
    }

    /// <summary>Deletes "N.tmp" files a crash left behind.</summary>
    public static void DeleteLeftovers(string dir)
    {
        foreach (string path in Directory.EnumerateFiles(dir, "*.tmp"))
        {
            string name = Path.GetFileNameWithoutExtension(path);
            if (name.Length > 0 && name.All(char.IsAsciiDigit)) File.Delete(path);
        }
    }

    private static SafeFileHandle Allocate(string path, long sizeBytes)
    {
        SafeFileHandle handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        try
        {
            Native.Preallocate(handle, path, sizeBytes);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }
}
