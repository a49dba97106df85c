using System.Buffers;
using System.Net;

namespace Dotcd.Grpc;

/// <summary>The request body of a unary or server-streaming call: one framed message, copied once at creation.</summary>
internal sealed class SingleMessageContent : HttpContent
{
    private byte[]? _frame; // Rented; header and message together so they leave in one write. Guarded by this.
    private Task? _write;
    private readonly int _length;

    public SingleMessageContent(ReadOnlySpan<byte> message)
    {
        _length = GrpcFrame.HeaderLength + message.Length;
        _frame = ArrayPool<byte>.Shared.Rent(_length);
        GrpcFrame.WriteHeader(_frame, message.Length);
        message.CopyTo(_frame.AsSpan(GrpcFrame.HeaderLength));
        Headers.ContentType = GrpcChannel.GrpcContentType;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        lock (this)
        {
            byte[] frame = _frame ?? throw new ObjectDisposedException(nameof(SingleMessageContent));
            _write = stream.WriteAsync(frame.AsMemory(0, _length), cancellationToken).AsTask();
            return _write;
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        byte[]? frame;
        Task? write;
        lock (this)
        {
            (frame, write) = (_frame, _write);
            _frame = null;
        }

        // A cancelled call may be disposed while SocketsHttpHandler still writes from the buffer:
        // then it is left to the GC rather than handed to someone else mid-write.
        if (disposing && frame is not null && (write is null || write.IsCompleted))
        {
            ArrayPool<byte>.Shared.Return(frame);
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// The request body of a client- or bidi-streaming call. SocketsHttpHandler asks for the body as
/// soon as the request headers are out; this hands its stream to the call and keeps the request
/// open until the call half-closes, while responses flow the other way.
/// </summary>
internal sealed class StreamingContent : HttpContent
{
    private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Stream? _retryStream; // Guarded by _stream.
    private bool _written;        // Guarded by _stream.

    public StreamingContent() => Headers.ContentType = GrpcChannel.GrpcContentType;

    public Task<Stream> StreamTask => _stream.Task;

    /// <summary>Half-closes: SocketsHttpHandler then ends the request stream (END_STREAM).</summary>
    public void Complete() => _done.TrySetResult();

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        // SocketsHttpHandler holds the request HEADERS back until the body writes something, so a
        // call whose server speaks first (a watch's created response) would wait forever. An
        // empty flush sends them now; it happens before the stream is published, so it never
        // races a write.
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);

        // SocketsHttpHandler asks again when it retries the request on another connection (the
        // first answered GOAWAY before taking the stream). That is safe only while nothing was
        // written to the first stream; otherwise the retry must fail rather than lose messages.
        lock (_stream)
        {
            if (!_stream.Task.IsCompleted)
            {
                _stream.SetResult(stream);
            }
            else if (!_written)
            {
                _retryStream = stream;
            }
            else
            {
                throw new IOException("The request stream was already written to; it cannot be retried on another connection.");
            }
        }

        await _done.Task.ConfigureAwait(false);
    }

    /// <summary>The stream to write the next message to; call under no lock, before each write.</summary>
    public async Task<Stream> GetStreamForWriteAsync(CancellationToken cancellationToken)
    {
        Stream stream = await _stream.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_stream)
        {
            _written = true;
            return _retryStream ?? stream;
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        Complete();
        base.Dispose(disposing);
    }
}
