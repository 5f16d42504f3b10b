using System.CommandLine;

namespace SltSharp.Cli.Commands;

/// <summary><c>slt experiment</c>: the parent of the experiment recipes (one subcommand per experiment).</summary>
internal static class ExperimentCommand
{
    public static Command Build(CliContext context)
    {
        var command = new Command("experiment", "Run a packaged experiment end to end: training, measurements, the results store and an HTML report.");
        command.Subcommands.Add(TmsExperimentCommand.Build(context));
        return command;
    }
}
