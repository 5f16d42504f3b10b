using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Random;

namespace SltSharp.Models.Tms;

/// <summary>
/// The toy model of superposition as an engine model: f(x) = ReLU(WᵀW·x + b) with parameters "W" [hidden, features]
/// and "b" [features], so the flat layout of one chain is W row-major then b, the layout of <see cref="TmsParameters"/>.
/// </summary>
public sealed class TmsModel<T> : Layer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _biasShape = new int[3];

    /// <summary>Creates the model; W starts N(0, 1/hidden) and b at 0 (any start is overwritten when sampling).</summary>
    public TmsModel(int hidden = 2, int features = 6)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        Hidden = hidden;
        Features = features;
        W = RegisterParameter("W", Initializer.Normal(0, 1.0 / Math.Sqrt(hidden)), hidden, features);
        B = RegisterParameter("b", Initializer.Constant(0), features);
    }

    /// <summary>Hidden width (2 in the standard model).</summary>
    public int Hidden { get; }

    /// <summary>Number of features (6 in the standard model).</summary>
    public int Features { get; }

    /// <summary>W [hidden, features]: column j embeds feature j.</summary>
    public Parameter<T> W { get; }

    /// <summary>b [features].</summary>
    public Parameter<T> B { get; }

    /// <summary>x [C, m, features] → ReLU(x·WᵀW + b) [C, m, features] (row form of WᵀW·x, as G is symmetric).</summary>
    public override Node<T> Forward(Tape<T> tape, Node<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        var w = tape.Parameter(W);
        var hiddenRows = tape.MatMul(x, w, transposeB: true); // [C, m, hidden]
        var reconstruction = tape.MatMul(hiddenRows, w);      // [C, m, features]
        _biasShape[0] = ChainsOf(B);
        _biasShape[1] = 1;
        _biasShape[2] = Features;
        var bias = tape.Reshape(tape.Parameter(B), _biasShape);
        return tape.Relu(tape.Add(reconstruction, bias));
    }
}

/// <summary>Data and the samplable empirical loss of the toy model of superposition (slt-reference §2c).</summary>
public static class TmsTask
{
    /// <summary>
    /// n inputs x = μ·e_i with i uniform over the features and μ ~ U[0, 1], as n×features rows (row-major). Sample s uses
    /// two draws of <c>new Rng(seed, 0)</c> in order (feature, then μ).
    /// </summary>
    public static T[] GenerateData<T>(int n, ulong seed, int features = 6)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        var rng = new Rng(seed, 0);
        var x = new T[n * features];
        for (int s = 0; s < n; s++)
        {
            int i = rng.NextInt(features);
            x[(s * features) + i] = T.CreateTruncating(rng.NextDouble());
        }
        return x;
    }

    /// <summary>
    /// The empirical loss L_n(W, b) = (1/n)·Σ_s ‖x_s − f(x_s)‖² (squared error summed over features, not halved) on
    /// n freshly generated samples, as a loss the samplers can use: the hand-derived <see cref="TmsChainedLoss{T}"/>
    /// (the same function as <see cref="CreateEngineLoss{T}"/>, many times faster). Its population limit is
    /// <see cref="TmsExactLoss"/>.
    /// </summary>
    public static TmsChainedLoss<T> CreateLoss<T>(int n, ulong seed, int hidden = 2, int features = 6)
        where T : unmanaged, IFloatingPointIeee754<T>
        => new(GenerateData<T>(n, seed, features), hidden, features);

    /// <summary>
    /// The same loss as <see cref="CreateLoss{T}"/> through the engine (<see cref="TmsModel{T}"/> on the tape): the
    /// reference the hand-derived gradient is checked against, and the route for variants of the model.
    /// </summary>
    public static EngineChainedLoss<T> CreateEngineLoss<T>(int n, ulong seed, int hidden = 2, int features = 6)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        var x = GenerateData<T>(n, seed, features);
        // MseLoss averages over m·features elements; the TMS loss sums over features, hence the factor.
        return new EngineChainedLoss<T>(() => new TmsModel<T>(hidden, features), x, features, x, features,
            (tape, prediction, target, chains) => tape.Scale(tape.MseLoss(prediction, target, chains), features));
    }

    /// <summary>The flat parameter vector (W row-major, then b) of a point, in the precision of the loss.</summary>
    public static T[] Flatten<T>(TmsParameters parameters)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return [.. parameters.W.Concat(parameters.B).Select(T.CreateTruncating)];
    }
}
