using System.Runtime.CompilerServices;

namespace Dotcd.Raft.Tests.InteractionHarness;

/// <summary>Where the scripts are: the copies next to the test assembly, and their sources in the repository.</summary>
public static class ScriptLocations
{
    public const string ScriptFolder = "Interaction";

    // The source folder relative to the repository root.
    private static readonly string s_sourceRelative = Path.Combine("tests", "Dotcd.Raft.Tests", ScriptFolder);

    /// <summary>The copies the build puts beside the test assembly (the csproj copies Interaction/**/*.txt).</summary>
    public static string OutputDirectory => Path.Combine(AppContext.BaseDirectory, ScriptFolder);

    /// <summary>Script paths relative to the script folder, with '/' separators, in ordinal order.</summary>
    public static IReadOnlyList<string> Scripts(string directory) =>
        Directory.EnumerateFiles(directory, "*.txt", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(directory, p).Replace(Path.DirectorySeparatorChar, '/'))
            .OrderBy(p => p, StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// The scripts' source folder, for rewrite mode. Walks up from the test assembly and from the
    /// working directory; a build with its own --artifacts-path puts the assembly outside the
    /// repository, so the compile-time path of this file is the last resort.
    /// </summary>
    public static string SourceDirectory() => FindSourceDirectory()
        ?? throw new DirectoryNotFoundException(
            $"cannot find the repository's {s_sourceRelative} from {AppContext.BaseDirectory} or {Environment.CurrentDirectory}");

    private static string? FindSourceDirectory([CallerFilePath] string thisFile = "")
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, s_sourceRelative);
                if (Directory.Exists(candidate)) return candidate;
            }
        }
        // thisFile is .../tests/Dotcd.Raft.Tests/InteractionHarness/ScriptLocations.cs.
        string? projectDir = Path.GetDirectoryName(Path.GetDirectoryName(thisFile));
        if (projectDir is not null)
        {
            string candidate = Path.Combine(projectDir, ScriptFolder);
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}
