using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;

namespace SltSharp.Experiments.Icl;

/// <summary>Shape of the in-context regression transformer.</summary>
/// <param name="ModelDimension">d_model.</param>
/// <param name="Heads">Attention heads per layer.</param>
/// <param name="Layers">Transformer blocks.</param>
/// <param name="MlpHidden">Hidden width of each MLP.</param>
public sealed record IclModelShape(int ModelDimension = 32, int Heads = 4, int Layers = 2, int MlpHidden = 64);

/// <summary>
/// The in-context regression model: a <see cref="ContinuousDecoderTransformer{T}"/> with a scalar readout, fed one
/// encoded sequence per row (see <see cref="IclTaskDistribution"/>), returning the prediction of y_k read at the
/// position of x_k: rows [C, B, 2K·(D+1)] → predictions [C, B, K]. Keys are the transformer's, under <c>transformer.</c>.
/// </summary>
public sealed class IclTransformer<T> : Layer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _pairsShape = new int[4];
    private readonly int[] _outShape = new int[3];

    /// <summary>Creates the (unbuilt) model.</summary>
    public IclTransformer(int dimension, int pairs, IclModelShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        Dimension = dimension;
        Pairs = pairs;
        Shape = shape;
        Transformer = RegisterModule("transformer", new ContinuousDecoderTransformer<T>(
            dimension + 1, 1, 2 * pairs, shape.ModelDimension, shape.Heads, shape.Layers, shape.MlpHidden));
    }

    /// <summary>D.</summary>
    public int Dimension { get; }

    /// <summary>K.</summary>
    public int Pairs { get; }

    /// <summary>The architecture.</summary>
    public IclModelShape Shape { get; }

    /// <summary>The underlying transformer.</summary>
    public ContinuousDecoderTransformer<T> Transformer { get; }

    /// <inheritdoc/>
    public override Node<T> Forward(Tape<T> tape, Node<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        int c = x.Dim(0), b = x.Dim(1);
        var outputs = Transformer.Forward(tape, x);   // [C, B, 2K, 1]: x-token, y-token, x-token, ...
        _pairsShape[0] = c;
        _pairsShape[1] = b;
        _pairsShape[2] = Pairs;
        _pairsShape[3] = 2;
        var atX = tape.Narrow(tape.Reshape(outputs, _pairsShape), 3, 0, 1);  // the x-token positions
        _outShape[0] = c;
        _outShape[1] = b;
        _outShape[2] = Pairs;
        return tape.Reshape(atX, _outShape);
    }

    /// <summary>
    /// The weights of every attention head, for weight-refined LLCs (Wang et al.): head h of layer l owns its rows of
    /// the q, k and v projections (weights and biases) and its columns of the output projection. Masks are over one
    /// chain's flat parameter layout (state_dict order, each parameter row-major).
    /// </summary>
    /// <param name="layout">The flat layout, e.g. <c>EngineChainedLoss.ParameterLayout</c>.</param>
    /// <param name="shape">The architecture the layout belongs to.</param>
    /// <returns>(label "l{layer}h{head}", mask) per head, layer-major.</returns>
    public static IReadOnlyList<(string Label, bool[] Mask)> HeadMasks(IReadOnlyList<(string Name, int[] Shape)> layout, IclModelShape shape)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(shape);
        var offsets = new Dictionary<string, int>(StringComparer.Ordinal);
        int total = 0;
        foreach (var (name, dims) in layout)
        {
            offsets[name] = total;
            total += dims.Aggregate(1, (a, v) => a * v);
        }
        int d = shape.ModelDimension, dh = d / shape.Heads;
        var result = new List<(string, bool[])>();
        for (int l = 0; l < shape.Layers; l++)
        {
            string prefix = $"transformer.blocks.{l}.attn.";
            int qkvW = Offset(offsets, prefix + "qkv.weight"), qkvB = Offset(offsets, prefix + "qkv.bias");
            int projW = Offset(offsets, prefix + "proj.weight");
            for (int h = 0; h < shape.Heads; h++)
            {
                var mask = new bool[total];
                for (int part = 0; part < 3; part++)
                {
                    for (int r = 0; r < dh; r++)
                    {
                        int row = (part * d) + (h * dh) + r;
                        mask.AsSpan(qkvW + (row * d), d).Fill(true);
                        mask[qkvB + row] = true;
                    }
                }
                for (int r = 0; r < d; r++)
                {
                    mask.AsSpan(projW + (r * d) + (h * dh), dh).Fill(true);
                }
                result.Add(($"l{l}h{h}", mask));
            }
        }
        return result;
    }

    private static int Offset(Dictionary<string, int> offsets, string name) =>
        offsets.TryGetValue(name, out int o) ? o : throw new ArgumentException($"The parameter layout has no '{name}'; is it an IclTransformer's?", nameof(offsets));
}
