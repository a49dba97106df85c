namespace Dotcd.Api.Tests;

/// <summary>A test that reads a file from etcd's Go sources; skipped, saying so, where they are not installed.</summary>
/// <remarks>xunit 2 decides skipping when it discovers the test, so the check runs here.</remarks>
internal sealed class GoSourceFactAttribute : FactAttribute
{
    public GoSourceFactAttribute(string relativePath)
    {
        string path = Path.Combine(GoProtoFile.EtcdRoot, relativePath);
        if (!File.Exists(path))
        {
            Skip = $"{path} is absent: install the Debian package golang-etcd-server-dev to check the wire contract against etcd's own .proto files.";
        }
    }
}
