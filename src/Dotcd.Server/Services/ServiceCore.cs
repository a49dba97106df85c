using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Server.Apply;
using Dotcd.Server.Metrics;
using Google.Protobuf;
using RaftApplyResult = Dotcd.Server.RaftLoop.ApplyResult;

namespace Dotcd.Server.Services;

/// <summary>The per-call steps every etcd handler shares: parse, interceptor checks, header, write.</summary>
internal sealed class ServiceCore
{
    private readonly MetricVec<Counter>? _clientRequests;

    private const int MaxClientVersions = 64;

    // etcd_server_client_requests_total series by (stream, client-api-version): looked up once each.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(bool Stream, string Version), Counter> _clientRequestSeries = new();

    public ServiceCore(EtcdServiceOptions options)
    {
        Options = options;
        if (options.Registry is { } registry)
        {
            _clientRequests = registry.Find("etcd_server_client_requests_total") as MetricVec<Counter>
                ?? registry.CounterVec("etcd_server_client_requests_total",
                    "The total number of client requests per client version.", "type", "client_api_version");
        }
    }

    public EtcdServiceOptions Options { get; }

    public IMemberState Member => Options.Member;

    /// <summary>
    /// Decodes the request; a malformed one fails as grpc-go fails it (code Internal,
    /// "grpc: error unmarshalling request: ...").
    /// </summary>
    public static T Parse<T>(ServerCallContext call, MessageParser<T> parser) where T : IMessage<T> =>
        (T)Parse(call, (MessageParser)parser);

    public static IMessage Parse(ServerCallContext call, MessageParser parser)
    {
        try
        {
            return parser.ParseFrom(call.Request);
        }
        catch (InvalidProtocolBufferException e)
        {
            // gogo/protobuf reports a truncated message as io.ErrUnexpectedEOF.
            string detail = e.Message.Contains("ended unexpectedly", StringComparison.Ordinal) ? "unexpected EOF" : e.Message;
            throw new GrpcStatusException(StatusCode.Internal, "grpc: error unmarshalling request: " + detail);
        }
    }

    /// <summary>
    /// etcd's unary and stream interceptors: a learner serves only what it may (Status,
    /// serializable Range, Snapshot); "hasleader: true" metadata fails fast without a leader.
    /// </summary>
    public void Intercept(ServerCallContext call, bool allowedForLearner)
    {
        if (_clientRequests is not null)
        {
            bool stream = call.Method.HasStreamingRequest || call.Method.HasStreamingResponse;
            string version = call.GetRequestHeader("client-api-version") ?? "unknown";
            if (!_clientRequestSeries.TryGetValue((stream, version), out Counter? counter))
            {
                if (_clientRequestSeries.Count >= MaxClientVersions)
                {
                    version = "unknown"; // Clients choose this label: bound the series they can create.
                }

                counter = _clientRequestSeries.GetOrAdd((stream, version), key =>
                    _clientRequests.WithLabels(key.Stream ? "stream" : "unary", key.Version));
            }

            counter.Inc();
        }

        if (!allowedForLearner && Member.IsLearner)
        {
            throw EtcdErrors.NotSupportedForLearner.ToException();
        }

        if (call.GetRequestHeader("hasleader") == "true" && Member.Leader == 0)
        {
            throw EtcdErrors.NoLeader.ToException();
        }
    }

    /// <summary>etcd's header.fill: cluster, member and term, and the store revision unless the response set one.</summary>
    public ResponseHeader Fill(ResponseHeader? header)
    {
        header ??= new ResponseHeader();
        header.ClusterId = Member.ClusterId;
        header.MemberId = Member.MemberId;
        header.RaftTerm = Member.Term;
        if (header.Revision == 0)
        {
            header.Revision = Options.Kv.CurrentRevision;
        }

        return header;
    }

    /// <summary>A header without revision (etcd's Cluster service builds its headers so).</summary>
    public ResponseHeader HeaderWithoutRevision() =>
        new() { ClusterId = Member.ClusterId, MemberId = Member.MemberId, RaftTerm = Member.Term };

    public static ValueTask WriteAsync<T>(ServerCallContext call, T message) where T : IMessage =>
        call.WriteResponseAsync(message.CalculateSize(), message, static (m, writer) => m.WriteTo(writer));

    /// <summary>Proposes a request through raft and returns the applied response of the expected type.</summary>
    public async Task<T> ProposeAsync<T>(InternalRaftRequest request, CancellationToken cancellationToken) where T : class, IMessage
    {
        RaftApplyResult result = await Options.Consensus.ProposeAsync(request.ToByteArray(), cancellationToken).ConfigureAwait(false);
        if (result.Error is { } error)
        {
            throw RpcErrors.ToException(error);
        }

        // Anything else is a broken applier: grpc-go would report it as Unknown, and so do we.
        return result.Response as T ?? throw new InvalidOperationException(
            $"applying a {typeof(T).Name[..^"Response".Length]} request produced {result.Response?.GetType().Name ?? "no response"}");
    }

    /// <summary>Runs a handler body, turning the etcd errors of the layers below into their statuses.</summary>
    public static GrpcMethodHandler Wrap(Func<ServerCallContext, ValueTask> body) => async call =>
    {
        try
        {
            await body(call).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not GrpcStatusException && RpcErrors.TryMap(e, out GrpcStatus status))
        {
            throw new GrpcStatusException(status, innerException: e);
        }
    };
}
