using System.CommandLine;

namespace SltSharp.Cli.Commands;

/// <summary>The list of <c>slt</c> subcommands, in the order help shows them.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> Build(CliContext context)
    {
        yield return LlcCommand.Build(context);
        yield return SelectCommand.Build(context);
        yield return ExperimentCommand.Build(context);
        yield return ReportCommand.Build(context);
        yield return ExportCommand.Build(context);
        yield return InfoCommand.Build(context);
    }
}
