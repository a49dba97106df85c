using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Dotcd.Storage.IO;

/// <summary>The few POSIX calls .NET does not expose: fdatasync, fallocate, and fsync of a directory.</summary>
/// <remarks>
/// A failed fsync is never retried: after an error the kernel may already have dropped the dirty
/// pages, so a later "successful" fsync would lie (the 2018 "fsyncgate"). Callers treat any
/// exception from here as fatal for the file they were writing.
/// </remarks>
internal static partial class Native
{
    private const int EINTR = 4;
    private const int EOPNOTSUPP = 95;
    private const int ENOSYS = 38;
    private const int O_RDONLY = 0;

    /// <summary>Makes the file's data (and the metadata needed to read it back, such as its size) durable.</summary>
    public static void DataSync(SafeFileHandle file, string path)
    {
        int rc;
        do
        {
            rc = OperatingSystem.IsLinux() ? FDataSync(file) : FSync(file);
        }
        while (rc != 0 && Marshal.GetLastPInvokeError() == EINTR);
        if (rc != 0) throw Error("fdatasync", path);
    }

    /// <summary>Makes a directory's entries durable (a created, renamed or deleted file).</summary>
    public static void SyncDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) return; // NTFS journals directory changes; there is no directory fsync.
        int fd = Open(path, O_RDONLY);
        if (fd < 0) throw Error("open", path);
        try
        {
            int rc;
            do
            {
                rc = FSyncFd(fd);
            }
            while (rc != 0 && Marshal.GetLastPInvokeError() == EINTR);
            if (rc != 0) throw Error("fsync", path);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>
    /// Sets the file's length to size with its blocks allocated up front (zero-filled, unwritten
    /// extents), so appends do not allocate and a crash never leaves stale bytes in the tail.
    /// Falls back to a plain (sparse) SetLength where fallocate is not supported.
    /// </summary>
    public static void Preallocate(SafeFileHandle file, string path, long size)
    {
        long current = RandomAccess.GetLength(file);
        if (current >= size) return;
        if (OperatingSystem.IsLinux())
        {
            int rc;
            do
            {
                rc = FAllocate(file, 0, current, size - current);
            }
            while (rc != 0 && Marshal.GetLastPInvokeError() == EINTR);
            if (rc == 0) return;
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EOPNOTSUPP && errno != ENOSYS) throw Error("fallocate", path);
        }
        RandomAccess.SetLength(file, size);
    }

    private static IOException Error(string call, string path)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(SafeFileHandle fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(SafeFileHandle fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSyncFd(int fd);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int FAllocate(SafeFileHandle fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
