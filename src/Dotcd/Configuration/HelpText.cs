using System.Text;

namespace Dotcd.Configuration;

/// <summary>
/// dotcd's --help in etcd's layout: the usage block (which etcd writes to stderr, also after a
/// flag error) and the flag list (stdout), rendered from <see cref="EtcdFlags"/>.
/// </summary>
internal static class HelpText
{
    public const string NotYetNote = "    (not supported by dotcd yet)";

    public static string Usage { get; } = string.Join('\n',
    [
        "Usage:",
        "",
        "  dotcd [flags]",
        "    Start a dotcd server.",
        "",
        "  dotcd --version",
        "    Show the version of dotcd.",
        "",
        "  dotcd -h | --help",
        "    Show the help information about dotcd.",
        "",
        "  dotcd --config-file",
        "    Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.",
        "",
        "  dotcd gateway",
        "    Run the stateless pass-through etcd TCP connection forwarding proxy.",
        NotYetNote,
        "",
        "  dotcd grpc-proxy",
        "    Run the stateless etcd v3 gRPC L7 reverse proxy.",
        NotYetNote,
        "",
    ]);

    public static string Flags { get; } = RenderFlags();

    private static string RenderFlags()
    {
        var text = new StringBuilder();
        text.Append('\n');
        foreach (string section in EtcdFlags.Sections)
        {
            if (section == "TO BE DEPRECATED")
            {
                // etcd puts a caution after the unsafe flags and a blank line under this heading.
                text.Append("CAUTIOUS with unsafe flag! It may break the guarantees given by the consensus protocol!\n\n");
                text.Append(section).Append(":\n\n");
            }
            else
            {
                text.Append(section).Append(":\n");
            }

            foreach (FlagSpec flag in EtcdFlags.All)
            {
                if (flag.Section != section || flag.Hidden)
                {
                    continue;
                }

                text.Append("  --").Append(flag.Name).Append(' ').Append(flag.HelpDefault).Append('\n');
                foreach (string line in flag.Description)
                {
                    text.Append("    ").Append(line).Append('\n');
                }

                if (flag.Support == FlagSupport.NotYet)
                {
                    text.Append(NotYetNote).Append('\n');
                }
            }

            text.Append('\n');
        }

        return text.ToString();
    }
}
