using System.Text;

namespace Dotcd.Raft.Tests.Harness;

/// <summary>Builders for the messages and entries tests step into a node directly.</summary>
public static class Msg
{
    public static ReadOnlyMemory<byte> Bytes(string s) => Encoding.UTF8.GetBytes(s);

    public static string Text(ReadOnlyMemory<byte> data) => Encoding.UTF8.GetString(data.Span);

    public static Entry Ent(ulong term, ulong index, string data = "") => new(term, index, EntryType.Normal, Bytes(data));

    public static Message Vote(ulong from, ulong to, ulong term, ulong lastLogTerm, ulong lastIndex) =>
        new() { Type = MessageType.MsgVote, From = from, To = to, Term = term, LogTerm = lastLogTerm, Index = lastIndex };

    public static Message App(ulong from, ulong to, ulong term, ulong prevLogTerm, ulong prevIndex, ulong commit, params Entry[] entries) =>
        new() { Type = MessageType.MsgApp, From = from, To = to, Term = term, LogTerm = prevLogTerm, Index = prevIndex, Commit = commit, Entries = entries };

    public static Message Heartbeat(ulong from, ulong to, ulong term, ulong commit = 0) =>
        new() { Type = MessageType.MsgHeartbeat, From = from, To = to, Term = term, Commit = commit };

    public static string Describe(IEnumerable<Message> messages) => string.Join("\n", messages);
}
