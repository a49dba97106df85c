using System.Collections.Immutable;
using System.Net;

namespace Dotcd.Configuration;

/// <summary>
/// A URL as etcd accepts it for listening and advertising: scheme http, https, unix or unixs,
/// an authority "host:port" and no path. <see cref="ToString"/> is Go's url.String(), which is
/// what etcd prints and compares (scheme lower-cased, the rest as given).
/// </summary>
public sealed record EtcdUrl
{
    private readonly string _text;

    private EtcdUrl(string scheme, string host, string port, string text)
    {
        Scheme = scheme;
        Host = host;
        Port = port;
        _text = text;
    }

    /// <summary>"http", "https", "unix" or "unixs".</summary>
    public string Scheme { get; }

    /// <summary>The host without IPv6 brackets ("localhost", "10.0.0.1", "::1"); may be empty.</summary>
    public string Host { get; }

    /// <summary>The port as written (digits, possibly empty).</summary>
    public string Port { get; }

    /// <summary>True for https and unixs, whose listeners need TLS.</summary>
    public bool IsSecure => Scheme is "https" or "unixs";

    public override string ToString() => _text;

    /// <summary>Parses one URL; <paramref name="error"/> is etcd's message when it is not acceptable.</summary>
    public static bool TryParse(string text, out EtcdUrl? url, out string error)
    {
        url = null;
        // types.NewURLs trims each element before parsing.
        string trimmed = text.Trim();
        if (!TryParseGoUrl(trimmed, out string scheme, out string authority, out string rest, out error))
        {
            return false;
        }

        if (scheme is not ("http" or "https" or "unix" or "unixs"))
        {
            error = $"URL scheme must be http, https, unix, or unixs: {trimmed}";
            return false;
        }

        string hostPort = authority[(authority.LastIndexOf('@') + 1)..];
        if (!TrySplitHostPort(hostPort, out string host, out string port))
        {
            error = $"URL address does not have the form \"host:port\": {trimmed}";
            return false;
        }

        if (rest.Length > 0 && rest[0] == '/')
        {
            error = $"URL must not contain a path: {trimmed}";
            return false;
        }

        url = new EtcdUrl(scheme, host, port, scheme + "://" + authority + rest);
        return true;
    }

    /// <summary>
    /// Parses a comma-separated list as etcd's types.NewURLs does: every element must parse,
    /// and the result is sorted by its string form.
    /// </summary>
    public static bool TryParseList(string text, out ImmutableArray<EtcdUrl> urls, out string error)
    {
        urls = [];
        var parsed = new List<EtcdUrl>();
        foreach (string part in text.Split(','))
        {
            if (!TryParse(part, out EtcdUrl? url, out error))
            {
                return false;
            }

            parsed.Add(url!);
        }

        error = "";
        urls = [.. parsed.OrderBy(u => u.ToString(), StringComparer.Ordinal)];
        return true;
    }

    /// <summary>Parses a list, throwing <see cref="FormatException"/> with etcd's message.</summary>
    public static ImmutableArray<EtcdUrl> ParseList(string text) =>
        TryParseList(text, out ImmutableArray<EtcdUrl> urls, out string error) ? urls : throw new FormatException(error);

    // The part of Go's net/url.Parse that decides etcd's errors: scheme, "//authority", and the
    // rest (path, query, fragment). Messages are Go's: parse "x": <reason>.
    private static bool TryParseGoUrl(string text, out string scheme, out string authority, out string rest, out string error)
    {
        scheme = "";
        authority = "";
        rest = text;
        error = "";
        string withoutFragment = text;
        int colon = -1;
        for (int i = 0; i < withoutFragment.Length; i++)
        {
            char c = withoutFragment[i];
            if (char.IsAsciiLetter(c))
            {
                continue;
            }

            if (i > 0 && (char.IsAsciiDigit(c) || c is '+' or '-' or '.'))
            {
                continue;
            }

            if (c == ':')
            {
                if (i == 0)
                {
                    error = $"parse \"{text}\": missing protocol scheme";
                    return false;
                }

                colon = i;
            }

            break;
        }

        if (colon < 0)
        {
            // No scheme: all of it is a path, whose first segment may not hold a colon.
            int slash = text.IndexOf('/');
            string firstSegment = slash < 0 ? text : text[..slash];
            if (firstSegment.Contains(':'))
            {
                error = $"parse \"{text}\": first path segment in URL cannot contain colon";
                return false;
            }

            return true;
        }

        scheme = text[..colon].ToLowerInvariant();
        rest = text[(colon + 1)..];
        if (!rest.StartsWith("//", StringComparison.Ordinal))
        {
            // Opaque ("localhost:2379" reads as scheme "localhost"): no host at all.
            rest = "";
            return true;
        }

        rest = rest[2..];
        int end = rest.IndexOfAny(['/', '?', '#']);
        authority = end < 0 ? rest : rest[..end];
        rest = end < 0 ? "" : rest[end..];
        string host = authority[(authority.LastIndexOf('@') + 1)..];
        int portColon;
        if (host.StartsWith('['))
        {
            int close = host.IndexOf(']');
            if (close < 0)
            {
                error = $"parse \"{text}\": missing ']' in host";
                return false;
            }

            portColon = close + 1 < host.Length && host[close + 1] == ':' ? close + 1 : -1;
            if (close + 1 < host.Length && portColon < 0)
            {
                error = $"parse \"{text}\": invalid port \"{host[(close + 1)..]}\" after host";
                return false;
            }
        }
        else
        {
            portColon = host.LastIndexOf(':');
        }

        if (portColon >= 0)
        {
            string port = host[(portColon + 1)..];
            if (!port.All(char.IsAsciiDigit))
            {
                error = $"parse \"{text}\": invalid port \"{host[portColon..]}\" after host";
                return false;
            }
        }

        return true;
    }

    // Go's net.SplitHostPort: "host:port", "[v6]:port"; a bare host or extra colons fail.
    private static bool TrySplitHostPort(string hostPort, out string host, out string port)
    {
        host = "";
        port = "";
        int lastColon = hostPort.LastIndexOf(':');
        if (lastColon < 0)
        {
            return false;
        }

        if (hostPort.StartsWith('['))
        {
            int close = hostPort.IndexOf(']');
            if (close < 0 || close + 1 != lastColon)
            {
                return false;
            }

            host = hostPort[1..close];
            if (host.Contains('[') || host.Contains(']'))
            {
                return false;
            }
        }
        else
        {
            host = hostPort[..lastColon];
            if (host.Contains(':') || host.Contains('[') || host.Contains(']'))
            {
                return false;
            }
        }

        port = hostPort[(lastColon + 1)..];
        return true;
    }

    /// <summary>True when the host is an IP literal as Go's net.ParseIP reads one (etcd's binding check).</summary>
    internal bool HostIsIpAddress
    {
        get
        {
            if (Host.Contains(':'))
            {
                return !Host.Contains('%')
                    && IPAddress.TryParse(Host, out IPAddress? address)
                    && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
            }

            // Dotted quad only, no leading zeros (Go rejects "010.0.0.1" and "1.2").
            string[] parts = Host.Split('.');
            return parts.Length == 4 && parts.All(part =>
                part.Length is >= 1 and <= 3
                && part.All(char.IsAsciiDigit)
                && (part.Length == 1 || part[0] != '0')
                && int.Parse(part, System.Globalization.CultureInfo.InvariantCulture) <= 255);
        }
    }
}
