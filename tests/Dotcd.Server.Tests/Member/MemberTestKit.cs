using Dotcd.Client;
using Dotcd.Server.Composition;

namespace Dotcd.Server.Tests.Composition;

/// <summary>
/// A real member (WAL, SQLite backend, raft loop, gRPC on a free loopback port) in a temp data
/// dir, with a client aimed at it. Restart stops it gracefully and starts it on the same dir.
/// </summary>
internal sealed class RunningMember : IAsyncDisposable
{
    private readonly string _root;
    private readonly Func<EtcdMemberOptions, EtcdMemberOptions> _configure;

    private RunningMember(string root, Func<EtcdMemberOptions, EtcdMemberOptions> configure, EtcdMember member)
    {
        _root = root;
        _configure = configure;
        Member = member;
        Client = new EtcdClient(Endpoint);
    }

    public EtcdMember Member { get; private set; }

    public EtcdClient Client { get; private set; }

    public string DataDir => Path.Combine(_root, "data");

    public string Endpoint => Member.ClientUrls[0].ToString().TrimEnd('/');

    public static async Task<RunningMember> StartAsync(Func<EtcdMemberOptions, EtcdMemberOptions>? configure = null)
    {
        string root = Path.Combine(Path.GetTempPath(), "dotcd-member-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        configure ??= static o => o;
        EtcdMember member = await EtcdMember.StartAsync(Options(root, configure));
        return new RunningMember(root, configure, member);
    }

    /// <summary>A graceful stop, then a new member process-alike on the same data dir.</summary>
    public async Task RestartAsync()
    {
        Client.Dispose();
        await Member.StopAsync();
        Member = await EtcdMember.StartAsync(Options(_root, _configure));
        Client = new EtcdClient(Endpoint);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Member.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static EtcdMemberOptions Options(string root, Func<EtcdMemberOptions, EtcdMemberOptions> configure) =>
        configure(new EtcdMemberOptions
        {
            DataDir = Path.Combine(root, "data"),
            ListenClientUrls = ["http://127.0.0.1:0"],
            AdvertiseClientUrls = ["http://127.0.0.1:2379"],
            InitialAdvertisePeerUrls = ["http://127.0.0.1:2380"],
            StopGracePeriod = TimeSpan.FromMilliseconds(200),
        });
}

/// <summary>A clock that moves only when told; timers fire as it passes their due time.</summary>
internal sealed class ManualTime : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly List<ManualTimer> _timers = [];
    private readonly SemaphoreSlim _armed = new(0);
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock)
        {
            return _now;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Waits until some timer has been armed since the last call (the code under test waits again).</summary>
    public Task WaitForTimerAsync() => _armed.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(t =>
    {
        if (!t.Result)
        {
            throw new TimeoutException("nothing armed a timer");
        }
    }, TaskScheduler.Default);

    /// <summary>Moves the clock; returns how many timers fired.</summary>
    public int Advance(TimeSpan by)
    {
        List<ManualTimer> due;
        lock (_lock)
        {
            _now += by;
            due = _timers.Where(t => t.Due <= _now).ToList();
            foreach (ManualTimer timer in due)
            {
                _timers.Remove(timer);
            }
        }

        foreach (ManualTimer timer in due)
        {
            timer.Fire();
        }

        return due.Count;
    }

    private void Arm(ManualTimer timer, TimeSpan dueTime)
    {
        lock (_lock)
        {
            _timers.Remove(timer);
            if (dueTime != Timeout.InfiniteTimeSpan)
            {
                timer.Due = _now + dueTime;
                _timers.Add(timer);
            }
        }

        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            _armed.Release();
        }
    }

    private void Disarm(ManualTimer timer)
    {
        lock (_lock)
        {
            _timers.Remove(timer);
        }
    }

    private sealed class ManualTimer(ManualTime time, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset Due;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            time.Arm(this, dueTime);
            return true;
        }

        public void Fire() => callback(state);

        public void Dispose() => time.Disarm(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
