namespace Dotcd.Interop.Tests.Harness;

/// <summary>
/// Finds the dotcd executable. The test project references src/Dotcd only so that the build
/// copies dotcd.dll (with its runtimeconfig) beside the tests; DOTCD_EXECUTABLE overrides that
/// (a .dll runs under `dotnet`, anything else runs directly).
/// </summary>
internal static class DotcdExecutable
{
    public static (string FileName, string? FirstArgument) Command()
    {
        string? configured = Environment.GetEnvironmentVariable("DOTCD_EXECUTABLE");
        string path = configured ?? Path.Combine(AppContext.BaseDirectory, "dotcd.dll");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"dotcd executable not found at {path}; build src/Dotcd or set DOTCD_EXECUTABLE", path);
        }

        if (!path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            return (path, null);
        }

        // The SDK sets DOTNET_HOST_PATH for the test host; it is the muxer the tests run under.
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : "dotnet";
        return (dotnet, path);
    }
}
