using Dotcd.Server.RaftLoop;

namespace Dotcd.Server.Tests.RaftLoop;

public sealed class DurationHistogramTests
{
    [Fact]
    public void WalFsyncBucketsAreEtcds()
    {
        DurationHistogram histogram = DurationHistogram.ForWalFsync();
        Assert.Equal(14, histogram.UpperBoundsSeconds.Count);
        Assert.Equal(0.001, histogram.UpperBoundsSeconds[0]);
        Assert.Equal(8.192, histogram.UpperBoundsSeconds[^1], precision: 9);
    }

    [Fact]
    public void ObservationsLandInCumulativeBuckets()
    {
        DurationHistogram histogram = DurationHistogram.ForWalFsync();
        histogram.Observe(TimeSpan.FromMilliseconds(0.5)); // le 0.001
        histogram.Observe(TimeSpan.FromMilliseconds(1));   // le 0.001: bounds are inclusive
        histogram.Observe(TimeSpan.FromMilliseconds(3));   // le 0.004
        histogram.Observe(TimeSpan.FromSeconds(10));       // +Inf only

        long[] cumulative = histogram.CumulativeCounts();
        Assert.Equal(15, cumulative.Length);
        Assert.Equal(2, cumulative[0]);  // le 0.001
        Assert.Equal(2, cumulative[1]);  // le 0.002
        Assert.Equal(3, cumulative[2]);  // le 0.004
        Assert.Equal(3, cumulative[13]); // le 8.192
        Assert.Equal(4, cumulative[14]); // +Inf
        Assert.Equal(4, histogram.Count);
        Assert.Equal(TimeSpan.FromMilliseconds(10_004.5), histogram.Sum);
    }
}
