using Dotcd.Raft.Tracker;

namespace Dotcd.Raft.Tests.Tracker;

public sealed class InflightsTests
{
    [Fact]
    public void AddFillsTheWindowUpToItsSize()
    {
        var inflights = new Inflights(10);
        for (ulong i = 0; i < 5; i++)
        {
            inflights.Add(i);
        }
        Assert.Equal(5, inflights.Count);
        Assert.False(inflights.Full);

        for (ulong i = 5; i < 10; i++)
        {
            inflights.Add(i);
        }
        Assert.Equal(10, inflights.Count);
        Assert.True(inflights.Full);
        Assert.Equal([0UL, 1, 2, 3, 4, 5, 6, 7, 8, 9], inflights.ToArray());
        Assert.Throws<InvalidOperationException>(() => inflights.Add(10));
    }

    [Fact]
    public void FreeLEFreesEverythingUpToTheIndexAcrossTheWrapAround()
    {
        var inflights = new Inflights(10);
        for (ulong i = 0; i < 10; i++)
        {
            inflights.Add(i);
        }

        inflights.FreeLE(4);
        Assert.Equal([5UL, 6, 7, 8, 9], inflights.ToArray());

        inflights.FreeLE(8);
        Assert.Equal([9UL], inflights.ToArray());

        // These wrap around to the front of the ring.
        for (ulong i = 10; i < 15; i++)
        {
            inflights.Add(i);
        }
        inflights.FreeLE(12);
        Assert.Equal([13UL, 14], inflights.ToArray());
        Assert.False(inflights.Full);

        inflights.FreeLE(14);
        Assert.Equal(0, inflights.Count);
        Assert.Empty(inflights.ToArray());
    }

    [Fact]
    public void FreeLEBelowTheOldestFreesNothing()
    {
        var inflights = new Inflights(4);
        inflights.Add(10);
        inflights.Add(20);
        inflights.FreeLE(9);
        Assert.Equal([10UL, 20], inflights.ToArray());
        inflights.FreeLE(15);
        Assert.Equal([20UL], inflights.ToArray());
    }

    [Fact]
    public void FreeFirstOneFreesOnlyTheOldest()
    {
        var inflights = new Inflights(10);
        for (ulong i = 0; i < 10; i++)
        {
            inflights.Add(i);
        }
        inflights.FreeFirstOne();
        Assert.Equal(9, inflights.Count);
        Assert.Equal(1UL, inflights.ToArray()[0]);

        var empty = new Inflights(3);
        empty.FreeFirstOne(); // Nothing to free; must not throw.
        Assert.Equal(0, empty.Count);
    }

    [Fact]
    public void ResetEmptiesTheWindow()
    {
        var inflights = new Inflights(2);
        inflights.Add(1);
        inflights.Add(2);
        inflights.Reset();
        Assert.Equal(0, inflights.Count);
        Assert.False(inflights.Full);
        inflights.Add(7);
        Assert.Equal([7UL], inflights.ToArray());
    }

    [Fact]
    public void AZeroSizedWindowIsAlwaysFull()
    {
        var inflights = new Inflights(0);
        Assert.True(inflights.Full);
        Assert.Throws<InvalidOperationException>(() => inflights.Add(1));
    }

    [Fact]
    public void CloneIsIndependentOfTheOriginal()
    {
        var inflights = new Inflights(3);
        inflights.Add(1);
        inflights.Add(2);
        var copy = inflights.Clone();
        copy.FreeLE(1);
        copy.Add(3);
        copy.Add(4);
        Assert.Equal([1UL, 2], inflights.ToArray());
        Assert.Equal([2UL, 3, 4], copy.ToArray());
        Assert.True(copy.Full);
    }

    // The buffer grows lazily while the ring wraps; a queue is the reference model.
    [Fact]
    public void BehavesLikeABoundedQueueUnderRandomUse()
    {
        var random = new Random(20240601);
        for (int round = 0; round < 200; round++)
        {
            int size = random.Next(1, 20);
            var inflights = new Inflights(size);
            var model = new Queue<ulong>();
            ulong next = 1;
            for (int step = 0; step < 200; step++)
            {
                switch (random.Next(4))
                {
                    case 0:
                    case 1:
                        if (model.Count < size)
                        {
                            next += (ulong)random.Next(1, 4);
                            inflights.Add(next);
                            model.Enqueue(next);
                        }
                        break;
                    case 2:
                        ulong to = next - (ulong)random.Next(0, 8);
                        inflights.FreeLE(to);
                        while (model.Count > 0 && model.Peek() <= to)
                        {
                            model.Dequeue();
                        }
                        break;
                    default:
                        inflights.FreeFirstOne();
                        model.TryDequeue(out _);
                        break;
                }
                Assert.Equal(model.ToArray(), inflights.ToArray());
                Assert.Equal(model.Count == size, inflights.Full);
            }
        }
    }
}
