using System.Numerics;
using System.Runtime.Intrinsics.X86;
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
    private T[] _prefixes = [];
    private T[] _k = [];
    private T[] _kNext = [];
    private readonly int[] _prefixOffsets;
    private readonly int _prefixPerChain;

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
        // R_l = W_{l−1}···W_0 (H_l×H_0) for l = 2..L, stored per chain for the product form (R_1 = W_0 is read in place).
        _prefixOffsets = new int[widths.Length];
        int prefix = 0;
        for (int l = 2; l < widths.Length; l++)
        {
            _prefixOffsets[l] = prefix;
            prefix += widths[l] * widths[0];
        }
        _prefixPerChain = prefix;
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

    /// <summary>Layer widths H_1..H_{L+1}.</summary>
    public ReadOnlySpan<int> Widths => _widths;

    /// <summary>The inputs X, n×H_1 row-major (shared, not copied: e.g. to export the task to another tool).</summary>
    public ReadOnlySpan<T> Inputs => _x;

    /// <summary>The targets Y, n×H_{L+1} row-major.</summary>
    public ReadOnlySpan<T> Targets => _y;

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

        GatherRows(batch, inputWidth, outputWidth);

        bool productForm = Form switch
        {
            DeepLinearForm.Layered => false,
            DeepLinearForm.Product => true,
            _ => ProductFormIsCheaper(m, !gradients.IsEmpty),
        };
        if (productForm)
        {
            EvaluateProductForm(parameters, chains, m, losses, gradients);
            return;
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

        ResidualAndLoss(chains, m, losses);
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

    /// <summary>Which evaluation order <see cref="Evaluate"/> uses (by default the one with fewer multiply-adds).</summary>
    internal DeepLinearForm Form { get; set; }

    /// <inheritdoc />
    public IChainedLoss<T> CreateReplica() => new DeepLinearNetwork<T>(_widths, _x, _y) { Form = Form };

    /// <summary>
    /// Whether the product form needs fewer multiply-adds than the layered one for batch <paramref name="m"/>. With
    /// S = Σ_{l≥1} H_l·H_{l+1}, the layered pass costs m·(S + H_0H_1) forward and m·(3S + 2H_0H_1) with the gradient;
    /// the product form H_0·S + m·H_0H_L forward and 3H_0·S + 2m·H_0H_L with the gradient. It must win by 20%: its
    /// products are smaller (H×H_0 instead of m×H), which GEMM runs at a somewhat lower rate.
    /// </summary>
    internal bool ProductFormIsCheaper(int m, bool withGradient)
    {
        long h0 = _widths[0], hL = _widths[^1], first = h0 * _widths[1], inner = 0;
        for (int l = 1; l + 1 < _widths.Length; l++)
        {
            inner += (long)_widths[l] * _widths[l + 1];
        }
        long layered = withGradient ? m * ((3 * inner) + (2 * first)) : m * (inner + first);
        long product = withGradient ? (3 * h0 * inner) + (2 * m * h0 * hL) : (h0 * inner) + (m * h0 * hL);
        return product < 0.8 * layered;
    }

    /// <summary>
    /// The same loss and gradient through the end-to-end map, for batches larger than the input width.
    /// </summary>
    /// <remarks>
    /// A linear network's output is X·Pᵀ with P = W_{L−1}···W_0, and with G = ∂L/∂O = (2/m)·(O − Y) every layer's gradient
    /// is ∂L/∂W_l = (W_{L−1}···W_{l+1})ᵀ·(GᵀX)·(W_{l−1}···W_0)ᵀ. So the batch enters only twice (O = X·Pᵀ and
    /// M = GᵀX, an H_L×H_0 matrix); everything else is products of H×H_0 matrices: the prefixes R_{l+1} = W_l·R_l,
    /// K_{l−1} = W_lᵀ·K_l from K_{L−1} = M, and ∂L/∂W_l = K_l·R_lᵀ. For the 5×50 network at batch 100 that is 2.0M
    /// multiply-adds per chain instead of 3.5M. Same function, same gradient; only the rounding differs.
    /// </remarks>
    private void EvaluateProductForm(ReadOnlySpan<T> parameters, int chains, int m, Span<T> losses, Span<T> gradients)
    {
        int layers = _widths.Length - 1, h0 = _widths[0], hL = _widths[^1], p = ParameterCount, stride = _prefixPerChain;
        var prefixes = _prefixes.AsSpan();
        for (int l = 1; l < layers; l++)
        {
            int hl = _widths[l], hNext = _widths[l + 1];
            // R_{l+1} = W_l·R_l (H_{l+1}×H_0); R_1 is W_0 itself.
            ReadOnlySpan<T> r = l == 1 ? parameters[_offsets[0]..] : prefixes[_prefixOffsets[l]..];
            Gemm.MultiplyBatched(chains, false, false, hNext, h0, hl,
                T.One, parameters[_offsets[l]..], hl, p,
                r, h0, l == 1 ? p : stride,
                T.Zero, prefixes[_prefixOffsets[l + 1]..], h0, stride);
        }
        ReadOnlySpan<T> end = layers == 1 ? parameters[_offsets[0]..] : prefixes[_prefixOffsets[layers]..];
        int endStride = layers == 1 ? p : stride;
        Gemm.MultiplyBatched(chains, false, true, m, hL, h0,
            T.One, _activations[0], h0, m * h0,
            end, h0, endStride,
            T.Zero, _activations[layers], hL, m * hL);
        ResidualAndLoss(chains, m, losses);
        if (gradients.IsEmpty)
        {
            return;
        }

        int kStride = _maxWidth * h0;
        var k = _k;
        var kNext = _kNext;
        // K_{L−1} = M = GᵀX (H_L×H_0).
        Gemm.MultiplyBatched(chains, true, false, hL, h0, m,
            T.One, _delta, hL, m * hL,
            _activations[0], h0, m * h0,
            T.Zero, k, h0, kStride);
        for (int l = layers - 1; l >= 1; l--)
        {
            int hl = _widths[l], hNext = _widths[l + 1];
            ReadOnlySpan<T> r = l == 1 ? parameters[_offsets[0]..] : prefixes[_prefixOffsets[l]..];
            // ∂L/∂W_l = K_l·R_lᵀ (H_{l+1}×H_l).
            Gemm.MultiplyBatched(chains, false, true, hNext, hl, h0,
                T.One, k, h0, kStride,
                r, h0, l == 1 ? p : stride,
                T.Zero, gradients[_offsets[l]..], hl, p);
            // K_{l−1} = W_lᵀ·K_l (H_l×H_0).
            Gemm.MultiplyBatched(chains, true, false, hl, h0, hNext,
                T.One, parameters[_offsets[l]..], hl, p,
                k, h0, kStride,
                T.Zero, kNext, h0, kStride);
            (k, kNext) = (kNext, k);
        }
        // ∂L/∂W_0 = K_0 (R_0 is the identity).
        int firstSize = _widths[1] * h0;
        for (int c = 0; c < chains; c++)
        {
            k.AsSpan(c * kStride, firstSize).CopyTo(gradients.Slice((c * p) + _offsets[0], firstSize));
        }
    }

    /// <summary>How many rows ahead of the copy <see cref="GatherRows"/> requests the cache lines of X and Y.</summary>
    private const int PrefetchDistance = 8;

    /// <summary>Copies the batch rows of X and Y (all chains, in batch order) into the input and target buffers.</summary>
    /// <remarks>
    /// The rows are random draws from data larger than L2 (10 000 × (50 + 50) floats, 4 MB, for the 5×50 task), so the
    /// copies wait on memory: this gather was 12–15% of the CPU samples of a DLN 5×50 SGLD run (perf, sgld-table), 10%
    /// with the lines of the row <see cref="PrefetchDistance"/> positions ahead requested while the current row is
    /// copied. A prefetch is only a hint: the copied values are the same with or without it.
    /// </remarks>
    private unsafe void GatherRows(ReadOnlySpan<int> batch, int inputWidth, int outputWidth)
    {
        var input = _activations[0];
        int rows = batch.Length;
        fixed (T* x = _x)
        fixed (T* y = _y)
        {
            for (int r = 0; r < Math.Min(rows, PrefetchDistance); r++)
            {
                PrefetchSample(x, y, batch[r], inputWidth, outputWidth);
            }
            for (int r = 0; r < rows; r++)
            {
                int i = batch[r];
                if ((uint)i >= (uint)SampleCount)
                {
                    throw new ArgumentOutOfRangeException(nameof(batch), i, $"Sample index must lie in [0, {SampleCount}).");
                }
                if (r + PrefetchDistance < rows)
                {
                    PrefetchSample(x, y, batch[r + PrefetchDistance], inputWidth, outputWidth);
                }
                _x.AsSpan(i * inputWidth, inputWidth).CopyTo(input.AsSpan(r * inputWidth, inputWidth));
                _y.AsSpan(i * outputWidth, outputWidth).CopyTo(_targets.AsSpan(r * outputWidth, outputWidth));
            }
        }
    }

    /// <summary>Requests every cache line of sample <paramref name="index"/>'s rows of X and Y (nothing for an index out of range).</summary>
    private unsafe void PrefetchSample(T* x, T* y, int index, int inputWidth, int outputWidth)
    {
        if (!Sse.IsSupported || (uint)index >= (uint)SampleCount)
        {
            return;
        }
        PrefetchLines((byte*)(x + ((nint)index * inputWidth)), inputWidth * sizeof(T));
        PrefetchLines((byte*)(y + ((nint)index * outputWidth)), outputWidth * sizeof(T));
    }

    private static unsafe void PrefetchLines(byte* start, int bytes)
    {
        byte* end = start + bytes;
        for (byte* line = (byte*)((nint)start & ~(nint)63); line < end; line += 64)
        {
            Sse.Prefetch0(line);
        }
    }

    /// <summary>Loss per chain from the output and targets; leaves ∂L/∂O = (2/m)·(O − Y) in the delta buffer.</summary>
    private void ResidualAndLoss(int chains, int m, Span<T> losses)
    {
        var output = _activations[^1];
        int perChain = m * _widths[^1];
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
    }

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
        _prefixes = new T[chains * _prefixPerChain];
        _k = new T[chains * _maxWidth * _widths[0]];
        _kNext = new T[chains * _maxWidth * _widths[0]];
        _bufferChains = chains;
        _bufferBatch = m;
    }
}

/// <summary>The evaluation order of <see cref="DeepLinearNetwork{T}"/> (tests compare the two).</summary>
internal enum DeepLinearForm
{
    /// <summary>Whichever needs fewer multiply-adds.</summary>
    Auto,

    /// <summary>Layer by layer over the batch (backpropagation).</summary>
    Layered,

    /// <summary>Through the end-to-end product and GᵀX.</summary>
    Product,
}
