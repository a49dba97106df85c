namespace Dotcd.Interop.Tests.Harness;

/// <summary>
/// etcdctl's `-w table` output parsed into a header and rows of trimmed cells:
/// <code>
/// +----------+---------+
/// |    ID    | STATUS  |
/// +----------+---------+
/// | 8e9e05c5 | started |
/// +----------+---------+
/// </code>
/// </summary>
public sealed class EtcdctlTable
{
    private EtcdctlTable(IReadOnlyList<string> header, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        Header = header;
        Rows = rows;
    }

    public IReadOnlyList<string> Header { get; }

    public IReadOnlyList<IReadOnlyList<string>> Rows { get; }

    /// <summary>The cell of a row under a header (e.g. "IS LEADER").</summary>
    public string Cell(int row, string column)
    {
        int index = Header.ToList().IndexOf(column);
        if (index < 0)
        {
            throw new KeyNotFoundException($"no column '{column}' in [{string.Join(", ", Header)}]");
        }

        return Rows[row][index];
    }

    public static EtcdctlTable Parse(string text)
    {
        var lines = text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith('|')).ToList();
        if (lines.Count == 0)
        {
            throw new FormatException($"no table in:\n{text}");
        }

        static List<string> Cells(string line) => [.. line.Trim('|').Split('|').Select(c => c.Trim())];
        List<string> header = Cells(lines[0]);
        var rows = lines.Skip(1).Select(l => (IReadOnlyList<string>)Cells(l)).ToList();
        foreach (IReadOnlyList<string> row in rows)
        {
            if (row.Count != header.Count)
            {
                throw new FormatException($"row has {row.Count} cells, header has {header.Count}:\n{text}");
            }
        }

        return new EtcdctlTable(header, rows);
    }
}
