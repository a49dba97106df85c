namespace Dotcd.Server.RaftLoop;

/// <summary>
/// Lets callers wait until the applied index reaches a value (etcd's wait.WaitTime). The apply
/// thread calls Trigger after every batch; waiters at or below the new index complete.
/// </summary>
internal sealed class AppliedIndexWait
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<ulong, TaskCompletionSource> _waiters = new();
    private ulong _applied;          // Never regresses.
    private Exception? _stopped;     // Set once; every later wait fails with it.

    public Task WaitAsync(ulong index)
    {
        lock (_lock)
        {
            if (_stopped is not null) return Task.FromException(_stopped);
            if (index <= _applied) return Task.CompletedTask;
            if (!_waiters.TryGetValue(index, out TaskCompletionSource? waiter))
            {
                waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add(index, waiter);
            }
            return waiter.Task;
        }
    }

    public void Trigger(ulong applied)
    {
        List<TaskCompletionSource>? ready = null;
        lock (_lock)
        {
            if (applied <= _applied) return;
            _applied = applied;
            while (_waiters.Count > 0)
            {
                KeyValuePair<ulong, TaskCompletionSource> first = _waiters.First();
                if (first.Key > applied) break;
                _waiters.Remove(first.Key);
                (ready ??= []).Add(first.Value);
            }
        }
        if (ready is null) return;
        foreach (TaskCompletionSource waiter in ready) waiter.TrySetResult();
    }

    public void Stop(Exception error)
    {
        TaskCompletionSource[] waiters;
        lock (_lock)
        {
            _stopped ??= error;
            waiters = _waiters.Values.ToArray();
            _waiters.Clear();
        }
        foreach (TaskCompletionSource waiter in waiters) waiter.TrySetException(error);
    }
}
