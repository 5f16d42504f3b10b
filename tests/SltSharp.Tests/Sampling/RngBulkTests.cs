using SltSharp.Engine.Random;
using Xunit;

namespace SltSharp.Tests.Sampling;

/// <summary>The bulk draws samplers use must be exactly the one-at-a-time draws (same seed ⇒ same results).</summary>
public class RngBulkTests
{
    [Theory]
    [InlineData(5000)]
    [InlineData(7)]
    [InlineData(int.MaxValue)]
    [InlineData((1 << 30) + 12345)]
    public void FillIndicesEqualsNextIntCalls(int n)
    {
        var bulk = new Rng(3, 9);
        var single = new Rng(3, 9);
        var indices = new int[1000];
        bulk.FillIndices(indices, n);
        for (int i = 0; i < indices.Length; i++)
        {
            Assert.Equal(single.NextInt(n), indices[i]);
        }
        Assert.Equal(single.NextUInt64(), bulk.NextUInt64()); // the state advanced identically
    }

    [Fact]
    public void FillBitsEqualsNextUInt64Calls()
    {
        var bulk = new Rng(4, 2);
        var single = new Rng(4, 2);
        var bits = new ulong[257];
        bulk.FillBits(bits);
        Assert.All(bits, b => Assert.Equal(single.NextUInt64(), b));
        Assert.Equal(single.NextDouble(), bulk.NextDouble());
    }

    [Fact]
    public void FillIndicesRejectsAnEmptyRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rng(1).FillIndices(new int[3], 0));
    }
}
