using System.CommandLine;
using SltSharp.Cli.Commands;

namespace SltSharp.Cli;

/// <summary>The <c>slt</c> command tree. Kept separate from Program so tests can run commands in-process.</summary>
public static class SltApp
{
    /// <summary>Exit code for bad input (a usage or validation error the user can fix).</summary>
    public const int ExitBadInput = 2;

    /// <summary>Exit code for a run that started but failed (diverged, I/O error, ...).</summary>
    public const int ExitFailure = 1;

    /// <summary>Builds the root command with every subcommand.</summary>
    public static RootCommand BuildRoot(CliContext context)
    {
        var root = new RootCommand("SltSharp: singular learning theory on CPU — local learning coefficients, training trajectories, reports.");
        foreach (var command in CommandCatalog.Build(context))
        {
            root.Subcommands.Add(command);
        }
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given streams; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var context = new CliContext(output, error);
        var root = BuildRoot(context);
        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        try
        {
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0 && parse.Action is not System.CommandLine.Help.HelpAction)
            {
                foreach (var parseError in parse.Errors)
                {
                    await error.WriteLineAsync($"error: {parseError.Message}").ConfigureAwait(false);
                }
                await error.WriteLineAsync("Run 'slt --help' or 'slt <command> --help' for the options.").ConfigureAwait(false);
                return ExitBadInput;
            }
            return await parse.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        }
        catch (CliUsageException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
            return ExitBadInput;
        }
        catch (Exception ex) when (ex is SltSharp.Engine.Formats.CheckpointFormatException or SltSharp.Engine.Checkpoints.ModelSpecException)
        {
            // The message names the file, the tensor and expected vs actual shapes.
            await error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
            return ExitBadInput;
        }
        catch (SltSharp.Store.RunNotFoundException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
            return ExitBadInput;
        }
        catch (Exception ex) when (ex is SltSharp.Store.ResultsStoreException or Reports.ReportException)
        {
            // Store and report errors name the file and what to do; the store is left as it was.
            await error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
            return ExitFailure;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("cancelled: finished work is saved; run the same command again to resume.").ConfigureAwait(false);
            return ExitFailure;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or InvalidDataException or FormatException or UnauthorizedAccessException)
        {
            // Library errors are written to name the problem and the fix; show them as one line, no stack trace.
            await error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
            return ex is ArgumentException or FormatException or InvalidDataException ? ExitBadInput : ExitFailure;
        }
    }
}

/// <summary>Where a command writes, so that tests can capture it.</summary>
public sealed record CliContext(TextWriter Output, TextWriter Error)
{
    /// <summary>True when standard output is an interactive terminal (progress bars), false when piped or captured.</summary>
    public bool IsTerminal => ReferenceEquals(Output, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>True when errors and progress go to an interactive terminal (the progress bar), false when redirected or captured.</summary>
    public bool IsErrorTerminal => ReferenceEquals(Error, Console.Error) && !Console.IsErrorRedirected;
}

/// <summary>A usage error found after parsing (e.g. an option combination that makes no sense).</summary>
public sealed class CliUsageException(string message) : Exception(message);
