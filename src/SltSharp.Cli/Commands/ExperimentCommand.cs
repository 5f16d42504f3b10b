using System.CommandLine;

namespace SltSharp.Cli.Commands;

/// <summary><c>slt experiment</c>: the parent of the literature's experiment recipes (one subcommand each).</summary>
internal static class ExperimentCommand
{
    public static Command Build(CliContext context)
    {
        var command = new Command("experiment", "Run an experiment of the literature end to end: train, measure, detect stages, record, report.");
        foreach (var subcommand in Subcommands(context))
        {
            command.Subcommands.Add(subcommand);
        }
        return command;
    }

    /// <summary>One line per experiment; keep it a list so parallel branches merge by adding lines.</summary>
    private static IEnumerable<Command> Subcommands(CliContext context)
    {
        yield return TmsExperimentCommand.Build(context);
        yield return ExperimentIclCommand.Build(context);
    }
}
