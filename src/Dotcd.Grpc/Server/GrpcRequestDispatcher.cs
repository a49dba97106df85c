using System.Collections.Frozen;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;

namespace Dotcd.Grpc;

/// <summary>
/// The one request delegate behind every listener: gRPC calls go to their handlers, everything
/// else (HTTP/1.1 or HTTP/2: /health, /metrics, /version, the JSON gateway) to the HTTP handlers.
/// </summary>
internal sealed class GrpcRequestDispatcher
{
    // Longer timeouts than this cannot be armed on a timer; such calls simply have no deadline.
    private static readonly TimeSpan s_maxTimer = TimeSpan.FromDays(30);

    private readonly FrozenDictionary<string, GrpcMethod> _methods;
    private readonly FrozenSet<string> _services;
    private readonly FrozenDictionary<string, RequestDelegate> _httpRoutes;
    private readonly RequestDelegate _httpFallback;
    private readonly GrpcServerOptions _options;
    private readonly ILogger _logger;

    public GrpcRequestDispatcher(
        GrpcMethodRegistry methods,
        IReadOnlyDictionary<string, RequestDelegate> httpRoutes,
        RequestDelegate? httpFallback,
        GrpcServerOptions options,
        ILogger logger)
    {
        _methods = methods.Freeze();
        _services = _methods.Values.Select(m => m.ServiceName).ToFrozenSet(StringComparer.Ordinal);
        _httpRoutes = httpRoutes.ToFrozenDictionary(StringComparer.Ordinal);
        _httpFallback = httpFallback ?? NotFound;
        _options = options;
        _logger = logger;
    }

    public Task DispatchAsync(HttpContext context)
    {
        HttpRequest request = context.Request;
        string path = request.Path.Value ?? "/";
        if (_methods.TryGetValue(path, out GrpcMethod? method))
        {
            return HandleGrpcAsync(context, method, path);
        }

        if (GrpcHeaders.LooksLikeGrpc(request.ContentType))
        {
            return HandleGrpcAsync(context, null, path);
        }

        return _httpRoutes.TryGetValue(path, out RequestDelegate? route) ? route(context) : _httpFallback(context);
    }

    private static Task NotFound(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    private Task HandleGrpcAsync(HttpContext context, GrpcMethod? method, string path)
    {
        HttpRequest request = context.Request;
        if (!HttpProtocol.IsHttp2(request.Protocol))
        {
            // grpc-go's ServeHTTP answers the same way; gRPC needs HTTP/2 trailers and streams.
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return context.Response.WriteAsync("gRPC requires HTTP/2");
        }

        // The early answers below are grpc-go's: an HTTP status plus a gRPC status in the one HEADERS frame.
        if (!HttpMethods.IsPost(request.Method))
        {
            return EarlyAbort(context, StatusCodes.Status405MethodNotAllowed, StatusCode.Internal,
                $"Received a HEADERS frame with :method \"{request.Method}\" which should be POST");
        }

        if (!GrpcHeaders.IsSupportedContentType(request.ContentType))
        {
            return EarlyAbort(context, StatusCodes.Status415UnsupportedMediaType, StatusCode.InvalidArgument,
                $"invalid gRPC request content-type \"{request.ContentType}\"");
        }

        if (method is null)
        {
            string unknown = UnknownMethodMessage(path, out StatusCode code);
            return EarlyAbort(context, StatusCodes.Status200OK, code, unknown);
        }

        TimeSpan? timeout = null;
        string? timeoutHeader = request.Headers[GrpcHeaders.Timeout];
        if (timeoutHeader is not null)
        {
            if (!GrpcTimeout.TryParse(timeoutHeader, out TimeSpan parsed))
            {
                return EarlyAbort(context, StatusCodes.Status400BadRequest, StatusCode.Internal,
                    $"malformed grpc-timeout: \"{timeoutHeader}\"");
            }

            if (parsed == TimeSpan.Zero)
            {
                return EarlyAbort(context, StatusCodes.Status200OK, DeadlineStatus.Code, DeadlineStatus.Message);
            }

            timeout = parsed;
        }

        // grpc-go refuses an encoding it has no decompressor for when the call starts, before
        // reading any message, whether or not a message is compressed; this server has none.
        string? encoding = request.Headers[GrpcHeaders.Encoding];
        if (!string.IsNullOrEmpty(encoding) && encoding != "identity")
        {
            context.Response.Headers[GrpcHeaders.AcceptEncoding] = "identity";
            return EarlyAbort(context, StatusCodes.Status200OK, StatusCode.Unimplemented,
                $"grpc: Decompressor is not installed for grpc-encoding \"{encoding}\"");
        }

        return RunCallAsync(context, method, timeout);
    }

    private string UnknownMethodMessage(string path, out StatusCode code)
    {
        // grpc-go's handleStream: "/svc/method" splits at the last '/'; no '/' at all is "malformed".
        code = StatusCode.Unimplemented;
        string name = path.StartsWith('/') ? path[1..] : path;
        int slash = name.LastIndexOf('/');
        if (slash < 0)
        {
            code = StatusCode.ResourceExhausted;
            return $"malformed method name: \"{path}\"";
        }

        string service = name[..slash];
        string methodName = name[(slash + 1)..];
        return _services.Contains(service)
            ? $"unknown method {methodName} for service {service}"
            : $"unknown service {service}";
    }

    private static Task EarlyAbort(HttpContext context, int httpStatus, StatusCode code, string message)
    {
        HttpResponse response = context.Response;
        response.StatusCode = httpStatus;
        response.ContentType = GrpcHeaders.ContentType;
        response.Headers[GrpcHeaders.Status] = GrpcHeaders.FormatStatusCode(code);
        response.Headers[GrpcHeaders.Message] = PercentEncoding.Encode(message);
        return Task.CompletedTask;
    }

    private async Task RunCallAsync(HttpContext context, GrpcMethod method, TimeSpan? timeout)
    {
        IGrpcCallObserver? observer = _options.Observer;
        long started = observer is null ? 0 : Stopwatch.GetTimestamp();
        ConfigureKestrelLimits(context, method);

        // grpc-timeout goes up to 99999999 hours (11,000 years): past DateTime's range, so saturate.
        DateTime now = DateTime.UtcNow;
        DateTime deadline = timeout is { } t && t < DateTime.MaxValue - now ? now + t : DateTime.MaxValue;
        CallDeadline? timer = timeout is { } armed && armed <= s_maxTimer ? new CallDeadline(context) : null;
        var call = new ServerCallContext(context, method, _options,
            timer?.Token ?? context.RequestAborted, deadline, hasDeadlineTimer: timer is not null);
        timer?.Arm(call, timeout!.Value);

        observer?.OnCallStarted(method);
        GrpcStatus status;
        try
        {
            status = await InvokeAsync(call, method).ConfigureAwait(false);
        }
        catch (GrpcStatusException e)
        {
            call.AddTrailers(e.Trailers);
            status = e.Status;
        }
        catch (Exception) when (call.CancellationToken.IsCancellationRequested)
        {
            status = call.IsDeadlineExceeded ? DeadlineStatus : CancelledStatus;
        }
        catch (Exception e)
        {
            // grpc-go turns a plain error into Unknown with its text; so do we, and log it.
            _logger.LogError(e, "gRPC handler {Method} failed", method.Path);
            status = new GrpcStatus(StatusCode.Unknown, e.Message);
        }

        // Stop the timer first; if it already fired, its answer wins and FinishAsync returns null.
        Task? deadlineFinish = timer is null ? null : await timer.DisarmAsync().ConfigureAwait(false);
        GrpcStatus? sent = await FinishAsync(call, status, completeResponse: false).ConfigureAwait(false);
        if (deadlineFinish is not null)
        {
            sent = DeadlineStatus;
            await deadlineFinish.ConfigureAwait(false);
        }

        call.ReleaseResources();
        observer?.OnCallCompleted(method, (sent ?? status).Code, Stopwatch.GetElapsedTime(started));
    }

    private static readonly GrpcStatus DeadlineStatus = new(StatusCode.DeadlineExceeded, "context deadline exceeded");
    private static readonly GrpcStatus CancelledStatus = new(StatusCode.Cancelled, "context canceled");

    /// <summary>
    /// A call's grpc-timeout. Kestrel does not enforce it: when it passes, the handler's token is
    /// cancelled and the client is answered DEADLINE_EXCEEDED at once, even if the handler lingers.
    /// Allocated only for calls that carry a timeout.
    /// </summary>
    private sealed class CallDeadline(HttpContext context)
    {
        private readonly CancellationTokenSource _source = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        private CancellationTokenRegistration _registration;
        private ServerCallContext? _call;
        private Task? _finish; // Set by the timer callback; read after the registration is disposed.

        public CancellationToken Token => _source.Token;

        public void Arm(ServerCallContext call, TimeSpan timeout)
        {
            _call = call;
            _registration = _source.Token.UnsafeRegister(static state => ((CallDeadline)state!).OnCancelled(), this);
            _source.CancelAfter(timeout);
        }

        private void OnCancelled()
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                return; // The client went away; nobody is waiting for a status.
            }

            _call!.MarkDeadlineExceeded();
            _finish = FinishAsync(_call, DeadlineStatus, completeResponse: true).AsTask();
        }

        public async ValueTask<Task?> DisarmAsync()
        {
            await _registration.DisposeAsync().ConfigureAwait(false); // Waits for a running callback.
            _source.Dispose();
            return _finish;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<GrpcStatus> InvokeAsync(ServerCallContext call, GrpcMethod method)
    {
        if (!method.HasStreamingRequest && !await call.ReadMessageAsync().ConfigureAwait(false))
        {
            return new GrpcStatus(StatusCode.Internal, "grpc: the request stream ended before a request message");
        }

        await method.Handler(call).ConfigureAwait(false);
        return call.Status;
    }

    private static async ValueTask<GrpcStatus?> FinishAsync(ServerCallContext call, GrpcStatus status, bool completeResponse)
    {
        try
        {
            return await call.FinishAsync(status, completeResponse).ConfigureAwait(false);
        }
        catch (Exception e) when (call.HttpContext.RequestAborted.IsCancellationRequested || e is OperationCanceledException)
        {
            return status; // The client is gone; there is nobody to tell.
        }
    }

    private static void ConfigureKestrelLimits(HttpContext context, GrpcMethod method)
    {
        // A gRPC stream is one HTTP request for its whole life: a total body limit would end a
        // long watch or keepalive stream. Each message is limited instead (MaxReceiveMessageBytes).
        IHttpMaxRequestBodySizeFeature? bodySize = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (bodySize is { IsReadOnly: false })
        {
            bodySize.MaxRequestBodySize = null;
        }

        if (method.HasStreamingRequest)
        {
            // Kestrel resets a request whose body trickles in below the minimum rate; an idle
            // watch or lease keepalive stream is not a slowloris attack.
            IHttpMinRequestBodyDataRateFeature? rate = context.Features.Get<IHttpMinRequestBodyDataRateFeature>();
            if (rate is not null)
            {
                rate.MinDataRate = null;
            }
        }
    }
}
