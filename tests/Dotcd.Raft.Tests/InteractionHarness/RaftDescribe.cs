using System.Globalization;
using System.Text;

namespace Dotcd.Raft.Tests.InteractionHarness;

/// <summary>
/// Stable one-line descriptions of Raft values for the interaction scripts, modelled on etcd's
/// DescribeReady/DescribeMessage (raft/util.go) so that etcd's testdata reads the same way.
/// Ids print in decimal (etcd prints hex).
/// </summary>
public static class RaftDescribe
{
    // Ready MustSync=true:
    // Lead:1 State:StateLeader                      <- SoftState, when set
    // HardState Term:1 Vote:1 Commit:4              <- when not empty
    // ReadStates:                                   <- one line per ReadState
    // Index:5 RequestCtx:"r1"
    // Entries:                                      <- one line per entry
    // 1/4 EntryConfChangeV2 v2 v3
    // Snapshot Index:4 Term:1 ConfState:Voters:[1 2 3] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false
    // CommittedEntries:
    // 1/4 EntryConfChangeV2 v2 v3
    // Messages:
    // 1->2 MsgApp Term:1 Log:1/3 Commit:4 Entries:[1/4 EntryConfChangeV2 v2 v3]
    public static string Ready(Ready rd)
    {
        var sb = new StringBuilder();
        if (rd.SoftState is { } ss) sb.Append(SoftState(ss)).Append('\n');
        if (!rd.HardState.IsEmpty) sb.Append("HardState ").Append(HardState(rd.HardState)).Append('\n');
        if (rd.ReadStates.Count > 0)
        {
            sb.Append("ReadStates:\n");
            foreach (ReadState rs in rd.ReadStates)
                sb.Append($"Index:{rs.Index} RequestCtx:{Quote(rs.RequestContext.Span)}\n");
        }
        if (rd.Entries.Count > 0) sb.Append("Entries:\n").Append(Entries(rd.Entries));
        if (rd.Snapshot is { IsEmpty: false } snap) sb.Append("Snapshot ").Append(Snapshot(snap)).Append('\n');
        if (rd.CommittedEntries.Count > 0) sb.Append("CommittedEntries:\n").Append(Entries(rd.CommittedEntries));
        if (rd.Messages.Count > 0)
        {
            sb.Append("Messages:\n");
            foreach (Message m in rd.Messages) sb.Append(Message(m)).Append('\n');
        }
        return sb.Length == 0 ? "<empty Ready>\n" : $"Ready MustSync={(rd.MustSync ? "true" : "false")}:\n{sb}";
    }

    // 1->2 MsgApp Term:1 Log:1/3 Rejected (Hint: 2) Commit:3 Entries:[1/4 EntryNormal "foo"] Snapshot: Index:.. Context:"ctx"
    public static string Message(Message m)
    {
        var sb = new StringBuilder();
        sb.Append($"{m.From}->{m.To} {m.Type} Term:{m.Term} Log:{m.LogTerm}/{m.Index}");
        if (m.Reject) sb.Append($" Rejected (Hint: {m.RejectHint})");
        if (m.Commit != 0) sb.Append($" Commit:{m.Commit}");
        if (m.Entries.Count > 0)
        {
            sb.Append(" Entries:[");
            for (int i = 0; i < m.Entries.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                sb.Append(Entry(m.Entries[i]));
            }
            sb.Append(']');
        }
        if (m.Snapshot is { IsEmpty: false } snap) sb.Append(" Snapshot: ").Append(Snapshot(snap));
        // etcd does not print the context; it tells read-index requests and transfer votes apart.
        if (!m.Context.IsEmpty) sb.Append(" Context:").Append(Quote(m.Context.Span));
        return sb.ToString();
    }

    // 1/4 EntryNormal "foo" | 1/5 EntryConfChange v2 | 1/6 EntryConfChangeV2 v2 l3 r4 transition=explicit
    public static string Entry(Entry e)
    {
        string formatted;
        switch (e.Type)
        {
            case EntryType.Normal:
                formatted = Quote(e.Data.Span);
                break;
            case EntryType.ConfChange or EntryType.ConfChangeV2:
                try
                {
                    ConfChangeV2 cc = ConfChangeCodec.Decode(e.Type, e.Data.Span).AsV2();
                    formatted = ConfChanges(cc.Changes);
                    if (e.Type == EntryType.ConfChangeV2 && cc.Transition != ConfChangeTransition.Auto)
                        formatted += (formatted.Length > 0 ? " " : "") + "transition=" + TransitionName(cc.Transition);
                }
                catch (FormatException ex)
                {
                    formatted = "undecodable: " + ex.Message;
                }
                break;
            default:
                formatted = $"unknown type {(int)e.Type}";
                break;
        }
        return $"{e.Term}/{e.Index} Entry{e.Type}" + (formatted.Length > 0 ? " " + formatted : "");
    }

    public static string Entries(IEnumerable<Entry> entries)
    {
        var sb = new StringBuilder();
        foreach (Entry e in entries) sb.Append(Entry(e)).Append('\n');
        return sb.ToString();
    }

    // Term:1 Vote:1 Commit:4 (Vote left out when 0)
    public static string HardState(HardState hs) =>
        hs.Vote != 0 ? $"Term:{hs.Term} Vote:{hs.Vote} Commit:{hs.Commit}" : $"Term:{hs.Term} Commit:{hs.Commit}";

    public static string SoftState(SoftState ss) => $"Lead:{ss.Lead} State:{StateName(ss.RaftState)}";

    public static string StateName(StateType state) => "State" + state;

    public static string ConfState(ConfState cs) =>
        $"Voters:{Ids(cs.Voters)} VotersOutgoing:{Ids(cs.VotersOutgoing)} Learners:{Ids(cs.Learners)} " +
        $"LearnersNext:{Ids(cs.LearnersNext)} AutoLeave:{(cs.AutoLeave ? "true" : "false")}";

    public static string Snapshot(Snapshot s) =>
        $"Index:{s.Metadata.Index} Term:{s.Metadata.Term} ConfState:{ConfState(s.Metadata.ConfState)}";

    // StateReplicate match=5 next=6 learner paused pendingSnap=4 inactive inflight=2[full]  (etcd's Progress.String)
    public static string Progress(ProgressStatus pr)
    {
        var sb = new StringBuilder();
        sb.Append($"State{pr.State} match={pr.Match} next={pr.Next}");
        if (pr.IsLearner) sb.Append(" learner");
        if (pr.MsgAppFlowPaused) sb.Append(" paused");
        if (pr.PendingSnapshot > 0) sb.Append($" pendingSnap={pr.PendingSnapshot}");
        if (!pr.RecentActive) sb.Append(" inactive");
        if (pr.InflightCount > 0)
        {
            sb.Append($" inflight={pr.InflightCount}");
            if (pr.InflightsFull) sb.Append("[full]");
        }
        return sb.ToString();
    }

    /// <summary>etcd's conf change string: v2 (add voter) l3 (add learner) r4 (remove) u5 (update).</summary>
    public static string ConfChanges(IReadOnlyList<ConfChangeSingle> changes) =>
        string.Join(" ", changes.Select(c => c.Type switch
        {
            ConfChangeType.AddNode => "v",
            ConfChangeType.AddLearnerNode => "l",
            ConfChangeType.RemoveNode => "r",
            ConfChangeType.UpdateNode => "u",
            _ => "unknown",
        } + c.NodeId.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Parses "v2 l3 r4 u5" (etcd's ConfChangesFromString); empty text gives no changes.</summary>
    public static IReadOnlyList<ConfChangeSingle> ParseConfChanges(string text)
    {
        var changes = new List<ConfChangeSingle>();
        foreach (string token in text.Split([' ', '\n', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries))
        {
            ConfChangeType type = token[0] switch
            {
                'v' => ConfChangeType.AddNode,
                'l' => ConfChangeType.AddLearnerNode,
                'r' => ConfChangeType.RemoveNode,
                'u' => ConfChangeType.UpdateNode,
                _ => throw new FormatException($"unknown conf change token '{token}' (want v<id>, l<id>, r<id> or u<id>)"),
            };
            if (token.Length < 2 || !ulong.TryParse(token.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong id))
                throw new FormatException($"conf change token '{token}' has no node id");
            changes.Add(new ConfChangeSingle(type, id));
        }
        return changes;
    }

    public static string TransitionName(ConfChangeTransition t) => t switch
    {
        ConfChangeTransition.Auto => "auto",
        ConfChangeTransition.JointImplicit => "implicit",
        ConfChangeTransition.JointExplicit => "explicit",
        _ => ((int)t).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Go's %q for bytes, ASCII only: printable characters as is, the rest escaped.</summary>
    public static string Quote(ReadOnlySpan<byte> data)
    {
        var sb = new StringBuilder(data.Length + 2);
        sb.Append('"');
        foreach (byte b in data)
        {
            switch (b)
            {
                case (byte)'"': sb.Append("\\\""); break;
                case (byte)'\\': sb.Append("\\\\"); break;
                case (byte)'\n': sb.Append("\\n"); break;
                case (byte)'\r': sb.Append("\\r"); break;
                case (byte)'\t': sb.Append("\\t"); break;
                case >= 0x20 and < 0x7f: sb.Append((char)b); break;
                default: sb.Append($"\\x{b:x2}"); break;
            }
        }
        return sb.Append('"').ToString();
    }

    private static string Ids(IReadOnlyList<ulong> ids) => "[" + string.Join(" ", ids) + "]";
}
