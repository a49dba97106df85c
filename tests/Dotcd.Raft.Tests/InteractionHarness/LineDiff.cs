using System.Text;

namespace Dotcd.Raft.Tests.InteractionHarness;

/// <summary>A unified line diff (as `diff -u` prints it), so that a failing script shows what changed.</summary>
public static class LineDiff
{
    /// <summary>Hunks of "-expected" / "+actual" lines with the given lines of context; "" when equal.</summary>
    public static string Unified(string expected, string actual, int context = 3)
    {
        string[] a = SplitLines(expected);
        string[] b = SplitLines(actual);
        List<(char Op, string Text, int ALine, int BLine)> ops = Diff(a, b);
        if (ops.TrueForAll(o => o.Op == ' ')) return "";

        var sb = new StringBuilder();
        int i = 0;
        while (i < ops.Count)
        {
            if (ops[i].Op == ' ')
            {
                i++;
                continue;
            }
            // A hunk spans changes closer than 2*context lines apart, plus context on each side.
            int start = Math.Max(0, i - context);
            int end = i;
            int lastChange = i;
            while (end < ops.Count && (ops[end].Op != ' ' || end - lastChange <= 2 * context))
            {
                if (ops[end].Op != ' ') lastChange = end;
                end++;
            }
            end = Math.Min(ops.Count, lastChange + context + 1);

            int aStart = ops[start].ALine, bStart = ops[start].BLine, aCount = 0, bCount = 0;
            for (int k = start; k < end; k++)
            {
                if (ops[k].Op != '+') aCount++;
                if (ops[k].Op != '-') bCount++;
            }
            sb.Append($"@@ -{aStart + (aCount > 0 ? 1 : 0)},{aCount} +{bStart + (bCount > 0 ? 1 : 0)},{bCount} @@\n");
            for (int k = start; k < end; k++) sb.Append(ops[k].Op).Append(ops[k].Text).Append('\n');
            i = end;
        }
        return sb.ToString();
    }

    // Longest common subsequence over lines; outputs are a few hundred lines, so O(n*m) is fine.
    private static List<(char Op, string Text, int ALine, int BLine)> Diff(string[] a, string[] b)
    {
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (int x = a.Length - 1; x >= 0; x--)
        {
            for (int y = b.Length - 1; y >= 0; y--)
            {
                lcs[x, y] = a[x] == b[y] ? lcs[x + 1, y + 1] + 1 : Math.Max(lcs[x + 1, y], lcs[x, y + 1]);
            }
        }

        var ops = new List<(char, string, int, int)>();
        int i = 0, j = 0;
        while (i < a.Length || j < b.Length)
        {
            if (i < a.Length && j < b.Length && a[i] == b[j])
            {
                ops.Add((' ', a[i], i, j));
                i++;
                j++;
            }
            else if (j < b.Length && (i == a.Length || lcs[i, j + 1] > lcs[i + 1, j]))
            {
                ops.Add(('+', b[j], i, j));
                j++;
            }
            else
            {
                ops.Add(('-', a[i], i, j));
                i++;
            }
        }
        return ops;
    }

    private static string[] SplitLines(string text)
    {
        if (text.Length == 0) return [];
        string body = text.EndsWith('\n') ? text[..^1] : text;
        return body.Split('\n');
    }
}
