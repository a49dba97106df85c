using System.Collections.Concurrent;
using Dotcd.Grpc;

namespace Dotcd.Server.Metrics;

/// <summary>
/// go-grpc-prometheus's server counters, which etcd registers and dashboards read:
/// grpc_server_started_total, grpc_server_handled_total (with grpc_code),
/// grpc_server_msg_received_total and grpc_server_msg_sent_total, labelled by grpc_type
/// (unary, client_stream, server_stream, bidi_stream), grpc_service and grpc_method.
/// Plug it in as <see cref="GrpcServerOptions.Observer"/>.
/// </summary>
public sealed class GrpcServerMetrics : IGrpcCallObserver
{
    // grpc-go's codes.Code.String(), indexed by code: Go spells Cancelled "Canceled".
    private static readonly string[] s_codeNames =
    [
        "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
        "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
        "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated",
    ];

    private readonly MetricVec<Counter> _started;
    private readonly MetricVec<Counter> _handled;
    private readonly MetricVec<Counter> _received;
    private readonly MetricVec<Counter> _sent;

    // The series of each method, looked up once: recording then costs one dictionary read.
    private readonly ConcurrentDictionary<GrpcMethod, MethodSeries> _methods = new(ReferenceEqualityComparer.Instance);

    public GrpcServerMetrics(MetricsRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _started = registry.CounterVec("grpc_server_started_total",
            "Total number of RPCs started on the server.", "grpc_type", "grpc_service", "grpc_method");
        _handled = registry.CounterVec("grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            "grpc_type", "grpc_service", "grpc_method", "grpc_code");
        _received = registry.CounterVec("grpc_server_msg_received_total",
            "Total number of RPC stream messages received on the server.", "grpc_type", "grpc_service", "grpc_method");
        _sent = registry.CounterVec("grpc_server_msg_sent_total",
            "Total number of gRPC stream messages sent by the server.", "grpc_type", "grpc_service", "grpc_method");
    }

    /// <summary>Go's name of a status code ("Canceled", not "Cancelled").</summary>
    public static string CodeName(StatusCode code) =>
        (int)code >= 0 && (int)code < s_codeNames.Length ? s_codeNames[(int)code] : "Code(" + (int)code + ")";

    /// <summary>grpc_type of a method shape.</summary>
    public static string TypeName(MethodType type) => type switch
    {
        MethodType.Unary => "unary",
        MethodType.ClientStreaming => "client_stream",
        MethodType.ServerStreaming => "server_stream",
        _ => "bidi_stream",
    };

    /// <summary>
    /// Creates every method's series at zero, for every code (go-grpc-prometheus's Register does
    /// so), so rates and absent() work before the first call.
    /// </summary>
    public void Initialize(IEnumerable<GrpcMethod> methods)
    {
        ArgumentNullException.ThrowIfNull(methods);
        foreach (GrpcMethod method in methods)
        {
            SeriesOf(method);
        }
    }

    public void OnCallStarted(GrpcMethod method) => SeriesOf(method).Started.Inc();

    public void OnMessageReceived(GrpcMethod method) => SeriesOf(method).Received.Inc();

    public void OnMessageSent(GrpcMethod method) => SeriesOf(method).Sent.Inc();

    public void OnCallCompleted(GrpcMethod method, StatusCode code, TimeSpan elapsed)
    {
        MethodSeries series = SeriesOf(method);
        int index = (int)code;
        if (index >= 0 && index < series.Handled.Length)
        {
            series.Handled[index].Inc();
        }
        else
        {
            _handled.WithLabels(series.Type, method.ServiceName, method.Name, CodeName(code)).Inc();
        }
    }

    private MethodSeries SeriesOf(GrpcMethod method) =>
        _methods.TryGetValue(method, out MethodSeries? found) ? found : _methods.GetOrAdd(method, Create);

    private MethodSeries Create(GrpcMethod method)
    {
        string type = TypeName(method.Type);
        var handled = new Counter[s_codeNames.Length];
        for (int i = 0; i < handled.Length; i++)
        {
            handled[i] = _handled.WithLabels(type, method.ServiceName, method.Name, s_codeNames[i]);
        }

        return new MethodSeries(
            type,
            _started.WithLabels(type, method.ServiceName, method.Name),
            _received.WithLabels(type, method.ServiceName, method.Name),
            _sent.WithLabels(type, method.ServiceName, method.Name),
            handled);
    }

    private sealed record MethodSeries(string Type, Counter Started, Counter Received, Counter Sent, Counter[] Handled);
}
