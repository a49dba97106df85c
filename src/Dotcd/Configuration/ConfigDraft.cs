using System.Collections.Immutable;
using System.Globalization;
using Dotcd.Logging;

namespace Dotcd.Configuration;

/// <summary>
/// The configuration while it is being read, in etcd's own shapes (milliseconds as integers,
/// states and modes as strings), so that etcd's validation and messages apply unchanged.
/// <see cref="Validate"/> then <see cref="Build"/> turn it into a <see cref="MemberConfig"/>.
/// </summary>
internal sealed class ConfigDraft
{
    public const string DefaultInitialCluster = "default=http://localhost:2380";

    public string Name = "default";
    public string DataDir = "";
    public string WalDir = "";
    public ulong SnapshotCount = 100_000;
    public ulong HeartbeatMilliseconds = 100;
    public ulong ElectionMilliseconds = 1000;
    public ImmutableArray<EtcdUrl> ListenPeerUrls = EtcdUrl.ParseList("http://localhost:2380");
    public ImmutableArray<EtcdUrl> ListenClientUrls = EtcdUrl.ParseList("http://localhost:2379");
    public ImmutableArray<EtcdUrl> AdvertisePeerUrls = EtcdUrl.ParseList("http://localhost:2380");
    public ImmutableArray<EtcdUrl>? AdvertiseClientUrls = EtcdUrl.ParseList("http://localhost:2379"); // null: dropped because --listen-client-urls was set alone.
    public string InitialCluster = DefaultInitialCluster;
    public string InitialClusterState = "new";
    public string InitialClusterToken = "etcd-cluster";
    public long QuotaBackendBytes;
    public ulong MaxRequestBytes = 1_572_864;
    public ulong MaxTxnOps = 128;
    public string AutoCompactionMode = "periodic";
    public string AutoCompactionRetention = "0";
    public string CertFile = "";
    public string KeyFile = "";
    public string TrustedCaFile = "";
    public bool ClientCertAuth;
    public bool AutoTls;
    public string Logger = "zap";
    public string LogLevel = "info";
    public ImmutableArray<string> LogOutputs = [Logging.LogOutputs.Default];
    public TimeSpan WatchProgressNotifyInterval = TimeSpan.FromMinutes(10);
    public bool EnableLeaseCheckpoint;
    public string ConfigFile = "";

    /// <summary>
    /// etcd's Config.Validate plus the checks etcd makes when the server starts
    /// (compaction retention, initial cluster), with etcd's messages. Null when valid.
    /// </summary>
    public string? Validate()
    {
        switch (Logger)
        {
            case "zap":
                break;
            default:
                return $"unknown logger option \"{Logger}\"";
        }

        if (!LogLevels.TryParse(LogLevel, out _))
        {
            return $"unknown level \"{LogLevel}\"";
        }

        string? outputs = Logging.LogOutputs.Validate(LogOutputs.IsEmpty ? [Logging.LogOutputs.Default] : LogOutputs);
        if (outputs is not null)
        {
            return outputs;
        }

        string? bind = CheckBindUrls(ListenPeerUrls) ?? CheckBindUrls(ListenClientUrls);
        if (bind is not null)
        {
            return bind;
        }

        string? host = CheckHostUrls(AdvertisePeerUrls);
        if (host is not null)
        {
            return $"--initial-advertise-peer-urls \"{string.Join(",", AdvertisePeerUrls)}\" must be \"host:port\" ({host})";
        }

        host = AdvertiseClientUrls is { } advertised ? CheckHostUrls(advertised) : null;
        if (host is not null)
        {
            return $"--advertise-client-urls \"{string.Join(",", AdvertiseClientUrls!.Value)}\" must be \"host:port\" ({host})";
        }

        if (InitialClusterState is not ("new" or "existing"))
        {
            return $"unexpected clusterState \"{InitialClusterState}\"";
        }

        if (HeartbeatMilliseconds == 0)
        {
            return $"--heartbeat-interval must be >0 (set to {HeartbeatMilliseconds}ms)";
        }

        if (ElectionMilliseconds == 0)
        {
            return $"--election-timeout must be >0 (set to {ElectionMilliseconds}ms)";
        }

        if (5 * (System.Numerics.BigInteger)HeartbeatMilliseconds > ElectionMilliseconds)
        {
            return $"--election-timeout[{ElectionMilliseconds}ms] should be at least as 5 times as --heartbeat-interval[{HeartbeatMilliseconds}ms]";
        }

        if (ElectionMilliseconds > MemberConfig.MaxElectionTimeoutMilliseconds)
        {
            return $"--election-timeout[{ElectionMilliseconds}ms] is too long, and should be set less than {MemberConfig.MaxElectionTimeoutMilliseconds}ms";
        }

        if (AdvertiseClientUrls is null)
        {
            return UnsetAdvertiseClientUrls;
        }

        if (AutoCompactionMode is not ("periodic" or "revision"))
        {
            return $"unknown auto-compaction-mode \"{AutoCompactionMode}\"";
        }

        string? retention = ParseRetention(out _, out _);
        if (retention is not null)
        {
            return retention;
        }

        if (MaxRequestBytes > long.MaxValue)
        {
            return $"--max-request-bytes {MaxRequestBytes} is too large";
        }

        return ValidateInitialCluster(out _);
    }

    /// <summary>etcd's ErrUnsetAdvertiseClientURLsFlag.</summary>
    public const string UnsetAdvertiseClientUrls = "--advertise-client-urls is required when --listen-client-urls is set explicitly";

    /// <summary>The validated draft as a <see cref="MemberConfig"/>; call <see cref="Validate"/> first.</summary>
    public MemberConfig Build()
    {
        string? error = Validate();
        if (error is not null)
        {
            throw new InvalidOperationException("Build needs a valid draft: " + error);
        }

        ParseRetention(out TimeSpan period, out long revisions);
        ValidateInitialCluster(out ImmutableSortedDictionary<string, ImmutableArray<EtcdUrl>> members);
        LogLevels.TryParse(LogLevel, out LogLevel level);
        return new MemberConfig
        {
            Name = Name,
            DataDir = DataDir,
            WalDir = WalDir,
            // Beyond long.MaxValue committed entries a snapshot never comes anyway.
            SnapshotCount = (long)Math.Min(SnapshotCount, long.MaxValue),
            HeartbeatInterval = Milliseconds(HeartbeatMilliseconds),
            ElectionTimeout = Milliseconds(ElectionMilliseconds),
            ListenPeerUrls = ListenPeerUrls,
            ListenClientUrls = ListenClientUrls,
            InitialAdvertisePeerUrls = AdvertisePeerUrls,
            AdvertiseClientUrls = AdvertiseClientUrls!.Value,
            InitialCluster = InitialCluster,
            InitialClusterMembers = members,
            InitialClusterState = InitialClusterState == "existing" ? Configuration.InitialClusterState.Existing : Configuration.InitialClusterState.New,
            InitialClusterToken = InitialClusterToken,
            QuotaBackendBytes = QuotaBackendBytes,
            MaxRequestBytes = (long)MaxRequestBytes,
            MaxTxnOps = (long)Math.Min(MaxTxnOps, long.MaxValue),
            AutoCompactionMode = AutoCompactionMode == "revision" ? Configuration.AutoCompactionMode.Revision : Configuration.AutoCompactionMode.Periodic,
            AutoCompactionRetention = AutoCompactionRetention,
            AutoCompactionRetentionPeriod = period,
            AutoCompactionRetentionRevisions = revisions,
            ClientTransportSecurity = new TransportSecurity
            {
                CertFile = CertFile,
                KeyFile = KeyFile,
                TrustedCaFile = TrustedCaFile,
                ClientCertAuth = ClientCertAuth,
                AutoTls = AutoTls,
            },
            Logger = Logger,
            LogLevel = level,
            LogOutputs = LogOutputs.IsEmpty ? [Logging.LogOutputs.Default] : LogOutputs,
            WatchProgressNotifyInterval = WatchProgressNotifyInterval,
            EnableLeaseCheckpoint = EnableLeaseCheckpoint,
            ConfigFile = ConfigFile,
        };
    }

    // Milliseconds beyond TimeSpan's range only pass validation for the heartbeat, whose
    // election timeout would then fail first; saturate rather than throw.
    private static TimeSpan Milliseconds(ulong value) =>
        value >= (ulong)(TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMillisecond) ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(value);

    // Listeners bind: the host must be an IP literal or "localhost" (unix sockets excepted).
    private static string? CheckBindUrls(ImmutableArray<EtcdUrl> urls)
    {
        foreach (EtcdUrl url in urls)
        {
            if (url.Scheme is "unix" or "unixs" || url.Host == "localhost")
            {
                continue;
            }

            if (!url.HostIsIpAddress)
            {
                return $"expected IP in URL for binding ({url})";
            }
        }

        return null;
    }

    // Advertised URLs are dialled by others: the host must not be empty.
    private static string? CheckHostUrls(ImmutableArray<EtcdUrl> urls)
    {
        foreach (EtcdUrl url in urls)
        {
            if (url.Host.Length == 0)
            {
                return $"unexpected empty host ({url})";
            }
        }

        return null;
    }

    // etcd: an integer is hours in periodic mode and a revision count in revision mode;
    // anything else is a Go duration. dotcd also refuses a duration in revision mode, where
    // etcd would silently read its nanoseconds as a number of revisions.
    private string? ParseRetention(out TimeSpan period, out long revisions)
    {
        period = TimeSpan.Zero;
        revisions = 0;
        string text = AutoCompactionRetention.Length == 0 ? "0" : AutoCompactionRetention;
        bool isInteger = long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long integer) && integer >= 0;
        if (AutoCompactionMode == "revision")
        {
            if (!isInteger)
            {
                return $"error parsing CompactionRetention: revision mode needs a non-negative integer number of revisions, got \"{text}\"";
            }

            revisions = integer;
            return null;
        }

        if (isInteger)
        {
            if (integer > TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerHour)
            {
                return $"error parsing CompactionRetention: {text} hours is too long";
            }

            period = TimeSpan.FromHours(integer);
            return null;
        }

        if (!GoSyntax.TryParseDuration(text, out period, out string error))
        {
            return "error parsing CompactionRetention: " + error;
        }

        return null;
    }

    // What etcd checks when it bootstraps a member from --initial-cluster: it parses, holds
    // this member's name, lists exactly its advertised peer URLs, and repeats no URL.
    private string? ValidateInitialCluster(out ImmutableSortedDictionary<string, ImmutableArray<EtcdUrl>> members)
    {
        members = ImmutableSortedDictionary<string, ImmutableArray<EtcdUrl>>.Empty.WithComparers(StringComparer.Ordinal);
        var byName = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (string pair in InitialCluster.Split(','))
        {
            if (pair.Length == 0)
            {
                continue;
            }

            int equals = pair.IndexOf('=');
            string name = equals < 0 ? pair : pair[..equals];
            string url = equals < 0 ? "" : pair[(equals + 1)..];
            if (!byName.TryGetValue(name, out List<string>? urls))
            {
                byName[name] = urls = [];
            }

            urls.Add(url);
        }

        var builder = ImmutableSortedDictionary.CreateBuilder<string, ImmutableArray<EtcdUrl>>(StringComparer.Ordinal);
        foreach ((string name, List<string> urls) in byName)
        {
            var parsed = new List<EtcdUrl>();
            foreach (string url in urls)
            {
                if (!EtcdUrl.TryParse(url, out EtcdUrl? one, out string error))
                {
                    return "error setting up initial cluster: " + error;
                }

                parsed.Add(one!);
            }

            builder[name] = [.. parsed.OrderBy(u => u.ToString(), StringComparer.Ordinal)];
        }

        members = builder.ToImmutable();
        if (!members.TryGetValue(Name, out ImmutableArray<EtcdUrl> mine))
        {
            return $"couldn't find local name \"{Name}\" in the initial cluster configuration";
        }

        if (InitialClusterState == "new")
        {
            var listed = mine.Select(u => u.ToString()).ToHashSet(StringComparer.Ordinal);
            var advertised = AdvertisePeerUrls.Select(u => u.ToString()).ToHashSet(StringComparer.Ordinal);
            string advertisedText = string.Join(",", AdvertisePeerUrls.Select(u => u.ToString()).Order(StringComparer.Ordinal));
            string[] missing = [.. listed.Where(u => !advertised.Contains(u)).Order(StringComparer.Ordinal)];
            if (missing.Length > 0)
            {
                string listedText = string.Join(",", missing.Select(u => Name + "=" + u));
                return $"--initial-cluster has {listedText} but missing from --initial-advertise-peer-urls={advertisedText} " +
                    $"(resolved urls: \"{advertisedText}\" != \"{string.Join(",", mine)}\")";
            }

            missing = [.. advertised.Where(u => !listed.Contains(u)).Order(StringComparer.Ordinal)];
            if (missing.Length > 0)
            {
                string cluster = string.Join(",", AdvertisePeerUrls.Select(u => Name + "=" + u).Order(StringComparer.Ordinal));
                return $"--initial-advertise-peer-urls has {string.Join(",", missing)} but missing from --initial-cluster={cluster}";
            }
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (ImmutableArray<EtcdUrl> urls in members.Values)
        {
            foreach (EtcdUrl url in urls)
            {
                if (!seen.Add(url.ToString()))
                {
                    string cluster = string.Join(",", members.SelectMany(m => m.Value.Select(u => m.Key + "=" + u)).Order(StringComparer.Ordinal));
                    return $"initial cluster {cluster} has duplicate url";
                }
            }
        }

        return null;
    }
}
