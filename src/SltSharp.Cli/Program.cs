using SltSharp.Cli;

return await SltApp.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
