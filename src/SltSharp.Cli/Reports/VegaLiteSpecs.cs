using System.Globalization;
using System.Text.Json.Nodes;
using SltSharp.Store;

namespace SltSharp.Cli.Reports;

/// <summary>
/// Builds the Vega-Lite (v6) specifications of the report's charts as JSON. Data are inlined (reports are
/// self-contained); long series go through <see cref="TraceDownsampler"/>; NaN and infinities become null, which
/// Vega-Lite leaves out of continuous scales.
/// </summary>
public static partial class VegaLiteSpecs
{
    /// <summary>The Vega-Lite schema the specs follow.</summary>
    public const string Schema = "https://vega.github.io/schema/vega-lite/v6.json";

    /// <summary>Default bound on the number of plotted buckets per series.</summary>
    public const int DefaultMaxPoints = 600;

    private static readonly string[] VerdictOrder = ["Ok", "Warn", "Fail"];
    private static readonly string[] VerdictColors = ["#2e9e55", "#e8a33d", "#d64541"];

    /// <summary>Training curves: one line per metric, with the min–max band of each display bucket.</summary>
    /// <param name="metrics">Metric points (any order).</param>
    /// <param name="maxPoints">Bound on the buckets per metric.</param>
    /// <param name="logSteps">A (symmetric) log step axis, as on the LLC-over-training chart, so stages line up.</param>
    public static JsonObject TrainingCurves(IReadOnlyList<MetricPoint> metrics, int maxPoints = DefaultMaxPoints, bool logSteps = false)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var rows = new JsonArray();
        var positive = true;
        double lo = double.PositiveInfinity, hi = 0;
        foreach (var series in metrics.GroupBy(m => m.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var points = series.OrderBy(p => p.Step).ToArray();
            var values = points.Select(p => p.Value).ToArray();
            foreach (var b in TraceDownsampler.Envelope(values, maxPoints))
            {
                rows.Add(new JsonObject
                {
                    ["metric"] = series.Key,
                    ["step"] = points[(b.Start + b.End) / 2].Step,
                    ["min"] = Num(b.Min),
                    ["max"] = Num(b.Max),
                    ["mean"] = Num(b.Mean),
                });
                if (double.IsFinite(b.Min))
                {
                    positive &= b.Min > 0;
                    lo = Math.Min(lo, b.Min);
                    hi = Math.Max(hi, b.Max);
                }
            }
        }

        // Losses spanning orders of magnitude read better on a log axis; a log axis cannot show zero or negatives.
        var yScale = positive && hi / lo > 100 ? new JsonObject { ["type"] = "log" } : new JsonObject { ["zero"] = false };
        var x = Field("step", "quantitative", "training step");
        if (logSteps)
        {
            x["scale"] = new JsonObject { ["type"] = "symlog" };
        }

        var color = With(Field("metric", "nominal", "metric"), "legend", StrokeLegend());
        return Chart("Training curves", 240, rows, new JsonArray
        {
            Layer(new JsonObject { ["type"] = "area", ["opacity"] = 0.2 }, new JsonObject
            {
                ["x"] = x.DeepClone(),
                ["y"] = With(Field("min", "quantitative", "value"), "scale", yScale.DeepClone()),
                ["y2"] = new JsonObject { ["field"] = "max" },
                ["color"] = With(color.DeepClone().AsObject(), "legend", StrokeLegend()),
            }),
            Layer(new JsonObject { ["type"] = "line", ["strokeWidth"] = 1.5 }, new JsonObject
            {
                ["x"] = x.DeepClone(),
                ["y"] = With(Field("mean", "quantitative", "value"), "scale", yScale.DeepClone()),
                ["color"] = color.DeepClone(),
                ["tooltip"] = Tooltips(("metric", "nominal"), ("step", "quantitative"), ("mean", "quantitative")),
            }),
        });
    }

    /// <summary>Per-chain loss per draw with the burn-in shaded and L_n(w*) as a dashed line.</summary>
    /// <param name="section">The job's chains.</param>
    /// <param name="maxPoints">Bound on the buckets per chain.</param>
    public static JsonObject ChainLoss(TraceSection section, int maxPoints = DefaultMaxPoints)
    {
        ArgumentNullException.ThrowIfNull(section);
        var rows = new JsonArray();
        foreach (var chain in section.Chains)
        {
            foreach (var b in TraceDownsampler.Envelope(chain.Loss, maxPoints))
            {
                rows.Add(BucketRow(chain.Chain, b.Center, b));
            }
        }

        var draws = section.Chains.Count == 0 ? 1 : section.Chains.Max(c => c.Loss.Length);
        var x = With(Field("draw", "quantitative", "draw"), "scale", new JsonObject { ["domain"] = new JsonArray(0, Math.Max(1, draws - 1)) });
        var layers = new JsonArray
        {
            BurninBand(section.Burnin),
            Layer(new JsonObject { ["type"] = "area", ["opacity"] = 0.25 }, new JsonObject
            {
                ["x"] = x.DeepClone(),
                ["y"] = With(Field("min", "quantitative", "minibatch loss L_B(w_t)"), "scale", new JsonObject { ["zero"] = false }),
                ["y2"] = new JsonObject { ["field"] = "max" },
                ["color"] = With(Field("chain", "nominal", "chain"), "legend", StrokeLegend()),
            }),
            Layer(new JsonObject { ["type"] = "line", ["strokeWidth"] = 1 }, new JsonObject
            {
                ["x"] = x.DeepClone(),
                ["y"] = Field("mean", "quantitative", "minibatch loss L_B(w_t)"),
                ["color"] = With(Field("chain", "nominal", "chain"), "legend", StrokeLegend()),
                ["tooltip"] = Tooltips(("chain", "nominal"), ("draw", "quantitative"), ("mean", "quantitative")),
            }),
            BurninRule(section.Burnin),
        };
        var initial = section.Chains.Select(c => c.InitialLoss).FirstOrDefault(double.IsFinite, double.NaN);
        if (double.IsFinite(initial))
        {
            layers.Add(new JsonObject
            {
                ["data"] = Values(new JsonObject { ["initial"] = initial, ["label"] = "L_n(w*)" }),
                ["mark"] = new JsonObject { ["type"] = "rule", ["strokeDash"] = new JsonArray(6, 3), ["color"] = "#333" },
                ["encoding"] = new JsonObject
                {
                    ["y"] = Field("initial", "quantitative", null),
                    ["tooltip"] = Tooltips(("label", "nominal"), ("initial", "quantitative")),
                },
            });
        }

        return Chart("Loss per draw (burn-in shaded, dashed: L_n(w*))", 220, rows, layers);
    }

    /// <summary>Running λ̂ per chain after burn-in, with the job's estimate ± 2 SE as a band.</summary>
    /// <param name="section">The job's chains.</param>
    /// <param name="maxPoints">Bound on the buckets per chain.</param>
    public static JsonObject RunningLlc(TraceSection section, int maxPoints = DefaultMaxPoints)
    {
        ArgumentNullException.ThrowIfNull(section);
        var rows = new JsonArray();
        foreach (var chain in section.Chains)
        {
            var running = TraceDownsampler.RunningLambdaHat(chain.Loss, section.Burnin, section.NBeta, chain.InitialLoss);
            foreach (var b in TraceDownsampler.Envelope(running, maxPoints))
            {
                rows.Add(BucketRow(chain.Chain, section.Burnin + b.Center, b));
            }
        }

        var draws = section.Chains.Count == 0 ? 1 : section.Chains.Max(c => c.Loss.Length);
        var x = With(Field("draw", "quantitative", "draw"), "scale", new JsonObject { ["domain"] = new JsonArray(0, Math.Max(1, draws - 1)) });
        var layers = new JsonArray { BurninBand(section.Burnin) };
        if (section.Estimate is { } e && double.IsFinite(e.LambdaHat))
        {
            var se = double.IsFinite(e.StandardError) ? e.StandardError : 0;
            layers.Add(new JsonObject
            {
                ["data"] = Values(new JsonObject { ["lo"] = e.LambdaHat - (2 * se), ["hi"] = e.LambdaHat + (2 * se) }),
                ["mark"] = new JsonObject { ["type"] = "rect", ["color"] = "#888", ["opacity"] = 0.15 },
                ["encoding"] = new JsonObject
                {
                    ["y"] = Field("lo", "quantitative", null),
                    ["y2"] = new JsonObject { ["field"] = "hi" },
                },
            });
            layers.Add(new JsonObject
            {
                ["data"] = Values(new JsonObject { ["lambda"] = e.LambdaHat, ["label"] = "λ̂ (all chains)" }),
                ["mark"] = new JsonObject { ["type"] = "rule", ["strokeDash"] = new JsonArray(6, 3), ["color"] = "#333" },
                ["encoding"] = new JsonObject
                {
                    ["y"] = Field("lambda", "quantitative", null),
                    ["tooltip"] = Tooltips(("label", "nominal"), ("lambda", "quantitative")),
                },
            });
        }

        layers.Add(Layer(new JsonObject { ["type"] = "line", ["strokeWidth"] = 1.5 }, new JsonObject
        {
            ["x"] = x.DeepClone(),
            ["y"] = With(Field("mean", "quantitative", "running λ̂"), "scale", new JsonObject { ["zero"] = false }),
            ["color"] = Field("chain", "nominal", "chain"),
            ["tooltip"] = Tooltips(("chain", "nominal"), ("draw", "quantitative"), ("mean", "quantitative")),
        }));
        layers.Add(BurninRule(section.Burnin));
        return Chart("Running λ̂ per chain (band: λ̂ ± 2 SE)", 220, rows, layers);
    }

    /// <summary>λ̂ over training with ±1 SE bars, stage areas coloured by type and stage boundaries as rules.</summary>
    /// <param name="points">λ̂ per checkpoint.</param>
    /// <param name="stages">Developmental stages (may be empty).</param>
    /// <param name="title">Chart title.</param>
    /// <param name="seriesTitle">Legend title of the series.</param>
    public static JsonObject LlcOverTraining(IReadOnlyList<LlcPoint> points, IReadOnlyList<StageRecord> stages,
        string title = "Local learning coefficient over training", string seriesTitle = "sampler")
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(stages);
        var rows = new JsonArray();
        foreach (var p in points.OrderBy(p => p.Step))
        {
            var se = double.IsFinite(p.StandardError) ? p.StandardError : 0;
            rows.Add(new JsonObject
            {
                ["step"] = p.Step,
                ["lambda"] = Num(p.LambdaHat),
                ["lo"] = Num(p.LambdaHat - se),
                ["hi"] = Num(p.LambdaHat + se),
                ["se"] = Num(p.StandardError),
                ["series"] = p.Series,
                ["verdict"] = p.Verdict.ToString(),
            });
        }

        // Training happens on a log time scale: with steps over several decades a log axis shows early stages.
        var steps = points.Select(p => p.Step).Concat(stages.SelectMany(s => new[] { s.StartStep, s.EndStep })).ToList();
        var minStep = steps.Count == 0 ? 0 : steps.Min();
        var maxStep = steps.Count == 0 ? 1 : steps.Max();
        JsonObject xScale = minStep > 0 && maxStep / (double)minStep > 100 ? new JsonObject { ["type"] = "log" }
            : minStep <= 0 && maxStep > 1000 ? new JsonObject { ["type"] = "symlog" }
            : new JsonObject { ["zero"] = false };
        var x = With(Field("step", "quantitative", "training step"), "scale", xScale);

        var layers = new JsonArray();
        if (stages.Count > 0)
        {
            var stageRows = new JsonArray();
            foreach (var s in stages)
            {
                stageRows.Add(new JsonObject
                {
                    ["step"] = s.StartStep,
                    ["end"] = s.EndStep,
                    ["kind"] = s.Kind,
                    ["label"] = string.IsNullOrEmpty(s.Label) ? s.Kind : s.Label,
                    ["mid"] = xScale["type"]?.GetValue<string>() == "log" && s.StartStep > 0
                        ? Math.Sqrt(s.StartStep * (double)s.EndStep)
                        : 0.5 * (s.StartStep + s.EndStep),
                });
            }

            layers.Add(new JsonObject
            {
                ["data"] = new JsonObject { ["values"] = stageRows },
                ["layer"] = new JsonArray
                {
                    Layer(new JsonObject { ["type"] = "rect", ["opacity"] = 0.18 }, new JsonObject
                    {
                        ["x"] = x.DeepClone(),
                        ["x2"] = new JsonObject { ["field"] = "end" },
                        ["color"] = new JsonObject
                        {
                            ["field"] = "kind",
                            ["type"] = "nominal",
                            ["title"] = "stage type",
                            ["legend"] = new JsonObject { ["orient"] = "bottom", ["labelExpr"] = "datum.label == 'A' ? 'A: λ̂ rises' : datum.label == 'B' ? 'B: λ̂ falls' : datum.label" },
                            ["scale"] = new JsonObject
                            {
                                ["domain"] = new JsonArray("A", "B"),
                                ["range"] = new JsonArray("#f2b134", "#4aa3df"),
                            },
                        },
                        ["tooltip"] = Tooltips(("label", "nominal"), ("kind", "nominal"), ("step", "quantitative"), ("end", "quantitative")),
                    }),
                    Layer(new JsonObject { ["type"] = "rule", ["color"] = "#777", ["strokeDash"] = new JsonArray(3, 3) }, new JsonObject
                    {
                        ["x"] = With(Field("end", "quantitative", null), "scale", xScale.DeepClone()),
                    }),
                    Layer(new JsonObject { ["type"] = "text", ["dy"] = -4, ["baseline"] = "bottom", ["fontSize"] = 11, ["color"] = "#444" }, new JsonObject
                    {
                        ["x"] = With(Field("mid", "quantitative", null), "scale", xScale.DeepClone()),
                        ["y"] = new JsonObject { ["value"] = 14 },
                        ["text"] = new JsonObject { ["field"] = "label" },
                    }),
                },
            });
        }

        var series = With(Field("series", "nominal", seriesTitle), "legend", new JsonObject { ["orient"] = "bottom", ["direction"] = "vertical", ["labelLimit"] = 400 });
        var seriesLayers = new JsonArray();
        seriesLayers.Add(Layer(new JsonObject { ["type"] = "rule", ["strokeWidth"] = 1.5 }, new JsonObject
        {
            ["x"] = x.DeepClone(),
            ["y"] = Field("lo", "quantitative", "λ̂ (± 1 SE)"),
            ["y2"] = new JsonObject { ["field"] = "hi" },
            ["color"] = series.DeepClone(),
        }));
        seriesLayers.Add(Layer(new JsonObject { ["type"] = "line", ["point"] = true, ["strokeWidth"] = 2 }, new JsonObject
        {
            ["x"] = x.DeepClone(),
            ["y"] = Field("lambda", "quantitative", "λ̂ (± 1 SE)"),
            ["color"] = series.DeepClone(),
            ["tooltip"] = Tooltips(("step", "quantitative"), ("lambda", "quantitative"), ("se", "quantitative"), ("series", "nominal"), ("verdict", "nominal")),
        }));
        layers.Add(new JsonObject { ["layer"] = seriesLayers });

        var chart = Chart(title, 280, rows, layers);
        chart["resolve"] = new JsonObject { ["scale"] = new JsonObject { ["color"] = "independent" } };
        return chart;
    }

    /// <summary>
    /// Essential dynamics: the checkpoints' outputs in PC1 vs PC2, joined in training order, coloured by the stage each
    /// checkpoint falls in, with the checkpoints nearest each stage boundary marked and labelled.
    /// </summary>
    /// <param name="dynamics">Steps and projections (at least two components).</param>
    /// <param name="stages">Developmental stages (may be empty: one colour).</param>
    public static JsonObject EssentialDynamics(EssentialDynamicsView dynamics, IReadOnlyList<StageRecord> stages)
    {
        ArgumentNullException.ThrowIfNull(dynamics);
        ArgumentNullException.ThrowIfNull(stages);
        string StageOf(long step)
        {
            foreach (var s in stages)
            {
                if (step <= s.EndStep)
                {
                    return string.IsNullOrEmpty(s.Label) ? s.Kind : s.Label;
                }
            }

            return stages.Count == 0 ? "trajectory" : (string.IsNullOrEmpty(stages[^1].Label) ? stages[^1].Kind : stages[^1].Label);
        }

        var rows = new JsonArray();
        for (int i = 0; i < dynamics.Steps.Count; i++)
        {
            rows.Add(new JsonObject
            {
                ["step"] = dynamics.Steps[i],
                ["order"] = i,
                ["pc1"] = Num(dynamics.Projections[i][0]),
                ["pc2"] = Num(dynamics.Projections[i][1]),
                ["stage"] = StageOf(dynamics.Steps[i]),
            });
        }

        // Boundaries: the checkpoint nearest (in ln t) to the end of every stage but the last.
        var marks = new JsonArray();
        for (int s = 0; s + 1 < stages.Count; s++)
        {
            double target = Math.Log(Math.Max(1, stages[s].EndStep));
            int nearest = Enumerable.Range(0, dynamics.Steps.Count)
                .MinBy(i => Math.Abs(Math.Log(Math.Max(1, dynamics.Steps[i])) - target));
            marks.Add(new JsonObject
            {
                ["step"] = dynamics.Steps[nearest],
                ["pc1"] = Num(dynamics.Projections[nearest][0]),
                ["pc2"] = Num(dynamics.Projections[nearest][1]),
                ["label"] = string.Create(CultureInfo.InvariantCulture, $"{StageOf(dynamics.Steps[nearest])}|{stages[s + 1].Label} ≈ step {stages[s].EndStep}"),
            });
        }

        string Pc(int k) => string.Create(CultureInfo.InvariantCulture,
            $"PC{k + 1} ({(k < dynamics.ExplainedVarianceRatio.Count ? dynamics.ExplainedVarianceRatio[k] : double.NaN):P1} of variance)");
        var x = Field("pc1", "quantitative", Pc(0));
        var y = Field("pc2", "quantitative", Pc(1));
        x["scale"] = new JsonObject { ["zero"] = false };
        y["scale"] = new JsonObject { ["zero"] = false };
        var layers = new JsonArray
        {
            Layer(new JsonObject { ["type"] = "line", ["color"] = "#9e9e9e", ["strokeWidth"] = 1.2 }, new JsonObject
            {
                ["x"] = x.DeepClone(),
                ["y"] = y.DeepClone(),
                ["order"] = new JsonObject { ["field"] = "order", ["type"] = "quantitative" },
            }),
            Layer(new JsonObject { ["type"] = "point", ["filled"] = true, ["size"] = 60 }, new JsonObject
            {
                ["x"] = x.DeepClone(),
                ["y"] = y.DeepClone(),
                ["color"] = With(Field("stage", "nominal", "stage"), "sort", null),
                ["tooltip"] = Tooltips(("step", "quantitative"), ("stage", "nominal"), ("pc1", "quantitative"), ("pc2", "quantitative")),
            }),
        };
        if (marks.Count > 0)
        {
            layers.Add(new JsonObject
            {
                ["data"] = new JsonObject { ["values"] = marks },
                ["layer"] = new JsonArray
                {
                    Layer(new JsonObject { ["type"] = "point", ["shape"] = "diamond", ["size"] = 220, ["filled"] = false, ["color"] = "#222", ["strokeWidth"] = 2 }, new JsonObject
                    {
                        ["x"] = Field("pc1", "quantitative", null),
                        ["y"] = Field("pc2", "quantitative", null),
                        ["tooltip"] = Tooltips(("label", "nominal"), ("step", "quantitative")),
                    }),
                    Layer(new JsonObject { ["type"] = "text", ["dx"] = 8, ["dy"] = -8, ["align"] = "left", ["fontSize"] = 11, ["color"] = "#333" }, new JsonObject
                    {
                        ["x"] = Field("pc1", "quantitative", null),
                        ["y"] = Field("pc2", "quantitative", null),
                        ["text"] = new JsonObject { ["field"] = "label" },
                    }),
                },
            });
        }

        return Chart("Essential dynamics: model outputs on the probe set, PC1 vs PC2", 320, rows, layers);
    }

    /// <summary>The calibration grid twice: coloured by λ̂ and coloured by class, with the values written in the cells.</summary>
    /// <param name="cells">The (ε, nβ) cells.</param>
    public static JsonObject Calibration(IReadOnlyList<CalibrationCell> cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var epsLabels = cells.Select(c => c.StepSize).Distinct().Order().Select(Short).ToArray();
        var nbetaLabels = cells.Select(c => c.NBeta).Distinct().OrderDescending().Select(Short).ToArray();
        var finite = cells.Select(c => c.LambdaHat).Where(double.IsFinite).ToArray();
        var middle = finite.Length == 0 ? 0 : 0.5 * (finite.Min() + finite.Max());
        var rows = new JsonArray();
        foreach (var c in cells)
        {
            rows.Add(new JsonObject
            {
                ["eps"] = Short(c.StepSize),
                ["nbeta"] = Short(c.NBeta),
                ["lambda"] = Num(c.LambdaHat),
                ["text"] = double.IsFinite(c.LambdaHat) ? c.LambdaHat.ToString("G3", CultureInfo.InvariantCulture) : "NaN",
                ["class"] = c.Class,
            });
        }

        JsonObject Axis(string field, string title, string[] order) => new()
        {
            ["field"] = field,
            ["type"] = "ordinal",
            ["title"] = title,
            ["sort"] = new JsonArray(order.Select(o => (JsonNode?)o).ToArray()),
            ["axis"] = new JsonObject { ["labelAngle"] = 0 },
        };

        var classes = cells.Select(c => c.Class).Distinct().ToList();
        var classDomain = VerdictOrder.Where(classes.Contains).Concat(classes.Except(VerdictOrder).Order(StringComparer.Ordinal)).ToArray();
        var classRange = classDomain.Select(c => Array.IndexOf(VerdictOrder, c) is var i and >= 0 ? VerdictColors[i] : CalibrationClassColor(c)).ToArray();

        JsonObject Panel(string title, JsonObject color, JsonObject textColor, string textField) => new()
        {
            ["title"] = title,
            ["width"] = Math.Max(160, 56 * epsLabels.Length),
            ["height"] = Math.Max(120, 36 * nbetaLabels.Length),
            ["encoding"] = new JsonObject
            {
                ["x"] = Axis("eps", "step size ε", epsLabels),
                ["y"] = Axis("nbeta", "nβ", nbetaLabels),
            },
            ["layer"] = new JsonArray
            {
                new JsonObject
                {
                    ["mark"] = new JsonObject { ["type"] = "rect", ["color"] = "#d9d9d9", ["stroke"] = "white", ["strokeWidth"] = 1 },
                },
                new JsonObject
                {
                    ["mark"] = new JsonObject { ["type"] = "rect", ["stroke"] = "white", ["strokeWidth"] = 1 },
                    ["encoding"] = new JsonObject
                    {
                        ["color"] = color,
                        ["tooltip"] = Tooltips(("eps", "ordinal"), ("nbeta", "ordinal"), ("lambda", "quantitative"), ("class", "nominal")),
                    },
                },
                new JsonObject
                {
                    ["mark"] = new JsonObject { ["type"] = "text", ["fontSize"] = 11 },
                    ["encoding"] = new JsonObject
                    {
                        ["text"] = new JsonObject { ["field"] = textField },
                        ["color"] = textColor,
                    },
                },
            },
        };

        return new JsonObject
        {
            ["$schema"] = Schema,
            ["data"] = new JsonObject { ["values"] = rows },
            ["config"] = CommonConfig(),
            ["hconcat"] = new JsonArray
            {
                Panel(
                    "Calibration: λ̂ by step size and nβ",
                    new JsonObject
                    {
                        ["field"] = "lambda",
                        ["type"] = "quantitative",
                        ["title"] = "λ̂",
                        ["scale"] = new JsonObject { ["scheme"] = "viridis" },
                    },
                    // viridis is dark at low values and light at high ones: pick the readable text colour.
                    new JsonObject
                    {
                        ["condition"] = new JsonObject { ["test"] = string.Create(CultureInfo.InvariantCulture, $"!isValid(datum.lambda) || datum.lambda > {middle:R}"), ["value"] = "black" },
                        ["value"] = "white",
                    },
                    "text"),
                Panel(
                    "Calibration: diagnostics class",
                    new JsonObject
                    {
                        ["field"] = "class",
                        ["type"] = "nominal",
                        ["title"] = "class",
                        ["scale"] = new JsonObject
                        {
                            ["domain"] = new JsonArray(classDomain.Select(c => (JsonNode?)c).ToArray()),
                            ["range"] = new JsonArray(classRange.Select(c => (JsonNode?)c).ToArray()),
                        },
                    },
                    new JsonObject { ["value"] = "white" },
                    "class"),
            },
            ["resolve"] = new JsonObject { ["scale"] = new JsonObject { ["color"] = "independent" } },
        };
    }

    // The classes of 'slt calibrate' cells, coloured like the verdicts they correspond to (spiking between warn and fail).
    private static string CalibrationClassColor(string c) => c switch
    {
        "stable" => VerdictColors[0],
        "not mixed" => VerdictColors[1],
        "spiking" => "#e0692f",
        "diverged" => VerdictColors[2],
        _ => "#9e9e9e",
    };

    private static JsonObject Chart(string title, int height, JsonArray rows, JsonArray layers) => new()
    {
        ["$schema"] = Schema,
        ["title"] = title,
        ["width"] = "container",
        ["height"] = height,
        ["data"] = new JsonObject { ["values"] = rows },
        ["config"] = CommonConfig(),
        ["layer"] = layers,
    };

    private static JsonObject CommonConfig() => new()
    {
        ["view"] = new JsonObject { ["stroke"] = null },
        ["font"] = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        ["title"] = new JsonObject { ["fontSize"] = 14, ["anchor"] = "start", ["offset"] = 10 },
        ["axis"] = new JsonObject { ["labelFontSize"] = 11, ["titleFontSize"] = 12, ["gridColor"] = "#e6e6e6" },
        ["legend"] = new JsonObject { ["labelFontSize"] = 11, ["titleFontSize"] = 12, ["labelLimit"] = 400 },
    };

    private static JsonObject BucketRow(int chain, double draw, EnvelopeBucket b) => new()
    {
        ["chain"] = chain.ToString(CultureInfo.InvariantCulture),
        ["draw"] = draw,
        ["min"] = Num(b.Min),
        ["max"] = Num(b.Max),
        ["mean"] = Num(b.Mean),
    };

    private static JsonObject BurninBand(int burnin) => new()
    {
        ["data"] = Values(new JsonObject { ["start"] = 0, ["end"] = burnin, ["label"] = "burn-in" }),
        ["mark"] = new JsonObject { ["type"] = "rect", ["color"] = "#9e9e9e", ["opacity"] = 0.12 },
        ["encoding"] = new JsonObject
        {
            ["x"] = Field("start", "quantitative", null),
            ["x2"] = new JsonObject { ["field"] = "end" },
            ["tooltip"] = Tooltips(("label", "nominal"), ("end", "quantitative")),
        },
    };

    private static JsonObject BurninRule(int burnin) => new()
    {
        ["data"] = Values(new JsonObject { ["burnin"] = burnin }),
        ["mark"] = new JsonObject { ["type"] = "rule", ["color"] = "#555", ["strokeDash"] = new JsonArray(4, 4) },
        ["encoding"] = new JsonObject { ["x"] = Field("burnin", "quantitative", null) },
    };

    /// <summary>Band and line layers share one colour legend; show it as opaque strokes, not pale band swatches.</summary>
    private static JsonObject StrokeLegend() => new() { ["symbolType"] = "stroke", ["symbolOpacity"] = 1, ["symbolStrokeWidth"] = 2 };

    private static JsonObject Layer(JsonObject mark, JsonObject encoding) => new() { ["mark"] = mark, ["encoding"] = encoding };

    private static JsonObject Values(JsonObject row) => new() { ["values"] = new JsonArray(row) };

    private static JsonObject Field(string field, string type, string? title)
    {
        var f = new JsonObject { ["field"] = field, ["type"] = type };
        if (title is not null)
        {
            f["title"] = title;
        }

        return f;
    }

    private static JsonObject With(JsonObject obj, string key, JsonNode? value)
    {
        obj[key] = value;
        return obj;
    }

    private static JsonArray Tooltips(params (string Field, string Type)[] fields) =>
        new(fields.Select(f => (JsonNode?)new JsonObject
        {
            ["field"] = f.Field,
            ["type"] = f.Type,
            ["format"] = f.Type == "quantitative" ? ".4~g" : null,
        }).Select(n =>
        {
            if (n is JsonObject o && o["format"] is null)
            {
                o.Remove("format");
            }

            return n;
        }).ToArray());

    /// <summary>
    /// Display precision: 6 significant digits are far below a pixel and keep inline data (and the report) small.
    /// </summary>
    private static JsonNode? Num(double value) =>
        double.IsFinite(value) ? JsonValue.Create(double.Parse(value.ToString("G6", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)) : null;

    /// <summary>Compact number text: <c>1e-5</c>, <c>3e-4</c>, <c>0.001</c>, <c>100</c>.</summary>
    internal static string Short(double value)
    {
        var abs = Math.Abs(value);
        return value != 0 && double.IsFinite(value) && (abs < 1e-3 || abs >= 1e5)
            ? value.ToString("0.###e0", CultureInfo.InvariantCulture)
            : value.ToString("G4", CultureInfo.InvariantCulture);
    }
}
