using System.CommandLine;
using System.Text.Json.Nodes;
using SltSharp.Estimators;

namespace SltSharp.Cli.Commands;

/// <summary>
/// The options that name a built-in model and its data (shared by <c>slt llc</c> and <c>slt calibrate</c>, so that any
/// model one accepts the other does too), and how they become a <see cref="BuiltinModel"/>.
/// </summary>
internal sealed class ModelOptions
{
    public Option<string> Model { get; } = new("--model") { Description = "Built-in model: dln (deep linear network with a reduced-rank teacher), normal-crossing (y = x·Π w_i^p_i), normal-crossing-potential (K = Π w_i^(2p_i), no data; nβ default 100) or tms (toy model of superposition at --init).", DefaultValueFactory = _ => "dln" };

    public Option<int[]> Widths { get; } = OptionParsing.IntList("--widths", "DLN layer widths, input first (e.g. 10,20,10).", () => [10, 20, 10], minimum: 1);

    public Option<int> Rank { get; } = OptionParsing.BoundedInt("--rank", "DLN: rank of the teacher's product (every layer of the teacher has this rank).", 2, 0);

    public Option<int[]> Powers { get; } = OptionParsing.IntList("--powers", "normal-crossing: the powers p_i (e.g. 2,3).", () => [1, 2]);

    public Option<string> Init { get; } = new("--init") { Description = "tms: the critical point to sample at: 4gon, 5gon, 6gon or 5gon+.", DefaultValueFactory = _ => "5gon" };

    public Option<ulong> Seed { get; } = new("--seed") { Description = "Seed of the data and of every chain (chain c uses stream c).", DefaultValueFactory = _ => 0UL };

    public Option<int?> N { get; } = OptionParsing.OptionalInt("--n", "Number of samples in the dataset (default per model: dln 10000, normal-crossing 1000, tms 5000).", 2);

    public Option<int?> BatchSize { get; } = OptionParsing.OptionalInt("--batch-size", "Minibatch size m of the stochastic gradient, 0 for full batch (default per model: dln 100, normal-crossing full).", 0);

    public Option<string> Sampler { get; } = new("--sampler") { Description = "sgld, psgld (RMSprop-preconditioned), sgnht or mala (full batch, Metropolis-adjusted).", DefaultValueFactory = _ => "sgld" };

    private ModelOptions()
    {
        Model.AcceptOnlyFromAmong(LlcCommand.Models);
        Init.AcceptOnlyFromAmong([.. BuiltinModels.TmsInits.Keys]);
        Sampler.AcceptOnlyFromAmong("sgld", "psgld", "sgnht", "mala");
    }

    public static ModelOptions Create() => new();

    /// <summary>Every option, to add to a command.</summary>
    public IEnumerable<Option> All => [Model, Widths, Rank, Powers, Init, Seed, N, BatchSize, Sampler];

    /// <summary>
    /// The model, its per-model defaults, n and the batch size (0 = full batch), with usage errors for bad combinations.
    /// A model that comes from elsewhere (a checkpoint and its data) is passed as <paramref name="given"/> with its
    /// defaults; only the batch size is then read from the options.
    /// </summary>
    public (BuiltinModel Setup, ModelDefaults Defaults, int N, int Batch) Resolve(ParseResult parse, BuiltinModel? given = null, ModelDefaults? givenDefaults = null)
    {
        string modelName = parse.GetValue(Model)!;
        var defaults = givenDefaults ?? modelName switch { "dln" => BuiltinModels.DeepLinearDefaults, "tms" => BuiltinModels.TmsDefaults, "normal-crossing-potential" => BuiltinModels.NormalCrossingPotentialDefaults, _ => BuiltinModels.NormalCrossingDefaults };
        if (given is null && modelName == "normal-crossing-potential" && parse.GetValue(N) is { } givenN)
        {
            throw new CliUsageException($"--n {givenN}: normal-crossing-potential has no data (K = Π w_i^(2p_i) itself); drop --n, and set the temperature with --nbeta.");
        }
        int sampleCount = given is not null ? defaults.N : parse.GetValue(N) ?? defaults.N;
        int batch = parse.GetValue(BatchSize) ?? defaults.BatchSize;
        if (batch > sampleCount)
        {
            throw new CliUsageException($"--batch-size {batch} is larger than the dataset (--n {sampleCount}); use at most {sampleCount}, or 0 for full batch.");
        }
        var setup = given ?? modelName switch
        {
            "dln" => BuiltinModels.DeepLinear(parse.GetValue(Widths)!, parse.GetValue(Rank), sampleCount, parse.GetValue(Seed)),
            "tms" => BuiltinModels.Tms(parse.GetValue(Init)!, sampleCount, parse.GetValue(Seed)),
            "normal-crossing-potential" => BuiltinModels.NormalCrossingPotential(parse.GetValue(Powers)!),
            _ => BuiltinModels.NormalCrossing(parse.GetValue(Powers)!, sampleCount, parse.GetValue(Seed)),
        };
        return (setup, defaults, sampleCount, batch);
    }

    /// <summary>The sampler named by <c>--sampler</c>.</summary>
    public SamplerKind SamplerKind(ParseResult parse) => parse.GetValue(Sampler) switch
    {
        "psgld" => Estimators.SamplerKind.PreconditionedSgld,
        "sgnht" => Estimators.SamplerKind.Sgnht,
        "mala" => Estimators.SamplerKind.Mala,
        _ => Estimators.SamplerKind.Sgld,
    };

    /// <summary>The model as JSON (name, shape, n, data seed): with w* it identifies the checkpoint in the store.</summary>
    public JsonObject Spec(ParseResult parse, int sampleCount)
    {
        string modelName = parse.GetValue(Model)!;
        var spec = new JsonObject { ["name"] = modelName, ["n"] = sampleCount, ["seed"] = parse.GetValue(Seed) };
        if (modelName == "dln")
        {
            spec["widths"] = new JsonArray([.. parse.GetValue(Widths)!.Select(w => (JsonNode?)w)]);
            spec["rank"] = parse.GetValue(Rank);
        }
        else if (modelName == "tms")
        {
            spec["init"] = parse.GetValue(Init);
        }
        else
        {
            spec["powers"] = new JsonArray([.. parse.GetValue(Powers)!.Select(p => (JsonNode?)p)]);
        }
        return spec;
    }
}
