using Dotcd.Raft.Confchange;
using Dotcd.Raft.Tracker;

namespace Dotcd.Raft.Tests.Confchange;

// Runs a confchange script in etcd's datadriven format:
//
//   # comment
//   <command> [autoleave=true|false]
//   <tokens, optional>
//   ----
//   <expected output up to the next blank line>
//
// Starts from an empty tracker (MaxInflight 10) and LastIndex 0; each successful change is installed.
internal static class ConfChangeScript
{
    public static void Run(string script)
    {
        var tracker = new ProgressTracker(maxInflight: 10);
        ulong lastIndex = 0;
        string[] lines = script.Replace("\r\n", "\n").Split('\n');
        int i = 0;
        while (i < lines.Length)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                i++;
                continue;
            }

            int commandLine = i + 1;
            string command = line;
            var input = new List<string>();
            for (i++; lines[i].Trim() != "----"; i++)
            {
                input.Add(lines[i].Trim());
            }
            var expected = new List<string>();
            for (i++; i < lines.Length && lines[i].Trim().Length > 0; i++)
            {
                expected.Add(lines[i].Trim());
            }

            string actual = Execute(tracker, lastIndex, command, string.Join(' ', input));
            lastIndex++;
            Assert.True(string.Join('\n', expected) == actual,
                $"script line {commandLine} '{command} {string.Join(' ', input)}':\nexpected:\n{string.Join('\n', expected)}\nactual:\n{actual}");
        }
    }

    private static string Execute(ProgressTracker tracker, ulong lastIndex, string commandLine, string input)
    {
        string[] words = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var changes = ParseChanges(input);
        var changer = new Changer(tracker, lastIndex);
        try
        {
            var (config, progress) = words[0] switch
            {
                "simple" => changer.Simple(changes),
                "enter-joint" => changer.EnterJoint(words.Contains("autoleave=true"), changes),
                "leave-joint" when changes.Count == 0 => changer.LeaveJoint(),
                _ => throw new InvalidOperationException($"bad script command '{commandLine}' with input '{input}'"),
            };
            tracker.Config = config;
            tracker.Progress = progress;
            return (config + "\n" + progress).TrimEnd('\n');
        }
        catch (ConfChangeException e)
        {
            return e.Message;
        }
    }

    public static List<ConfChangeSingle> ParseChanges(string input)
    {
        var changes = new List<ConfChangeSingle>();
        foreach (string token in input.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var type = token[0] switch
            {
                'v' => ConfChangeType.AddNode,
                'l' => ConfChangeType.AddLearnerNode,
                'r' => ConfChangeType.RemoveNode,
                'u' => ConfChangeType.UpdateNode,
                _ => throw new InvalidOperationException($"bad script token '{token}'"),
            };
            changes.Add(new ConfChangeSingle(type, ulong.Parse(token.AsSpan(1))));
        }
        return changes;
    }
}
