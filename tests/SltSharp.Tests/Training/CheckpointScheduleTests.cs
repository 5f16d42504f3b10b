using SltSharp.Training;

namespace SltSharp.Tests.Training;

public class CheckpointScheduleTests
{
    [Fact]
    public void Linear_schedule_is_evenly_spaced_from_zero_to_the_end()
    {
        Assert.Equal([0L, 25, 50, 75, 100], CheckpointSchedule.Parse("linear:5").Steps(100));
        Assert.Equal([0L, 3, 7, 10], CheckpointSchedule.Parse("linear:4").Steps(10));
    }

    [Fact]
    public void Log_schedule_is_geometric_after_zero_and_always_has_k_distinct_steps()
    {
        var steps = CheckpointSchedule.Parse("log:5").Steps(1000);
        // 0, then 10^0, 10^1, 10^2, 10^3.
        Assert.Equal([0L, 1, 10, 100, 1000], steps);
        foreach (var (k, total) in new[] { (20, 1000L), (30, 40L), (11, 10L), (2, 1L), (50, 100_000L) })
        {
            var s = CheckpointSchedule.Parse($"log:{k}").Steps(total);
            Assert.Equal(k, s.Length);
            Assert.Equal(0, s[0]);
            Assert.Equal(total, s[^1]);
            Assert.True(s.Zip(s.Skip(1)).All(p => p.Second > p.First), string.Join(",", s));
        }
        // Away from the rounding collisions at the start the ratio of consecutive steps is constant: 10^(3/19).
        var many = CheckpointSchedule.Parse("log:21").Steps(1000);
        Assert.Equal(Math.Pow(10, 3.0 / 19), many[^1] / (double)many[^2], 2);
    }

    [Theory]
    [InlineData("log")]
    [InlineData("log:1")]
    [InlineData("cubic:4")]
    [InlineData("linear:x")]
    public void Bad_schedules_name_the_accepted_form(string text) =>
        Assert.Contains("'linear:K' or 'log:K'", Assert.Throws<FormatException>(() => CheckpointSchedule.Parse(text)).Message);

    [Fact]
    public void More_checkpoints_than_steps_is_an_error() =>
        Assert.Contains("do not fit", Assert.Throws<ArgumentException>(() => CheckpointSchedule.Parse("log:12").Steps(10)).Message);
}
