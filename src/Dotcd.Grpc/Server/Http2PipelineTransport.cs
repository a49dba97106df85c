using System.Net;
using Microsoft.AspNetCore.Connections;

namespace Dotcd.Grpc;

/// <summary>The address of the hidden HTTP/2 endpoint; it binds nothing.</summary>
internal sealed class Http2PipelineEndPoint : EndPoint
{
    public override string ToString() => "dotcd-h2c-pipeline";
}

/// <summary>
/// A Kestrel transport for <see cref="Http2PipelineEndPoint"/> that never accepts a connection.
/// It exists so Kestrel builds an HTTP/2-only connection pipeline (with all of Kestrel's own
/// settings) that <see cref="Http2PrefaceRouter"/> can hand h2c connections to, without a second
/// socket. The sockets transport keeps serving every IP endpoint.
/// </summary>
internal sealed class Http2PipelineTransport : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => endpoint is Http2PipelineEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new(new IdleListener(endpoint));

    private sealed class IdleListener(EndPoint endpoint) : IConnectionListener
    {
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public EndPoint EndPoint => endpoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            await _closed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return null; // Null tells Kestrel the listener is closed.
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            _closed.TrySetResult();
            return default;
        }

        public ValueTask DisposeAsync()
        {
            _closed.TrySetResult();
            return default;
        }
    }
}
