using System.Reflection;
using System.Runtime.InteropServices;

namespace Dotcd;

/// <summary>What --version prints, in etcd's layout ("etcd Version: ...", "Git SHA: ...").</summary>
internal static class VersionInfo
{
    /// <summary>
    /// The etcd release whose API dotcd speaks. Clients and the Kubernetes API server switch
    /// features on by this number (below 3.5.13 they turn watch-progress features off).
    /// </summary>
    public const string EtcdCompatibleVersion = "3.6.0";

    /// <summary>dotcd's own version (the assembly's informational version without the commit).</summary>
    public static string DotcdVersion { get; } = InformationalVersion().Split('+')[0];

    /// <summary>The commit the build came from (the SDK appends it to the informational version), or etcd's wording when unknown.</summary>
    public static string GitSha { get; } = InformationalVersion().Split('+') is [_, string sha, ..] && sha.Length > 0
        ? sha[..Math.Min(sha.Length, 12)]
        : "Not provided";

    public static string DotnetVersion { get; } = Environment.Version.ToString();

    /// <summary>The operating system in Go's words ("linux", "darwin", "windows").</summary>
    public static string OperatingSystem { get; } =
        RuntimeInformation.IsOSPlatform(OSPlatform.Linux) ? "linux"
        : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "darwin"
        : RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "windows"
        : RuntimeInformation.OSDescription;

    /// <summary>The architecture in Go's words ("amd64", "arm64").</summary>
    public static string Architecture { get; } = RuntimeInformation.ProcessArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        var other => other.ToString().ToLowerInvariant(),
    };

    /// <summary>The --version text.</summary>
    public static string Text { get; } =
        $"dotcd Version: {DotcdVersion}\n" +
        $"etcd Version: {EtcdCompatibleVersion}\n" +
        $"Git SHA: {GitSha}\n" +
        $".NET Version: {DotnetVersion}\n" +
        $".NET OS/Arch: {OperatingSystem}/{Architecture}\n";

    private static string InformationalVersion() =>
        typeof(VersionInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(VersionInfo).Assembly.GetName().Version?.ToString()
        ?? "0.0.0";
}
