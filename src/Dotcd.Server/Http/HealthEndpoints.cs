using System.Text;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Server.Metrics;
using Microsoft.AspNetCore.Http;

namespace Dotcd.Server.Http;

/// <summary>
/// etcd 3.6's health endpoints (etcdhttp/health.go):
/// <code>
/// GET /health[?exclude=NOSPACE&amp;serializable=true]
///   200 {"health":"true","reason":""}
///   503 {"health":"false","reason":"ALARM NOSPACE" | "RAFT NO LEADER" | "RANGE ERROR:..."}\n
/// GET /livez[?verbose][&amp;exclude=name]    checks: serializable_read
/// GET /readyz[?verbose][&amp;exclude=name]   checks: data_corruption, serializable_read, linearizable_read, non_learner
/// GET /livez/&lt;check&gt;, /readyz/&lt;check&gt;  one check
///   200 "ok\n" (verbose: "[+]name ok\n" lines first)
///   503 "[+]name ok\n[-]name failed: reason\n" + "\n"
/// </code>
/// Anything but GET is 405 "Method Not Allowed". Both texts are text/plain; charset=utf-8.
/// </summary>
public sealed class HealthEndpoints
{
    private const string Livez = "livez";
    private const string Readyz = "readyz";

    private readonly IMemberHealth _member;
    private readonly TimeSpan _requestTimeout;
    private readonly EtcdMetrics? _metrics;
    private readonly IReadOnlyList<(string Name, Func<CancellationToken, Task<string?>> Run)> _livez;
    private readonly IReadOnlyList<(string Name, Func<CancellationToken, Task<string?>> Run)> _readyz;

    public HealthEndpoints(IMemberHealth member, TimeSpan requestTimeout, EtcdMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(member);
        _member = member;
        _requestTimeout = requestTimeout;
        _metrics = metrics;
        _livez = [("serializable_read", ct => ReadCheckAsync(serializable: true, ct))];
        _readyz =
        [
            ("data_corruption", _ => Task.FromResult(AlarmCheck(AlarmType.Corrupt))),
            ("serializable_read", ct => ReadCheckAsync(serializable: true, ct)),
            ("linearizable_read", ct => ReadCheckAsync(serializable: false, ct)),
            ("non_learner", _ => Task.FromResult(_member.IsLearner ? "not supported for learner" : null)),
        ];
    }

    /// <summary>Adds /health, /livez, /readyz and one sub-path per check to the server.</summary>
    public void MapTo(GrpcServerHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.MapHttp("/health", HandleHealthAsync);
        Map(builder, Livez, _livez);
        Map(builder, Readyz, _readyz);
    }

    private void Map(GrpcServerHostBuilder builder, string type, IReadOnlyList<(string Name, Func<CancellationToken, Task<string?>> Run)> checks)
    {
        builder.MapHttp("/" + type, context =>
        {
            HashSet<string> excluded = QuerySet(context.Request, "exclude");
            var selected = checks.Where(c => !excluded.Contains(c.Name)).ToList();
            return HandleChecksAsync(context, type, selected);
        });
        foreach ((string Name, Func<CancellationToken, Task<string?>> Run) check in checks)
        {
            builder.MapHttp("/" + type + "/" + check.Name, context => HandleChecksAsync(context, type, [check]));
        }
    }

    /// <summary>GET /health.</summary>
    public async Task HandleHealthAsync(HttpContext context)
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            await GoHttp.MethodNotAllowedAsync(context, "GET").ConfigureAwait(false);
            return;
        }

        HashSet<string> excludedAlarms = QuerySet(context.Request, "exclude");
        bool serializable = context.Request.Query["serializable"].ToString() == "true";
        string? reason = CheckAlarms(excludedAlarms);
        if (reason is null && !serializable && !_member.HasLeader)
        {
            reason = "RAFT NO LEADER";
        }

        if (reason is null && await ReadCheckAsync(serializable, context.RequestAborted).ConfigureAwait(false) is { } error)
        {
            reason = "RANGE ERROR:" + error;
        }

        var json = new StringBuilder("{\"health\":");
        GoHttp.AppendJsonString(json, reason is null ? "true" : "false");
        json.Append(",\"reason\":");
        GoHttp.AppendJsonString(json, reason ?? "");
        json.Append('}');
        if (reason is null)
        {
            _metrics?.HealthSuccess.Inc();
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = GoHttp.TextPlain; // What Go's content sniffing answers for this body.
            await context.Response.WriteAsync(json.ToString(), context.RequestAborted).ConfigureAwait(false);
            return;
        }

        _metrics?.HealthFailures.Inc();
        await GoHttp.ErrorAsync(context, json.ToString(), StatusCodes.Status503ServiceUnavailable).ConfigureAwait(false);
    }

    private async Task HandleChecksAsync(HttpContext context, string type,
        IReadOnlyList<(string Name, Func<CancellationToken, Task<string?>> Run)> checks)
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            await GoHttp.MethodNotAllowedAsync(context, "GET").ConfigureAwait(false);
            return;
        }

        var output = new StringBuilder();
        bool failed = false;
        foreach ((string name, Func<CancellationToken, Task<string?>> run) in checks)
        {
            string? error = await run(context.RequestAborted).ConfigureAwait(false);
            if (error is null)
            {
                output.Append("[+]").Append(name).Append(" ok\n");
            }
            else
            {
                output.Append("[-]").Append(name).Append(" failed: ").Append(error).Append('\n');
                failed = true;
            }

            _metrics?.HealthCheck.WithLabels(type, name).Set(error is null ? 1 : 0);
            _metrics?.HealthChecks.WithLabels(type, name, error is null ? "success" : "error").Inc();
        }

        if (failed)
        {
            // Failures always carry the detail.
            await GoHttp.ErrorAsync(context, output.ToString(), StatusCodes.Status503ServiceUnavailable).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = GoHttp.TextPlain;
        context.Response.Headers["X-Content-Type-Options"] = "nosniff";
        string body = context.Request.Query.ContainsKey("verbose") ? output + "ok\n" : "ok\n";
        await context.Response.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    // etcd's checkAlarms: the first alarm not excluded by name makes the member unhealthy.
    private string? CheckAlarms(HashSet<string> excluded)
    {
        foreach (AlarmMember alarm in _member.Alarms())
        {
            if (excluded.Contains(alarm.Alarm.ToString().ToUpperInvariant()))
            {
                continue;
            }

            return alarm.Alarm switch
            {
                AlarmType.Nospace => "ALARM NOSPACE",
                AlarmType.Corrupt => "ALARM CORRUPT",
                _ => "ALARM UNKNOWN",
            };
        }

        return null;
    }

    private string? AlarmCheck(AlarmType type) =>
        _member.Alarms().Any(a => a.Alarm == type) ? "alarm activated: " + type.ToString().ToUpperInvariant() : null;

    /// <summary>Runs the probe read; null when it succeeded, else the error text etcd would print.</summary>
    private async Task<string?> ReadCheckAsync(bool serializable, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_requestTimeout);
        try
        {
            await _member.CheckReadAsync(serializable, timeout.Token).ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return cancellationToken.IsCancellationRequested ? "context canceled" : "context deadline exceeded";
        }
        catch (GrpcStatusException e)
        {
            return e.Detail;
        }
        catch (Exception e)
        {
            return e.Message;
        }
    }

    private static HashSet<string> QuerySet(HttpRequest request, string name)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (string? value in request.Query[name])
        {
            if (!string.IsNullOrEmpty(value))
            {
                set.Add(value);
            }
        }

        return set;
    }
}
