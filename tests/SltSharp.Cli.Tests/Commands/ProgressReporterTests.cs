using System.Text.Json;
using SltSharp.Sampling;

namespace SltSharp.Cli.Tests.Commands;

public sealed class ProgressReporterTests
{
    [Fact]
    public void Plain_mode_counts_advances_from_many_threads_and_ends_with_a_total_line()
    {
        using var log = new StringWriter();
        var reporter = ProgressReporter.Plain(log, "work", 4_000, TimeSpan.Zero);
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 1_000; i++)
            {
                reporter.Advance();
            }
        });
        Assert.Equal(4_000, reporter.Done);
        reporter.Dispose();
        reporter.Dispose(); // a second Dispose writes nothing more
        string[] lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 2, log.ToString()); // with interval 0 every advance may write; at least one periodic line
        Assert.StartsWith("work: 4000/4000 (100", lines[^1], StringComparison.Ordinal);
        Assert.Contains(" s", lines[^1], StringComparison.Ordinal);
        Assert.Single(lines, l => l.Contains(" in ", StringComparison.Ordinal));
    }

    [Fact]
    public void Periodic_lines_wait_for_the_interval()
    {
        using var log = new StringWriter();
        using (var reporter = ProgressReporter.Plain(log, "slow", 100, TimeSpan.FromHours(1)))
        {
            reporter.Advance(50);
            reporter.Advance(50);
        }
        // No hour passed: only the closing line.
        Assert.Equal("slow: 100/100 (100 %) in", log.ToString().Split('\n')[0][..24]);
        Assert.Single(log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Chain_reports_add_up_to_the_draws_done_without_double_counting()
    {
        using var reporter = ProgressReporter.Silent("sampling", 30);
        var progress = reporter.ForChains(3);
        for (int d = 1; d <= 10; d++)
        {
            progress.Report(new SamplingProgress(0, d, 10));
        }
        progress.Report(new SamplingProgress(2, 4, 10));
        progress.Report(new SamplingProgress(2, 4, 10)); // repeated: no new work
        progress.Report(new SamplingProgress(1, 7, 10));
        progress.Report(new SamplingProgress(5, 3, 10)); // not a chain of this run: ignored
        Assert.Equal(10 + 4 + 7, reporter.Done);
    }

    [Fact]
    public void A_chain_index_that_starts_a_new_estimate_counts_its_draws_again()
    {
        // A trajectory reuses one reporter for every checkpoint: chain 0 ends checkpoint 1 at draw 10 and starts the next at 1.
        using var reporter = ProgressReporter.Silent("checkpoints", 20);
        var progress = reporter.ForChains(1);
        progress.Report(new SamplingProgress(0, 10, 10));
        progress.Report(new SamplingProgress(0, 2, 10));
        progress.Report(new SamplingProgress(0, 10, 10));
        Assert.Equal(20, reporter.Done);
    }

    [Fact]
    public void Counts_set_the_total_and_AdvanceTo_never_goes_back()
    {
        using var log = new StringWriter();
        using (var reporter = ProgressReporter.Plain(log, "cells", 1, TimeSpan.FromHours(1)))
        {
            var counts = reporter.ForCounts();
            counts.Report((3, 12));
            Assert.Equal((3L, 12L), (reporter.Done, reporter.Total));
            reporter.AdvanceTo(2);
            Assert.Equal(3, reporter.Done);
            reporter.Status = "ε = 1e-4";
            reporter.Note("cell 3 stable");
            counts.Report((12, 12));
        }
        string[] lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("cell 3 stable", lines[0]);
        Assert.StartsWith("cells: 12/12 (100", lines[^1], StringComparison.Ordinal);
        Assert.EndsWith("(ε = 1e-4)", lines[^1].TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Llc_json_keeps_stdout_one_json_object_and_reports_progress_on_stderr()
    {
        var (exit, stdout, stderr) = await CliRunner.Run("llc", "--model", "dln", "--widths", "5,3,5", "--rank", "0", "--chains", "2", "--draws", "50", "--burnin", "0", "--json", "--no-store");
        Assert.True(exit is 0 or 1, stderr);
        Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        Assert.Contains("sampling 2 chains × 50 draws: 100/100 (100 %) in", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Llc_quiet_writes_no_progress()
    {
        var (exit, stdout, stderr) = await CliRunner.Run("llc", "--model", "dln", "--widths", "5,3,5", "--rank", "0", "--chains", "2", "--draws", "50", "--burnin", "0", "--quiet", "--no-store");
        Assert.True(exit is 0 or 1, stderr);
        Assert.Equal("", stderr);
        Assert.Contains("λ̂", stdout, StringComparison.Ordinal);
    }
}
