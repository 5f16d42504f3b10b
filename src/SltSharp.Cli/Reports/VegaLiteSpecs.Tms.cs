using System.Globalization;
using System.Text.Json.Nodes;

namespace SltSharp.Cli.Reports;

/// <summary>Charts of the toy-model-of-superposition experiment (<c>slt experiment tms</c>).</summary>
public static partial class VegaLiteSpecs
{
    /// <summary>
    /// k-gon fractions after training against n (log x), with the posterior probability of V (the 6-gon) within
    /// {5-gon, 6-gon} from theory λ and from λ̂ as dashed lines and the critical n marked by rules.
    /// </summary>
    /// <param name="section">The experiment.</param>
    public static JsonObject KGonFractionsVsN(TmsExperimentSection section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var rows = new JsonArray();
        foreach (var f in section.Fractions.Where(f => f.Step == section.FinalStep).OrderBy(f => f.N))
        {
            rows.Add(new JsonObject { ["n"] = f.N, ["type"] = f.Type, ["fraction"] = Num(f.Fraction) });
        }
        var posterior = new JsonArray();
        foreach (var p in section.Posterior)
        {
            posterior.Add(new JsonObject { ["n"] = Num(p.N), ["source"] = p.Source, ["probability"] = Num(p.Probability) });
        }
        var rules = new JsonArray();
        if (section.NCritTheory is { } t)
        {
            rules.Add(new JsonObject { ["n"] = Num(t), ["label"] = string.Create(CultureInfo.InvariantCulture, $"n_crit (theory) {t:F0}") });
        }
        if (section.NCritEstimated is { } e)
        {
            rules.Add(new JsonObject { ["n"] = Num(e), ["label"] = string.Create(CultureInfo.InvariantCulture, $"n_crit (λ̂) {e:F0}") });
        }

        var x = With(With(Field("n", "quantitative", "training-set size n"), "scale", new JsonObject { ["type"] = "log" }),
            "axis", new JsonObject { ["labelOverlap"] = "greedy" });
        var y = With(Field("fraction", "quantitative", "fraction of seeds / posterior probability"), "scale", new JsonObject { ["domain"] = new JsonArray(0, 1) });
        var types = section.Types.Select(s => (JsonNode?)s).ToArray();
        var layers = new JsonArray
        {
            Layer(new JsonObject { ["type"] = "line", ["point"] = true, ["strokeWidth"] = 2 }, new JsonObject
            {
                ["x"] = x.DeepClone(),
                ["y"] = y.DeepClone(),
                ["color"] = With(With(Field("type", "nominal", "k-gon type after training"), "sort", new JsonArray(types)), "legend", new JsonObject { ["orient"] = "right" }),
                ["tooltip"] = Tooltips(("n", "quantitative"), ("type", "nominal"), ("fraction", "quantitative")),
            }),
            new JsonObject
            {
                ["data"] = new JsonObject { ["values"] = posterior },
                ["mark"] = new JsonObject { ["type"] = "line", ["color"] = "#222", ["strokeWidth"] = 1.5 },
                ["encoding"] = new JsonObject
                {
                    ["x"] = x.DeepClone(),
                    ["y"] = Field("probability", "quantitative", null),
                    ["strokeDash"] = With(Field("source", "nominal", "P(6-gon | {5-gon, 6-gon})"), "legend", new JsonObject { ["orient"] = "bottom", ["symbolType"] = "stroke" }),
                    ["tooltip"] = Tooltips(("source", "nominal"), ("n", "quantitative"), ("probability", "quantitative")),
                },
            },
        };
        if (rules.Count > 0)
        {
            layers.Add(new JsonObject
            {
                ["data"] = new JsonObject { ["values"] = rules },
                ["layer"] = new JsonArray
                {
                    Layer(new JsonObject { ["type"] = "rule", ["color"] = "#b42318", ["strokeDash"] = new JsonArray(4, 3) }, new JsonObject
                    {
                        ["x"] = x.DeepClone(),
                        ["tooltip"] = Tooltips(("label", "nominal"), ("n", "quantitative")),
                    }),
                    Layer(new JsonObject { ["type"] = "text", ["angle"] = 270, ["dx"] = -4, ["dy"] = -4, ["align"] = "right", ["baseline"] = "bottom", ["fontSize"] = 11, ["color"] = "#b42318" }, new JsonObject
                    {
                        ["x"] = x.DeepClone(),
                        ["y"] = new JsonObject { ["value"] = 0 },
                        ["text"] = new JsonObject { ["field"] = "label" },
                    }),
                },
            });
        }
        return Chart("k-gon type after training against n, and the posterior's preference", 300, rows, layers);
    }

    /// <summary>k-gon fractions against the training step (log x), one panel per training-set size.</summary>
    /// <param name="section">The experiment.</param>
    public static JsonObject KGonFractionsVsStep(TmsExperimentSection section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var rows = new JsonArray();
        foreach (var f in section.Fractions.Where(f => f.Step > 0).OrderBy(f => f.N).ThenBy(f => f.Step))
        {
            rows.Add(new JsonObject { ["n"] = f.N, ["step"] = f.Step, ["type"] = f.Type, ["fraction"] = Num(f.Fraction) });
        }
        var types = section.Types.Select(s => (JsonNode?)s).ToArray();
        return new JsonObject
        {
            ["$schema"] = Schema,
            ["title"] = "k-gon type against training step (one panel per n)",
            ["data"] = new JsonObject { ["values"] = rows },
            ["config"] = CommonConfig(),
            ["columns"] = 3,
            ["facet"] = With(Field("n", "ordinal", "training-set size n"), "header", new JsonObject { ["labelExpr"] = "'n = ' + datum.label" }),
            ["spec"] = new JsonObject
            {
                ["width"] = 280,
                ["height"] = 170,
                ["mark"] = new JsonObject { ["type"] = "line", ["point"] = new JsonObject { ["size"] = 14 }, ["strokeWidth"] = 1.5 },
                ["encoding"] = new JsonObject
                {
                    ["x"] = With(With(Field("step", "quantitative", "training step"), "scale", new JsonObject { ["type"] = "log" }),
                        "axis", new JsonObject { ["labelOverlap"] = "greedy", ["format"] = "~s" }),
                    ["y"] = With(Field("fraction", "quantitative", "fraction of seeds"), "scale", new JsonObject { ["domain"] = new JsonArray(0, 1) }),
                    ["color"] = With(Field("type", "nominal", "k-gon type"), "sort", new JsonArray(types)),
                    ["tooltip"] = Tooltips(("n", "ordinal"), ("step", "quantitative"), ("type", "nominal"), ("fraction", "quantitative")),
                },
            },
        };
    }
}
