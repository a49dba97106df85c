using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace Dotcd.Grpc;

/// <summary>
/// Lets one cleartext port serve both h2c with prior knowledge (what grpc-go sends to http://
/// endpoints) and HTTP/1.1. Kestrel will not do both on one cleartext endpoint: with
/// Http1AndHttp2 and no TLS it speaks HTTP/1.1 only and answers the HTTP/2 preface with
/// HTTP_1_1_REQUIRED. So the public endpoint is HTTP/1.1, and this connection middleware peeks at
/// the first bytes: a connection that opens with the HTTP/2 preface is handed to the HTTP/2
/// pipeline of a second, never-accepting endpoint (see <see cref="Http2PipelineTransport"/>).
/// Nothing is consumed, so whichever pipeline runs reads the connection from its first byte.
/// </summary>
internal sealed class Http2PrefaceRouter(TimeSpan detectionTimeout, Func<ConnectionContext, ConnectionDelegate, Task>? wrapHttp2)
{
    // RFC 9113 section 3.4: the client connection preface.
    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    private enum Protocol
    {
        NeedMoreData,
        Http1,
        Http2,
    }

    private ConnectionDelegate? _http2; // Set once Kestrel builds the HTTP/2 endpoint's pipeline.

    /// <summary>Middleware for the hidden HTTP/2 endpoint: remembers the pipeline after it.</summary>
    public ConnectionDelegate CaptureHttp2Pipeline(ConnectionDelegate next)
    {
        _http2 = next;
        return next;
    }

    /// <summary>Middleware for the public cleartext endpoint, whose own pipeline is HTTP/1.1.</summary>
    public ConnectionDelegate Route(ConnectionDelegate http1) => connection => RouteAsync(connection, http1);

    private async Task RouteAsync(ConnectionContext connection, ConnectionDelegate http1)
    {
        Protocol protocol = await DetectAsync(connection.Transport.Input, connection.ConnectionClosed).ConfigureAwait(false);
        if (protocol != Protocol.Http2)
        {
            await http1(connection).ConfigureAwait(false);
            return;
        }

        ConnectionDelegate http2 = _http2 ?? throw new InvalidOperationException("The HTTP/2 pipeline was not built.");
        await (wrapHttp2 is null ? http2(connection) : wrapHttp2(connection, http2)).ConfigureAwait(false);
    }

    private async Task<Protocol> DetectAsync(PipeReader input, CancellationToken connectionClosed)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connectionClosed);
        timeout.CancelAfter(detectionTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // A silent client: let HTTP/1.1, with its own timeouts, deal with it.
                return Protocol.Http1;
            }

            ReadOnlySequence<byte> buffer = result.Buffer;
            Protocol protocol = Classify(buffer);
            if (protocol == Protocol.NeedMoreData && (result.IsCompleted || result.IsCanceled))
            {
                protocol = Protocol.Http1;
            }

            if (protocol != Protocol.NeedMoreData)
            {
                input.AdvanceTo(buffer.Start, buffer.Start); // Consume and examine nothing: the next read sees it all.
                return protocol;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static Protocol Classify(ReadOnlySequence<byte> buffer)
    {
        Span<byte> head = stackalloc byte[Preface.Length];
        int length = (int)Math.Min(buffer.Length, Preface.Length);
        buffer.Slice(0, length).CopyTo(head);
        if (!Preface[..length].SequenceEqual(head[..length]))
        {
            return Protocol.Http1; // Decided at the first differing byte; "GET " differs at once.
        }

        return length == Preface.Length ? Protocol.Http2 : Protocol.NeedMoreData;
    }
}
