using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Ops;

namespace SltSharp.Engine.Layers;

/// <summary><c>nn.Linear</c>: y = x·Wᵀ + b with <c>weight</c> [out, in] and <c>bias</c> [out], PyTorch's default init.</summary>
public sealed class Linear<T> : Layer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer; <paramref name="bias"/> false drops the bias like <c>bias=False</c>.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", Initializer.LinearDefault(inFeatures), outFeatures, inFeatures);
        Bias = bias ? RegisterParameter("bias", Initializer.LinearDefault(inFeatures), outFeatures) : null;
    }

    /// <summary>Input width.</summary>
    public int InFeatures { get; }

    /// <summary>Output width.</summary>
    public int OutFeatures { get; }

    /// <summary>[out, in].</summary>
    public Parameter<T> Weight { get; }

    /// <summary>[out], or null.</summary>
    public Parameter<T>? Bias { get; }

    /// <inheritdoc/>
    public override Node<T> Forward(Tape<T> tape, Node<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        return tape.Linear(x, tape.Parameter(Weight), Bias is null ? null : tape.Parameter(Bias));
    }
}

/// <summary><c>nn.Embedding</c>: a [V, D] table initialised N(0, 1).</summary>
public sealed class Embedding<T> : Module<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates a table of <paramref name="count"/> vectors of width <paramref name="dimension"/>.</summary>
    public Embedding(int count, int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        Count = count;
        Dimension = dimension;
        Weight = RegisterParameter("weight", Initializer.Normal(0, 1), count, dimension);
    }

    /// <summary>V.</summary>
    public int Count { get; }

    /// <summary>D.</summary>
    public int Dimension { get; }

    /// <summary>[V, D].</summary>
    public Parameter<T> Weight { get; }

    /// <summary>Looks up <paramref name="indices"/> (shape <paramref name="indexShape"/>, chain axis first) → [...indexShape, D].</summary>
    public Node<T> Forward(Tape<T> tape, ReadOnlySpan<int> indices, params ReadOnlySpan<int> indexShape)
    {
        ArgumentNullException.ThrowIfNull(tape);
        return tape.Embedding(tape.Parameter(Weight), indices, indexShape);
    }
}

/// <summary><c>nn.LayerNorm(D)</c> over the last axis: weight ones, bias zeros, eps 1e-5.</summary>
public sealed class LayerNorm<T> : Layer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer; <paramref name="elementwiseAffine"/> false has no parameters.</summary>
    public LayerNorm(int dimension, double epsilon = NormalizationOps.DefaultLayerNormEpsilon, bool elementwiseAffine = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        Epsilon = epsilon;
        if (elementwiseAffine)
        {
            Weight = RegisterParameter("weight", Initializer.Constant(1), dimension);
            Bias = RegisterParameter("bias", Initializer.Constant(0), dimension);
        }
    }

    /// <summary>The variance floor.</summary>
    public double Epsilon { get; }

    /// <summary>[D] scale, or null.</summary>
    public Parameter<T>? Weight { get; }

    /// <summary>[D] shift, or null.</summary>
    public Parameter<T>? Bias { get; }

    /// <inheritdoc/>
    public override Node<T> Forward(Tape<T> tape, Node<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        return tape.LayerNorm(x, Weight is null ? null : tape.Parameter(Weight), Bias is null ? null : tape.Parameter(Bias), Epsilon);
    }
}

/// <summary>The parameterless elementwise activations, as layers (so that <see cref="Sequential{T}"/> indices match PyTorch's).</summary>
public enum ActivationKind
{
    /// <summary><c>nn.ReLU</c>.</summary>
    Relu,

    /// <summary><c>nn.GELU()</c> (exact, erf form).</summary>
    Gelu,

    /// <summary><c>nn.GELU(approximate="tanh")</c>.</summary>
    GeluTanh,

    /// <summary><c>nn.Tanh</c>.</summary>
    Tanh,

    /// <summary><c>nn.Sigmoid</c>.</summary>
    Sigmoid,
}

/// <summary>An activation function as a layer; it has no parameters but takes an index in a <see cref="Sequential{T}"/>.</summary>
public sealed class Activation<T>(ActivationKind kind) : Layer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Which function.</summary>
    public ActivationKind Kind { get; } = kind;

    /// <inheritdoc/>
    public override Node<T> Forward(Tape<T> tape, Node<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        return Kind switch
        {
            ActivationKind.Relu => tape.Relu(x),
            ActivationKind.Gelu => tape.Gelu(x),
            ActivationKind.GeluTanh => tape.Gelu(x, tanhApproximation: true),
            ActivationKind.Tanh => tape.Tanh(x),
            _ => tape.Sigmoid(x),
        };
    }
}

/// <summary><c>nn.Sequential</c>: children named "0", "1", ... (activations count), applied in order.</summary>
public sealed class Sequential<T> : Layer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Layer<T>[] _layers;

    /// <summary>Creates the container.</summary>
    public Sequential(params Layer<T>[] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        _layers = [.. layers];
        for (int i = 0; i < _layers.Length; i++)
        {
            RegisterModule(i.ToString(System.Globalization.CultureInfo.InvariantCulture), _layers[i]);
        }
    }

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<Layer<T>> Layers => _layers;

    /// <inheritdoc/>
    public override Node<T> Forward(Tape<T> tape, Node<T> x)
    {
        foreach (var layer in _layers)
        {
            x = layer.Forward(tape, x);
        }
        return x;
    }

    /// <summary>
    /// Linear(w0→w1), act, Linear(w1→w2), act, ..., Linear(→w_last): PyTorch's usual MLP, keys "0.weight", "2.weight", ...
    /// </summary>
    public static Sequential<T> Mlp(ReadOnlySpan<int> widths, ActivationKind activation = ActivationKind.Relu, bool bias = true)
    {
        if (widths.Length < 2)
        {
            throw new ArgumentException("An MLP needs at least an input and an output width.", nameof(widths));
        }
        var layers = new List<Layer<T>>();
        for (int i = 0; i + 1 < widths.Length; i++)
        {
            if (i > 0)
            {
                layers.Add(new Activation<T>(activation));
            }
            layers.Add(new Linear<T>(widths[i], widths[i + 1], bias));
        }
        return new Sequential<T>([.. layers]);
    }

    /// <summary>A deep linear network W_L···W_1·x: bias-free Linear layers, keys "0.weight", "1.weight", ...</summary>
    public static Sequential<T> DeepLinear(ReadOnlySpan<int> widths)
    {
        if (widths.Length < 2)
        {
            throw new ArgumentException("A deep linear network needs at least an input and an output width.", nameof(widths));
        }
        var layers = new Layer<T>[widths.Length - 1];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = new Linear<T>(widths[i], widths[i + 1], bias: false);
        }
        return new Sequential<T>(layers);
    }
}
