using System.Buffers;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Server.Apply;
using Dotcd.Server.Metrics;
using Google.Protobuf;
using Google.Protobuf.Reflection;
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
    /// Decodes the request; a malformed one fails as etcd's grpc-go fails it: code Internal,
    /// "grpc: error unmarshalling request: " (unary calls) or "grpc: failed to unmarshal the
    /// received message " (streaming calls) followed by gogo/protobuf's own error text.
    /// </summary>
    public static T Parse<T>(ServerCallContext call, MessageParser<T> parser) where T : IMessage<T> =>
        (T)Parse(call, (MessageParser)parser);

    public static IMessage Parse(ServerCallContext call, MessageParser parser) =>
        Parse(call, parser, GogoUnmarshal.DefaultDepthLimit, out _)
        ?? throw UnmarshalError(call, "Protocol message had too many levels of nesting."); // Only a Txn nests; KvService allows it more.

    /// <summary>
    /// <see cref="Parse(ServerCallContext, MessageParser)"/> allowing <paramref name="depthLimit"/>
    /// levels of nested messages; <paramref name="tooDeep"/> is set (and null returned) for a
    /// request nested deeper, which etcd would have decoded: the caller answers it.
    /// </summary>
    public static IMessage? Parse(ServerCallContext call, MessageParser parser, int depthLimit, out bool tooDeep)
    {
        tooDeep = false;
        ReadOnlySequence<byte> request = call.Request;
        byte[]? copy = request.IsSingleSegment ? null : request.ToArray();
        ReadOnlySpan<byte> bytes = copy ?? request.FirstSpan;
        MessageDescriptor descriptor = s_descriptors.GetOrAdd(parser, static p => p.ParseFrom(ReadOnlySpan<byte>.Empty).Descriptor);
        string? error = GogoUnmarshal.Check(bytes, descriptor, depthLimit, out int depth);
        if (error == GogoUnmarshal.TooDeep)
        {
            tooDeep = true;
            return null;
        }

        if (error is not null)
        {
            throw UnmarshalError(call, error);
        }

        try
        {
            if (depth < GogoUnmarshal.DefaultDepthLimit)
            {
                return copy is null ? parser.ParseFrom(request) : parser.ParseFrom(copy);
            }

            // Google.Protobuf stops at 100 levels by default; etcd (gogo) has no limit of its own.
            using var stream = new MemoryStream(copy ?? request.ToArray(), writable: false);
            using var input = CodedInputStream.CreateWithLimits(stream, int.MaxValue, depthLimit + 2);
            return parser.ParseFrom(input);
        }
        catch (InvalidProtocolBufferException)
        {
            // gogo accepted these bytes, Google.Protobuf did not: an unknown group whose end tag
            // names another field (gogo does not check). Unknown fields mean nothing to etcd, so
            // decode the request without them.
            byte[] known = GogoUnmarshal.WithoutUnknownFields(bytes, descriptor);
            using var stream = new MemoryStream(known, writable: false);
            using var input = CodedInputStream.CreateWithLimits(stream, int.MaxValue, depthLimit + 2);
            return parser.ParseFrom(input);
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<MessageParser, MessageDescriptor> s_descriptors = new();

    private static GrpcStatusException UnmarshalError(ServerCallContext call, string error) =>
        new(StatusCode.Internal, call.Method.HasStreamingRequest || call.Method.HasStreamingResponse
            ? "grpc: failed to unmarshal the received message " + error
            : "grpc: error unmarshalling request: " + error);

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

/// <summary>
/// Decides whether etcd 3.4 would decode a request, and with which error: etcd's messages are
/// gogo/protobuf's generated Unmarshal methods, whose checks and texts differ from
/// Google.Protobuf's (a known field with the wrong wire type is an error there, an unknown field
/// here). Checked before Google.Protobuf parses, so a client sees etcd's exact words.
/// </summary>
/// <remarks>
/// Wire format: a message is a run of fields, each [tag: varint = field &lt;&lt; 3 | wire type]
/// then by wire type 0 a varint, 1 eight bytes, 2 [length: varint][bytes], 3 a group up to its
/// end tag (wire type 4), 5 four bytes. Varints are at most ten bytes (gogo: "integer overflow").
/// </remarks>
internal static class GogoUnmarshal
{
    /// <summary>Google.Protobuf's own default recursion limit.</summary>
    public const int DefaultDepthLimit = 100;

    /// <summary>Returned for a request nested deeper than the limit (gogo itself has none).</summary>
    public const string TooDeep = "too deep";

    private const string UnexpectedEof = "unexpected EOF";
    private const string IntOverflow = "proto: integer overflow";
    private const string InvalidLength = "proto: negative length found during unmarshaling";

    /// <summary>gogo's error for these bytes as a <paramref name="descriptor"/> message, or null when it decodes them.</summary>
    public static string? Check(ReadOnlySpan<byte> data, MessageDescriptor descriptor, int depthLimit, out int depth)
    {
        depth = 0;
        return CheckMessage(data, descriptor, 0, depthLimit, ref depth);
    }

    private static string? CheckMessage(ReadOnlySpan<byte> data, MessageDescriptor descriptor, int level, int depthLimit, ref int depth)
    {
        if (level > depthLimit)
        {
            return TooDeep;
        }

        depth = Math.Max(depth, level);
        int index = 0;
        while (index < data.Length)
        {
            int fieldStart = index;
            if (ReadVarint(data, ref index, out ulong wire) is { } tagError)
            {
                return tagError;
            }

            int fieldNumber = unchecked((int)(wire >> 3));
            int wireType = (int)(wire & 7);
            if (wireType == 4)
            {
                return $"proto: {descriptor.Name}: wiretype end group for non-group";
            }

            if (fieldNumber <= 0)
            {
                return $"proto: {descriptor.Name}: illegal tag {fieldNumber} (wire type {wire})";
            }

            FieldDescriptor? field = descriptor.FindFieldByNumber(fieldNumber);
            if (field is null)
            {
                if (Skip(data[fieldStart..], out long skipped) is { } skipError)
                {
                    return skipError;
                }

                if (skipped < 0)
                {
                    return InvalidLength;
                }

                if (fieldStart + skipped > data.Length)
                {
                    return UnexpectedEof;
                }

                index = fieldStart + (int)skipped;
                continue;
            }

            int expected = WireTypeOf(field.FieldType);
            bool packable = field.IsRepeated && expected != 2;
            if (wireType != expected && !(packable && wireType == 2))
            {
                return $"proto: wrong wireType = {wireType} for field {GoName(field.Name)}";
            }

            string? error = wireType switch
            {
                0 => ReadVarint(data, ref index, out _),
                1 => Fixed(data, ref index, 8),
                5 => Fixed(data, ref index, 4),
                _ => null,
            };
            if (error is not null)
            {
                return error;
            }

            if (wireType != 2)
            {
                continue;
            }

            if (ReadLength(data, ref index, out ReadOnlySpan<byte> value, out int end) is { } lengthError)
            {
                return lengthError;
            }

            if (packable)
            {
                // gogo reads packed varints against the end of the whole message, not of the field.
                while (index < end)
                {
                    string? packedError = expected switch
                    {
                        0 => ReadVarint(data, ref index, out _),
                        1 => Fixed(data, ref index, 8),
                        _ => Fixed(data, ref index, 4),
                    };
                    if (packedError is not null)
                    {
                        return packedError;
                    }
                }

                continue;
            }

            if (field.FieldType == FieldType.Message && CheckMessage(value, field.MessageType, level + 1, depthLimit, ref depth) is { } nested)
            {
                return nested;
            }

            index = end;
        }

        return null;
    }

    /// <summary>
    /// The bytes of a message <see cref="Check"/> accepted, with every unknown field left out
    /// (at any depth); known fields keep their bytes and order.
    /// </summary>
    public static byte[] WithoutUnknownFields(ReadOnlySpan<byte> data, MessageDescriptor descriptor)
    {
        var output = new MemoryStream(data.Length);
        CopyKnown(data, descriptor, output);
        return output.ToArray();
    }

    private static void CopyKnown(ReadOnlySpan<byte> data, MessageDescriptor descriptor, MemoryStream output)
    {
        int index = 0;
        while (index < data.Length)
        {
            int fieldStart = index;
            ReadVarint(data, ref index, out ulong wire);
            FieldDescriptor? field = descriptor.FindFieldByNumber(unchecked((int)(wire >> 3)));
            if (field is null)
            {
                Skip(data[fieldStart..], out long skipped);
                index = fieldStart + (int)skipped;
                continue;
            }

            switch ((int)(wire & 7))
            {
                case 0:
                    ReadVarint(data, ref index, out _);
                    break;
                case 1:
                    index += 8;
                    break;
                case 5:
                    index += 4;
                    break;
                default:
                    int afterTag = index;
                    ReadLength(data, ref index, out ReadOnlySpan<byte> value, out int end);
                    if (field.FieldType == FieldType.Message)
                    {
                        byte[] inner = WithoutUnknownFields(value, field.MessageType);
                        output.Write(data[fieldStart..afterTag]);
                        WriteVarint(output, (ulong)inner.Length);
                        output.Write(inner);
                        index = end;
                        continue;
                    }

                    index = end;
                    break;
            }

            output.Write(data[fieldStart..index]);
        }
    }

    private static void WriteVarint(MemoryStream output, ulong value)
    {
        while (value >= 0x80)
        {
            output.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        output.WriteByte((byte)value);
    }

    private static int WireTypeOf(FieldType type) => type switch
    {
        FieldType.Message or FieldType.Bytes or FieldType.String => 2,
        FieldType.Fixed64 or FieldType.SFixed64 or FieldType.Double => 1,
        FieldType.Fixed32 or FieldType.SFixed32 or FieldType.Float => 5,
        FieldType.Group => 3,
        _ => 0,
    };

    // A varint of at most ten bytes; gogo's loop gives up once the shift reaches 64.
    private static string? ReadVarint(ReadOnlySpan<byte> data, ref int index, out ulong value)
    {
        value = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (shift >= 64)
            {
                return IntOverflow;
            }

            if (index >= data.Length)
            {
                return UnexpectedEof;
            }

            byte b = data[index++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return null;
            }
        }
    }

    private static string? Fixed(ReadOnlySpan<byte> data, ref int index, int size)
    {
        if (index + size > data.Length)
        {
            return UnexpectedEof;
        }

        index += size;
        return null;
    }

    // A length is a Go int: a varint above int64's range wraps negative, which gogo refuses.
    private static string? ReadLength(ReadOnlySpan<byte> data, ref int index, out ReadOnlySpan<byte> value, out int end)
    {
        value = default;
        end = index;
        if (ReadVarint(data, ref index, out ulong raw) is { } error)
        {
            return error;
        }

        long length = unchecked((long)raw);
        if (length < 0 || index + length < 0)
        {
            return InvalidLength;
        }

        if (index + length > data.Length)
        {
            return UnexpectedEof;
        }

        end = index + (int)length;
        value = data[index..end];
        return null;
    }

    // gogo's skip of one unknown field from its tag: the bytes it spans, which may run past the
    // data (the caller checks). Groups nest by counting start and end tags, as gogo's recursion does.
    private static string? Skip(ReadOnlySpan<byte> data, out long skipped)
    {
        skipped = 0;
        int index = 0;
        int groups = 0;
        while (true)
        {
            if (ReadVarint(data, ref index, out ulong wire) is { } tagError)
            {
                return tagError;
            }

            long next = index;
            switch ((int)(wire & 7))
            {
                case 0:
                    if (ReadVarint(data, ref index, out _) is { } error)
                    {
                        return error;
                    }

                    next = index;
                    break;
                case 1:
                    next = index + 8L;
                    break;
                case 2:
                    if (ReadVarint(data, ref index, out ulong raw) is { } lengthError)
                    {
                        return lengthError;
                    }

                    long length = unchecked((long)raw);
                    next = unchecked(index + length);
                    if (length < 0)
                    {
                        return InvalidLength;
                    }

                    break;
                case 3:
                    groups++;
                    break;
                case 4:
                    groups--; // Ends the innermost group (gogo does not check its field number).
                    break;
                case 5:
                    next = index + 4L;
                    break;
                default:
                    return $"proto: illegal wireType {wire & 7}";
            }

            if (groups <= 0)
            {
                skipped = next;
                return null;
            }

            if (next < 0 || next > data.Length)
            {
                // Inside a group the next tag read fails: past the end is gogo's "unexpected EOF".
                return next < 0 ? InvalidLength : UnexpectedEof;
            }

            index = (int)next;
        }
    }

    /// <summary>The Go field name protoc-gen-gogo derives from a proto field name ("range_end" -> "RangeEnd").</summary>
    internal static string GoName(string name)
    {
        var go = new System.Text.StringBuilder(name.Length);
        int i = 0;
        if (name.Length > 0 && name[0] == '_')
        {
            go.Append('X');
            i++;
        }

        for (; i < name.Length; i++)
        {
            char c = name[i];
            if (c == '_' && i + 1 < name.Length && char.IsAsciiLetterLower(name[i + 1]))
            {
                continue;
            }

            if (char.IsAsciiDigit(c))
            {
                go.Append(c);
                continue;
            }

            go.Append(char.IsAsciiLetterLower(c) ? char.ToUpperInvariant(c) : c);
            while (i + 1 < name.Length && char.IsAsciiLetterLower(name[i + 1]))
            {
                go.Append(name[++i]);
            }
        }

        return go.ToString();
    }
}
