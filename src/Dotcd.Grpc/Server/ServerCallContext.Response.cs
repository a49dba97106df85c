using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Dotcd.Grpc;

public sealed partial class ServerCallContext
{
    // Messages up to this size go out with their frame header in one span of the response pipe.
    private const int SingleSpanMessageBytes = 4096 - GrpcFrame.HeaderLength;

    /// <summary>Sends the response headers now, before any message (grpc-go's SendHeader).</summary>
    public ValueTask SendResponseHeadersAsync()
    {
        lock (_sync ?? this)
        {
            ThrowIfFinishing();
            if (_responseState != NotStarted)
            {
                return default;
            }

            StartResponse();
            return FlushAsync(); // An empty flush makes Kestrel send the HEADERS frame.
        }
    }

    /// <summary>
    /// Writes one response message. Streaming responses are flushed per message, so each reaches
    /// the client before the next is produced; a unary response waits to leave with the trailers.
    /// </summary>
    public ValueTask WriteResponseAsync(ReadOnlyMemory<byte> message)
    {
        lock (_sync ?? this)
        {
            ThrowIfFinishing();
            WriteFrame(message.Span);
            return FlushIfStreaming();
        }
    }

    /// <summary>Writes one response message held in a (possibly multi-segment) sequence.</summary>
    public ValueTask WriteResponseAsync(ReadOnlySequence<byte> message)
    {
        if (message.IsSingleSegment)
        {
            return WriteResponseAsync(message.First);
        }

        lock (_sync ?? this)
        {
            ThrowIfFinishing();
            WriteHeader(checked((int)message.Length));
            foreach (ReadOnlyMemory<byte> segment in message)
            {
                _output.Write(segment.Span);
            }

            MessageWritten();
            return FlushIfStreaming();
        }
    }

    /// <summary>
    /// Serializes one message of exactly <paramref name="length"/> bytes straight into the HTTP/2
    /// response, without an intermediate copy. With Google.Protobuf:
    /// <c>call.WriteResponseAsync(reply.CalculateSize(), reply, static (m, w) => m.WriteTo(w))</c>.
    /// </summary>
    public ValueTask WriteResponseAsync<TState>(int length, TState state, MessageSerializer<TState> serialize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        lock (_sync ?? this)
        {
            ThrowIfFinishing();
            WriteHeader(length);
            CountingBufferWriter counter = _countingWriter ??= new CountingBufferWriter();
            counter.Reset(_output);
            serialize(state, counter);
            if (counter.Written != length)
            {
                // The frame header promised another length: the stream is beyond repair.
                _httpContext.Abort();
                throw new InvalidOperationException($"The serializer wrote {counter.Written} bytes after announcing {length}.");
            }

            MessageWritten();
            return FlushIfStreaming();
        }
    }

    /// <summary>
    /// Serializes one message of unknown size: it is buffered (in pooled memory) to learn its
    /// length, then copied into the response. Prefer the overload with a length on hot paths.
    /// </summary>
    public ValueTask WriteResponseAsync<TState>(TState state, MessageSerializer<TState> serialize)
    {
        PooledBufferWriter scratch = _scratch ??= new PooledBufferWriter();
        scratch.Reset();
        serialize(state, scratch);
        ValueTask write = WriteResponseAsync(scratch.WrittenMemory);
        if (write.IsCompletedSuccessfully)
        {
            scratch.Reset();
            return default;
        }

        return AwaitThenReset(write, scratch);

        static async ValueTask AwaitThenReset(ValueTask write, PooledBufferWriter scratch)
        {
            try
            {
                await write.ConfigureAwait(false);
            }
            finally
            {
                scratch.Reset();
            }
        }
    }

    private void ThrowIfFinishing()
    {
        if (_finishing || _responseState == Finished)
        {
            // The deadline (or the handler's own return) already ended the call.
            throw new OperationCanceledException("The call already ended.", CancellationToken);
        }
    }

    private void WriteFrame(ReadOnlySpan<byte> message)
    {
        if (message.Length <= SingleSpanMessageBytes)
        {
            BeforeFirstMessage();
            Span<byte> span = _output.GetSpan(GrpcFrame.HeaderLength + message.Length);
            GrpcFrame.WriteHeader(span, message.Length);
            message.CopyTo(span[GrpcFrame.HeaderLength..]);
            _output.Advance(GrpcFrame.HeaderLength + message.Length);
        }
        else
        {
            WriteHeader(message.Length);
            _output.Write(message);
        }

        MessageWritten();
    }

    private void WriteHeader(int length)
    {
        BeforeFirstMessage();
        Span<byte> span = _output.GetSpan(GrpcFrame.HeaderLength);
        GrpcFrame.WriteHeader(span, length);
        _output.Advance(GrpcFrame.HeaderLength);
    }

    private void BeforeFirstMessage()
    {
        if (_responseState == NotStarted)
        {
            StartResponse();
        }
        else if (!Method.HasStreamingResponse && _messagesSent > 0)
        {
            throw new InvalidOperationException($"{Method.Path} is {Method.Type}: it sends exactly one response.");
        }
    }

    private void StartResponse()
    {
        // Headers are fixed from here on; Kestrel sends them with the first flush.
        _httpContext.Response.ContentType = GrpcHeaders.ContentType;
        _responseState = Started;
    }

    private void MessageWritten()
    {
        _messagesSent++;
        _options.Observer?.OnMessageSent(Method);
    }

    private ValueTask FlushIfStreaming() => Method.HasStreamingResponse ? FlushAsync() : default;

    private ValueTask FlushAsync()
    {
        ValueTask<FlushResult> flush = _output.FlushAsync(CancellationToken);
        if (flush.IsCompletedSuccessfully)
        {
            CheckFlush(flush.Result);
            return default;
        }

        Task pending = AwaitFlush(flush);
        if (_sync is not null)
        {
            _pendingFlush = pending; // Called under _sync.
        }

        return new ValueTask(pending);
    }

    private async Task AwaitFlush(ValueTask<FlushResult> flush) => CheckFlush(await flush.ConfigureAwait(false));

    private void CheckFlush(FlushResult result)
    {
        if (result.IsCanceled || result.IsCompleted)
        {
            // The stream was reset or the connection closed: nobody will read what we write.
            throw new OperationCanceledException("The client went away.", CancellationToken);
        }
    }

    /// <summary>
    /// Ends the call with a status: in the HEADERS frame (Trailers-Only) when nothing was sent yet,
    /// else in trailers after the messages. Only the first finisher (the handler's end or the
    /// deadline) gets to write it. Returns the status actually sent, or null if another finisher won.
    /// </summary>
    internal async ValueTask<GrpcStatus?> FinishAsync(GrpcStatus status, bool completeResponse)
    {
        Task? pending = null;
        if (_sync is not null)
        {
            lock (_sync)
            {
                if (_finishing)
                {
                    return null;
                }

                _finishing = true;
                pending = _pendingFlush;
            }
        }
        else if (_finishing)
        {
            return null;
        }

        _finishing = true;
        if (pending is not null)
        {
            try
            {
                await pending.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The handler's flush failed (the client went away); the status write below is best effort.
            }
        }

        HttpResponse response = _httpContext.Response;
        IHeaderDictionary target;
        if (_responseState == NotStarted && !response.HasStarted)
        {
            response.ContentType = GrpcHeaders.ContentType;
            target = response.Headers;
        }
        else
        {
            target = _httpContext.Features.Get<IHttpResponseTrailersFeature>()?.Trailers
                ?? throw new InvalidOperationException("The HTTP/2 response does not support trailers.");
        }

        _responseState = Finished;
        target[GrpcHeaders.Status] = GrpcHeaders.FormatStatusCode(status.Code);
        if (!string.IsNullOrEmpty(status.Message))
        {
            target[GrpcHeaders.Message] = PercentEncoding.Encode(status.Message);
        }

        List<KeyValuePair<string, string>>? trailers = _trailers;
        if (trailers is not null)
        {
            if (_sync is not null)
            {
                lock (_sync)
                {
                    trailers = [.. trailers]; // The handler may still be running; read a snapshot.
                }
            }

            foreach (KeyValuePair<string, string> trailer in trailers)
            {
                target.Append(trailer.Key, trailer.Value);
            }
        }

        if (completeResponse)
        {
            await response.CompleteAsync().ConfigureAwait(false);
        }

        return status;
    }

    /// <summary>Returns pooled memory and the unconsumed request buffer; only after the handler returned.</summary>
    internal void ReleaseResources()
    {
        ReleaseInput();
        _scratch?.Dispose();
    }

    internal void AddTrailers(GrpcMetadata trailers)
    {
        if (trailers.Count == 0 || _responseState == Finished)
        {
            return;
        }

        foreach (KeyValuePair<string, string> trailer in trailers)
        {
            (_trailers ??= []).Add(trailer);
        }
    }

    internal void MarkDeadlineExceeded() => _deadlineExceeded = true;
}
