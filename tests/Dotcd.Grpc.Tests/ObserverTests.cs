using System.Collections.Concurrent;

namespace Dotcd.Grpc.Tests;

/// <summary>The call observer sees what metrics such as grpc_server_handled_total count.</summary>
public sealed class ObserverTests
{
    private sealed class Recorder : IGrpcCallObserver
    {
        public ConcurrentQueue<string> Events { get; } = new();

        public void OnCallStarted(GrpcMethod method) => Events.Enqueue($"started {method.Name} {method.Type}");

        public void OnMessageReceived(GrpcMethod method) => Events.Enqueue($"received {method.Name}");

        public void OnMessageSent(GrpcMethod method) => Events.Enqueue($"sent {method.Name}");

        public void OnCallCompleted(GrpcMethod method, StatusCode code, TimeSpan elapsed) => Events.Enqueue($"completed {method.Name} {code}");
    }

    [Fact]
    public async Task ObserverSeesEachCallItsMessagesAndItsCode()
    {
        var recorder = new Recorder();
        await using TestServer server = await TestServer.StartAsync(builder =>
        {
            builder.Options.Observer = recorder;
            builder.AddUnary("/etcdserverpb.KV/Range", call => call.WriteResponseAsync(call.Request));
            builder.AddUnary("/etcdserverpb.KV/Put", _ => throw new GrpcStatusException(StatusCode.InvalidArgument, "etcdserver: key is not provided"));
        });
        using GrpcChannel channel = server.Channel();
        await channel.UnaryAsync("/etcdserverpb.KV/Range", new byte[1]);
        await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync("/etcdserverpb.KV/Put", new byte[1]));
        await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync("/etcdserverpb.KV/Nope", new byte[1]));

        // Completion is reported after the response went out; give the server a moment.
        for (int i = 0; i < 50 && recorder.Events.Count < 7; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal(
            ["started Range Unary", "received Range", "sent Range", "completed Range OK",
             "started Put Unary", "received Put", "completed Put InvalidArgument"],
            recorder.Events.ToArray());
    }
}
