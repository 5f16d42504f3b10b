using System.Globalization;
using System.Text.Json.Nodes;
using SltSharp.Diagnostics;
using SltSharp.Estimators;
using SltSharp.Store;

namespace SltSharp.Cli.Commands;

/// <summary>
/// Prints a calibration (table or JSON) and records its grid in a results store: one run (command <c>calibrate</c>), one
/// checkpoint, one sampling job per cell with its chains and an estimate whose diagnostics carry the cell's class, so
/// that <c>slt report</c> draws the ε × nβ heatmap.
/// </summary>
internal static class CalibrationRecording
{
    public const string Command = "calibrate";

    /// <summary>Records the sweep as a new run and returns its id.</summary>
    public static long Record(string storePath, JsonObject modelSpec, JsonObject config, BuiltinModel setup, CalibrationResult result,
        LlcOptions baseOptions, CalibrationOptions options)
    {
        using var store = SqliteResultsStore.Open(storePath);
        string configJson = new JsonObject { ["model"] = modelSpec.DeepClone(), ["calibration"] = config.DeepClone() }.ToJsonString();
        var run = store.CreateRun(new RunStart(Command, configJson, unchecked((long)baseOptions.Seed), "slt", Environment.MachineName));
        return RunStatusScope.Run(store, run.Id, () =>
        {
            var checkpoint = store.AddCheckpoint(run.Id, 0, "builtin:" + (string?)modelSpec["name"], LlcRecording.CheckpointHash(modelSpec, setup.WStar));
            foreach (var cell in result.Cells)
            {
                var samplerConfig = new JsonObject
                {
                    ["sampler"] = baseOptions.Sampler.ToString().ToLowerInvariant(), ["epsilon"] = cell.StepSize, ["nbeta"] = cell.NBeta,
                    ["gamma"] = cell.Localization, ["chains"] = options.CellChains, ["draws"] = options.CellDraws, ["burnin"] = options.CellBurnin,
                    ["thinning"] = options.CellThinning, ["batch_size"] = baseOptions.BatchSize, ["seed"] = baseOptions.Seed, ["calibration_run"] = run.Id,
                };
                var job = store.FindOrCreateJob(new SamplingJobSpec(checkpoint.Id, (string)samplerConfig["sampler"]!, cell.StepSize, cell.NBeta,
                    cell.Localization, options.CellChains, options.CellDraws, 0, samplerConfig.ToJsonString()));
                if (cell.Run is { } r)
                {
                    var s = r.Sampling;
                    for (int c = 0; c < s.Losses.Length; c++)
                    {
                        if (s.Losses[c].Length == 0)
                        {
                            continue;
                        }
                        var info = new Dictionary<string, float[]> { ["acceptance"] = [.. s.Acceptances[c].Select(v => (float)v)] };
                        if (s.Diverged[c])
                        {
                            info["diverged"] = [1f];
                        }
                        double lambda = s.Diverged[c] ? double.NaN : r.NBeta * (s.Losses[c].Average() - r.ReferenceLoss);
                        store.SaveChain(new ChainRecord(job.Id, c, r.ReferenceLoss, s.Losses[c], info, lambda, 0));
                    }
                }
                var diagnostics = new JsonObject
                {
                    ["calibration_class"] = Calibration.Label(cell.Class),
                    ["acceptance"] = Finite(cell.Acceptance),
                    ["r_hat"] = Finite(cell.RHat),
                    ["bulk_ess"] = Finite(cell.BulkEss),
                    ["drift_z"] = Finite(cell.DriftZScore),
                    ["diverged_chains"] = cell.DivergedChains,
                    ["chosen"] = result.Choice?.Cell == cell,
                };
                var verdict = cell.Class switch { CellClass.Stable => Verdict.Ok, CellClass.NotMixed => Verdict.Warn, _ => Verdict.Fail };
                store.CompleteJob(new EstimateRecord(job.Id, cell.Lambda, cell.StandardError, diagnostics.ToJsonString(), verdict, [.. cell.Reasons]));
            }
            return run.Id;
        });
    }

    /// <summary>The grid as a table, then the recommendation and its reasons.</summary>
    public static void WriteHuman(TextWriter o, CalibrationResult r)
    {
        o.WriteLine($"calibration {r.Cells.Count} cells in {r.Elapsed.TotalSeconds:F1} s (L(w*) = {r.ReferenceLoss:G6}, base nβ = {r.BaseNBeta:G4})");
        o.WriteLine($"  {"γ",-7} {"nβ",-9} {"ε",-9} {"class",-10} {"λ̂ ± SE",-20} {"accept",6} {"R-hat",6} {"ESS",6} {"drift",6}");
        foreach (var c in r.Cells)
        {
            string mark = r.Choice?.Cell == c ? "*" : " ";
            string lambda = double.IsFinite(c.Lambda) ? $"{c.Lambda:G4} ± {c.StandardError:G2}" : "—";
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{mark} {c.Localization,-7:G3} {c.NBeta,-9:G4} {c.StepSize,-9:G3} {Calibration.Label(c.Class),-10} {lambda,-20} {c.Acceptance,6:F2} {c.RHat,6:F3} {c.BulkEss,6:F0} {c.DriftZScore,6:F1}"));
        }
        if (r.Choice is { } choice)
        {
            o.WriteLine($"recommend  ε = {choice.StepSize:G3}, nβ = {choice.NBeta:G6}, γ = {choice.Localization:G3}{(choice.Verified ? "" : " (not fully verified)")}");
        }
        else
        {
            o.WriteLine("recommend  nothing: no cell is usable");
        }
        foreach (string reason in r.Reasons)
        {
            o.WriteLine($"  - {reason}");
        }
    }

    /// <summary>The calibration as JSON: the choice, its reasons and the grid.</summary>
    public static JsonObject ToJson(CalibrationResult r) => new()
    {
        ["epsilon"] = r.Choice?.StepSize,
        ["nbeta"] = r.Choice?.NBeta,
        ["gamma"] = r.Choice?.Localization,
        ["verified"] = r.Choice?.Verified,
        ["reasons"] = new JsonArray([.. r.Reasons.Select(s => (JsonNode?)JsonValue.Create(s))]),
        ["base_nbeta"] = r.BaseNBeta,
        ["reference_loss"] = r.ReferenceLoss,
        ["seconds"] = r.Elapsed.TotalSeconds,
        ["probe"] = new JsonArray([.. r.Probe.Select(p => (JsonNode?)new JsonObject
        {
            ["epsilon"] = p.StepSize, ["acceptance"] = Finite(p.Acceptance), ["diverged"] = p.Diverged,
        })]),
        ["cells"] = new JsonArray([.. r.Cells.Select(c => (JsonNode?)new JsonObject
        {
            ["epsilon"] = c.StepSize,
            ["nbeta"] = c.NBeta,
            ["gamma"] = c.Localization,
            ["class"] = Calibration.Label(c.Class),
            ["llc_mean"] = Finite(c.Lambda),
            ["llc_se"] = Finite(c.StandardError),
            ["acceptance"] = Finite(c.Acceptance),
            ["r_hat"] = Finite(c.RHat),
            ["ess"] = Finite(c.BulkEss),
            ["drift_z"] = Finite(c.DriftZScore),
            ["diverged_chains"] = c.DivergedChains,
            ["reasons"] = new JsonArray([.. c.Reasons.Select(s => (JsonNode?)JsonValue.Create(s))]),
        })]),
    };

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
