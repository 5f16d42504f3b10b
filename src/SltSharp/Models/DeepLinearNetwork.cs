using System.Numerics;
using SltSharp.Engine.Linalg;
using SltSharp.Engine.Random;
using SltSharp.Sampling;

namespace SltSharp.Models;

/// <summary>
/// A deep linear network y = W_L···W_1·x (no biases) fitted by L_B(w) = (1/m)·Σ_{i∈B} ||y_i − W_L···W_1·x_i||²
/// (squared error summed over outputs, averaged over samples), with a hand-written forward and backward pass batched over
/// chains through <see cref="Gemm.MultiplyBatched{T}"/>. Two layers give reduced-rank regression.
/// </summary>
/// <remarks>
/// Parameters of one chain are W_1 (H_2×H_1), W_2 (H_3×H_2), …, W_L (H_{L+1}×H_L), each row-major, concatenated.
/// Every chain's computation uses only its own parameters and batch rows, so a chain's loss does not depend on which
/// other chains are evaluated with it.
/// </remarks>
public sealed class DeepLinearNetwork<T> : IReplicableChainedLoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _widths;
    private readonly int[] _offsets;
    private readonly T[] _x;
    private readonly T[] _y;
    private readonly int _maxWidth;

    private int _bufferChains = -1, _bufferBatch = -1;
    private T[][] _activations = [];
    private T[] _targets = [];
    private T[] _delta = [];
    private T[] _deltaNext = [];

    /// <summary>Creates the network with layer widths H_1..H_{L+1} (input first) over data X (n×H_1) and Y (n×H_{L+1}), row-major.</summary>
    public DeepLinearNetwork(ReadOnlySpan<int> widths, T[] x, T[] y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (widths.Length < 2)
        {
            throw new ArgumentException($"Need at least input and output widths, got {widths.Length} widths.", nameof(widths));
        }
        foreach (int h in widths)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(h, nameof(widths));
        }
        _widths = widths.ToArray();
        _offsets = new int[widths.Length];
        int offset = 0;
        for (int l = 0; l < widths.Length - 1; l++)
        {
            _offsets[l] = offset;
            offset += widths[l] * widths[l + 1];
        }
        _offsets[^1] = offset;
        ParameterCount = offset;
        _maxWidth = widths.ToArray().Max();
        if (x.Length == 0 || x.Length % widths[0] != 0 || y.Length != x.Length / widths[0] * widths[^1])
        {
            throw new ArgumentException(
                $"X must be n×{widths[0]} and Y n×{widths[^1]} (row-major); got {x.Length} and {y.Length} values.", nameof(x));
        }
        SampleCount = x.Length / widths[0];
        _x = x;
        _y = y;
    }

    /// <summary>
    /// A teacher–student task as in Lau et al.: a teacher whose every layer has rank <paramref name="rank"/>
    /// (W_l = U_l·V_l, U_l entries N(0, 1/r), V_l entries N(0, 1/fan-in); all zero when r = 0), inputs x ~ U[−<paramref name="inputRange"/>,
    /// +<paramref name="inputRange"/>]^{H_1}, noiseless targets y = teacher(x). Returns the student model and the teacher
    /// parameters, which are a global minimum (L_n = 0) and the natural w*.
    /// </summary>
    public static (DeepLinearNetwork<T> Model, T[] Teacher) CreateTeacherTask(ReadOnlySpan<int> widths, int rank, int n, ulong seed, double inputRange = 10.0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        if (rank < 0 || rank > widths.ToArray().Min())
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, "The teacher rank must lie in [0, smallest width].");
        }
        int layers = widths.Length - 1;
        var teacherRng = new Rng(seed, 0);
        int p = 0;
        for (int l = 0; l < layers; l++)
        {
            p += widths[l] * widths[l + 1];
        }
        var teacher = new T[p];
        // Every layer W_l = U_l·V_l with inner dimension r, so every layer (and generically the product) has rank r.
        // This is the deepest point of the set of true parameters, where the local learning coefficient equals the
        // global one (Aoyagi's λ); a teacher with only one reduced layer sits at a less singular point.
        int offset = 0;
        for (int l = 0; l < layers; l++)
        {
            int hin = widths[l], hout = widths[l + 1];
            if (rank > 0)
            {
                var u = new T[hout * rank];
                var v = new T[rank * hin];
                teacherRng.FillGaussian(u.AsSpan(), T.CreateTruncating(1.0 / Math.Sqrt(rank)));
                teacherRng.FillGaussian(v.AsSpan(), T.CreateTruncating(1.0 / Math.Sqrt(hin)));
                Gemm.Multiply(false, false, hout, hin, rank, T.One, u, rank, v, hin, T.Zero, teacher.AsSpan(offset, hin * hout), hin);
            }
            offset += hin * hout;
        }

        int h1 = widths[0];
        var x = new T[n * h1];
        new Rng(seed, 1).FillUniform(x.AsSpan(), T.CreateTruncating(-inputRange), T.CreateTruncating(inputRange));
        // y = x·W_1ᵀ·…·W_Lᵀ, row by row of X at once.
        var current = x;
        offset = 0;
        for (int l = 0; l < layers; l++)
        {
            var next = new T[n * widths[l + 1]];
            Gemm.Multiply(false, true, n, widths[l + 1], widths[l], T.One, current, widths[l],
                teacher.AsSpan(offset, widths[l] * widths[l + 1]), widths[l], T.Zero, next, widths[l + 1]);
            offset += widths[l] * widths[l + 1];
            current = next;
        }
        return (new DeepLinearNetwork<T>(widths, x, current), teacher);
    }

    /// <summary>The inputs X, n×H_1 row-major (e.g. to save the dataset for another tool).</summary>
    public ReadOnlySpan<T> Inputs => _x;

    /// <summary>The targets Y, n×H_{L+1} row-major.</summary>
    public ReadOnlySpan<T> Targets => _y;

    /// <summary>Layer widths H_1..H_{L+1}.</summary>
    public ReadOnlySpan<int> Widths => _widths;

    /// <inheritdoc />
    public int ParameterCount { get; }

    /// <inheritdoc />
    public int SampleCount { get; }

    /// <inheritdoc />
    public void Evaluate(ReadOnlySpan<T> parameters, int chains, ReadOnlySpan<int> batch, Span<T> losses, Span<T> gradients)
    {
        int m = ModelGuards.CheckShapes(ParameterCount, parameters, chains, batch, losses, gradients);
        if (m == 0)
        {
            throw new ArgumentException("Each chain needs a non-empty batch.", nameof(batch));
        }
        EnsureBuffers(chains, m);
        int layers = _widths.Length - 1;
        int inputWidth = _widths[0], outputWidth = _widths[^1];
        int p = ParameterCount;

        // Gather each chain's batch rows.
        var input = _activations[0];
        for (int r = 0; r < batch.Length; r++)
        {
            int i = batch[r];
            if ((uint)i >= (uint)SampleCount)
            {
                throw new ArgumentOutOfRangeException(nameof(batch), i, $"Sample index must lie in [0, {SampleCount}).");
            }
            _x.AsSpan(i * inputWidth, inputWidth).CopyTo(input.AsSpan(r * inputWidth, inputWidth));
            _y.AsSpan(i * outputWidth, outputWidth).CopyTo(_targets.AsSpan(r * outputWidth, outputWidth));
        }

        // Forward: A_l (m×H_{l+1}) = A_{l−1}·W_lᵀ.
        for (int l = 0; l < layers; l++)
        {
            int hin = _widths[l], hout = _widths[l + 1];
            Gemm.MultiplyBatched(chains, false, true, m, hout, hin,
                T.One, _activations[l], hin, m * hin,
                parameters[_offsets[l]..], hin, p,
                T.Zero, _activations[l + 1], hout, m * hout);
        }

        // Residual and loss; the residual becomes dL/dA_L = (2/m)·R in place.
        var output = _activations[layers];
        int perChain = m * outputWidth;
        T scale = T.CreateTruncating(2.0 / m);
        T invM = T.One / T.CreateTruncating(m);
        for (int c = 0; c < chains; c++)
        {
            var o = output.AsSpan(c * perChain, perChain);
            var t = _targets.AsSpan(c * perChain, perChain);
            var d = _delta.AsSpan(c * perChain, perChain);
            System.Numerics.Tensors.TensorPrimitives.Subtract(o, t, d);
            losses[c] = System.Numerics.Tensors.TensorPrimitives.SumOfSquares<T>(d) * invM;
            System.Numerics.Tensors.TensorPrimitives.Multiply(d, scale, d);
        }
        if (gradients.IsEmpty)
        {
            return;
        }

        // Backward: dW_l = Gᵀ·A_{l−1}; G ← G·W_l.
        var g = _delta;
        var gNext = _deltaNext;
        for (int l = layers - 1; l >= 0; l--)
        {
            int hin = _widths[l], hout = _widths[l + 1];
            Gemm.MultiplyBatched(chains, true, false, hout, hin, m,
                T.One, g, hout, m * hout,
                _activations[l], hin, m * hin,
                T.Zero, gradients[_offsets[l]..], hin, p);
            if (l > 0)
            {
                Gemm.MultiplyBatched(chains, false, false, m, hin, hout,
                    T.One, g, hout, m * hout,
                    parameters[_offsets[l]..], hin, p,
                    T.Zero, gNext, hin, m * hin);
                (g, gNext) = (gNext, g);
            }
        }
    }

    /// <inheritdoc />
    public IChainedLoss<T> CreateReplica() => new DeepLinearNetwork<T>(_widths, _x, _y);

    private void EnsureBuffers(int chains, int m)
    {
        if (chains == _bufferChains && m == _bufferBatch)
        {
            return;
        }
        _activations = new T[_widths.Length][];
        for (int l = 0; l < _widths.Length; l++)
        {
            _activations[l] = new T[chains * m * _widths[l]];
        }
        _targets = new T[chains * m * _widths[^1]];
        _delta = new T[chains * m * _maxWidth];
        _deltaNext = new T[chains * m * _maxWidth];
        _bufferChains = chains;
        _bufferBatch = m;
    }
}
