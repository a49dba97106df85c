using System.Globalization;

namespace Dotcd.Storage.WalFiles;

/// <summary>A segment file's name: "%016x-%016x.wal", its sequence number and the raft index it starts at.</summary>
/// <remarks>
/// FirstIndex is one past the last entry written before the segment was started. A later entry may
/// still carry a smaller index (a conflicting tail replaced by a new leader), so names only bound
/// where the entries after a snapshot can be: in the last segment whose FirstIndex is at or below
/// the snapshot's index, or later ones.
/// </remarks>
internal readonly record struct WalSegmentName(ulong Seq, ulong FirstIndex)
{
    private const int NameLength = 16 + 1 + 16 + 4;

    public string FileName => $"{Seq:x16}-{FirstIndex:x16}.wal";

    public static bool TryParse(string fileName, out WalSegmentName name)
    {
        name = default;
        if (fileName.Length != NameLength || fileName[16] != '-' || !fileName.EndsWith(".wal", StringComparison.Ordinal)) return false;
        if (!ulong.TryParse(fileName.AsSpan(0, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong seq)) return false;
        if (!ulong.TryParse(fileName.AsSpan(17, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong index)) return false;
        name = new WalSegmentName(seq, index);
        return true;
    }

    /// <summary>The segments in dir by ascending sequence number; other files are ignored.</summary>
    public static List<WalSegmentName> List(string dir)
    {
        var names = new List<WalSegmentName>();
        if (!Directory.Exists(dir)) return names;
        foreach (string path in Directory.EnumerateFiles(dir, "*.wal"))
        {
            if (TryParse(Path.GetFileName(path), out WalSegmentName name)) names.Add(name);
        }
        names.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        return names;
    }

    /// <summary>Throws unless the sequence numbers are consecutive: a missing middle segment loses records.</summary>
    public static void CheckConsecutive(string dir, List<WalSegmentName> names)
    {
        for (int i = 1; i < names.Count; i++)
        {
            if (names[i].Seq != names[i - 1].Seq + 1)
            {
                throw new WalCorruptException(Path.Combine(dir, names[i].FileName), 0,
                    $"segment sequence jumps from {names[i - 1].Seq:x16} to {names[i].Seq:x16}: a segment is missing");
            }
        }
    }
}
