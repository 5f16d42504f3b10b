using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SltSharp.Engine.Linalg;
using SltSharp.Sampling;

namespace SltSharp.Models.Tms;

/// <summary>
/// The toy model of superposition's empirical loss L_B(W, b) = (1/m)·Σ_{s∈B} ‖x_s − ReLU(WᵀW·x_s + b)‖² with a
/// hand-derived gradient, for sampling: the same function as <see cref="TmsModel{T}"/> on the tape (same flat layout,
/// W [hidden, features] row-major then b), without the tape's per-node overhead.
/// </summary>
/// <remarks>
/// <para>Why by hand: a 2×6 model at batch 500 does ~12k multiply-adds per chain-step, so recording and replaying a
/// graph cost far more than the arithmetic (the tape version ran ≈ 100 ns per sample; this one a few ns).</para>
/// <para>Derivation. With G = WᵀW (symmetric), pre = G·x + b, r = ReLU(pre) − x and d = (2/m)·r⊙1[pre &gt; 0]:
/// ∂L/∂b = Σ_s d_s, ∂L/∂G = A = Σ_s d_s·x_sᵀ, and since dG = dWᵀ·W + Wᵀ·dW, ∂L/∂W = W·(A + Aᵀ).
/// So each sample costs only the product G·x and the outer product d·xᵀ, over the nonzero entries of x (the data are
/// stored sparsely once: TMS inputs have one active feature); the hidden layer never appears per sample. The feature dimension is one SIMD vector (rows padded with zeros).</para>
/// <para>Each chain reads only its own parameters and batch rows and accumulates in a fixed order, so a chain's values do
/// not depend on the other chains evaluated with it (the chain-major contract of <see cref="IChainedLoss{T}"/>).</para>
/// </remarks>
public sealed class TmsChainedLoss<T> : IReplicableChainedLoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _x;
    private readonly int _stride;
    private readonly T[] _xPadded;
    private readonly int[] _rowStart;
    private readonly int[] _column;
    private readonly T[] _value;

    // Per-chain scratch, reused by every call (a replica owns its own).
    private readonly T[] _wPadded;
    private readonly T[] _bPadded;
    private readonly T[] _g;
    private readonly T[] _aTransposed;
    private readonly T[] _biasGradient;

    /// <summary>The loss on n rows of <paramref name="features"/> values each (row-major), shared with replicas, not copied.</summary>
    public TmsChainedLoss(T[] x, int hidden = 2, int features = 6)
        : this(x, hidden, features, null)
    {
    }

    private TmsChainedLoss(T[] x, int hidden, int features, TmsChainedLoss<T>? original)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        if (x.Length == 0 || x.Length % features != 0)
        {
            throw new ArgumentException($"x must hold n rows of {features} values (n ≥ 1); got {x.Length} values.", nameof(x));
        }
        if (!Vector<T>.IsSupported)
        {
            throw new NotSupportedException($"TmsChainedLoss needs a SIMD element type (float or double), not {typeof(T).Name}.");
        }
        Hidden = hidden;
        Features = features;
        // Feature rows padded to whole SIMD vectors (one vector of floats for the 6-feature model).
        _stride = (features + Vector<T>.Count - 1) / Vector<T>.Count * Vector<T>.Count;
        SampleCount = x.Length / features;
        ParameterCount = (hidden * features) + features;
        _x = x;
        if (original is not null)
        {
            (_rowStart, _column, _value, _xPadded) = (original._rowStart, original._column, original._value, original._xPadded);
        }
        else
        {
            // Compressed rows: the nonzero entries of each sample (zeros contribute nothing to G·x or d·xᵀ).
            _rowStart = new int[SampleCount + 1];
            var columns = new List<int>();
            var values = new List<T>();
            for (int s = 0; s < SampleCount; s++)
            {
                for (int k = 0; k < features; k++)
                {
                    T v = x[(s * features) + k];
                    if (v != T.Zero)
                    {
                        columns.Add(k);
                        values.Add(v);
                    }
                }
                _rowStart[s + 1] = columns.Count;
            }
            _column = [.. columns];
            _value = [.. values];
            _xPadded = new T[SampleCount * _stride];
            for (int s = 0; s < SampleCount; s++)
            {
                x.AsSpan(s * features, features).CopyTo(_xPadded.AsSpan(s * _stride, features));
            }
        }
        _wPadded = new T[hidden * _stride];
        _bPadded = new T[_stride];
        _g = new T[features * _stride];
        _aTransposed = new T[features * _stride];
        _biasGradient = new T[_stride];
    }

    /// <summary>Hidden width.</summary>
    public int Hidden { get; }

    /// <summary>Number of features.</summary>
    public int Features { get; }

    /// <inheritdoc />
    public int ParameterCount { get; }

    /// <inheritdoc />
    public int SampleCount { get; }

    /// <inheritdoc />
    public IChainedLoss<T> CreateReplica() => new TmsChainedLoss<T>(_x, Hidden, Features, this);

    /// <inheritdoc />
    public void Evaluate(ReadOnlySpan<T> parameters, int chains, ReadOnlySpan<int> batch, Span<T> losses, Span<T> gradients)
    {
        int m = ModelGuards.CheckShapes(ParameterCount, parameters, chains, batch, losses, gradients);
        if (m == 0)
        {
            throw new ArgumentException("Each chain needs a non-empty batch.", nameof(batch));
        }
        foreach (int i in batch)
        {
            if ((uint)i >= (uint)SampleCount)
            {
                throw new ArgumentOutOfRangeException(nameof(batch), i, $"Sample index must lie in [0, {SampleCount}).");
            }
        }
        int p = ParameterCount;
        for (int c = 0; c < chains; c++)
        {
            losses[c] = EvaluateChain(parameters.Slice(c * p, p), batch.Slice(c * m, m), gradients.IsEmpty ? default : gradients.Slice(c * p, p));
        }
    }

    private T EvaluateChain(ReadOnlySpan<T> w, ReadOnlySpan<int> batch, Span<T> gradient)
    {
        int f = Features, h = Hidden, stride = _stride, width = Vector<T>.Count;
        // Rows padded to whole vectors with zeros: padded lanes get pre = 0, so they add 0 to the loss and gradients.
        var wPadded = _wPadded.AsSpan();
        for (int r = 0; r < h; r++)
        {
            w.Slice(r * f, f).CopyTo(wPadded.Slice(r * stride, f));
        }
        w.Slice(h * f, f).CopyTo(_bPadded);
        // Row k of G = WᵀW is Σ_r W[r, k]·W[r, :].
        var g = _g.AsSpan();
        g.Clear();
        for (int k = 0; k < f; k++)
        {
            var gk = g.Slice(k * stride, stride);
            for (int r = 0; r < h; r++)
            {
                T wrk = w[(r * f) + k];
                var wr = wPadded.Slice(r * stride, stride);
                for (int j = 0; j < f; j++)
                {
                    gk[j] += wrk * wr[j];
                }
            }
        }
        bool withGradient = !gradient.IsEmpty;
        _aTransposed.AsSpan().Clear();
        _biasGradient.AsSpan().Clear();

        ref T gRef = ref MemoryMarshal.GetArrayDataReference(_g);
        ref T atRef = ref MemoryMarshal.GetArrayDataReference(_aTransposed);
        ref T dbRef = ref MemoryMarshal.GetArrayDataReference(_biasGradient);
        ref T bRef = ref MemoryMarshal.GetArrayDataReference(_bPadded);
        ref T xRef = ref MemoryMarshal.GetArrayDataReference(_xPadded);
        ref T valueRef = ref MemoryMarshal.GetArrayDataReference(_value);
        ref int columnRef = ref MemoryMarshal.GetArrayDataReference(_column);
        ref int rowStartRef = ref MemoryMarshal.GetArrayDataReference(_rowStart);
        var loss = Vector<T>.Zero;
        if (stride == width && withGradient)
        {
            // One vector per row (the 6-feature model in float): the bias gradient and the loss stay in registers. Through
            // memory, the bias gradient's load-add-store was a dependency chain from every sample to the next.
            var db = Vector<T>.Zero;
            var b = Vector.LoadUnsafe(ref bRef);
            foreach (int s in batch)
            {
                int start = Unsafe.Add(ref rowStartRef, s), end = Unsafe.Add(ref rowStartRef, s + 1);
                var pre = b;
                for (int e = start; e < end; e++)
                {
                    pre += new Vector<T>(Unsafe.Add(ref valueRef, e)) * Vector.LoadUnsafe(ref gRef, (nuint)(Unsafe.Add(ref columnRef, e) * stride));
                }
                var residual = Vector.Max(pre, Vector<T>.Zero) - Vector.LoadUnsafe(ref xRef, (nuint)s * (nuint)stride);
                loss += residual * residual;
                var d = Vector.ConditionalSelect(Vector.GreaterThan(pre, Vector<T>.Zero), residual, Vector<T>.Zero);
                db += d;
                for (int e = start; e < end; e++)
                {
                    nuint at = (nuint)(Unsafe.Add(ref columnRef, e) * stride);
                    (Vector.LoadUnsafe(ref atRef, at) + (d * new Vector<T>(Unsafe.Add(ref valueRef, e)))).StoreUnsafe(ref atRef, at);
                }
            }
            db.StoreUnsafe(ref dbRef);
        }
        else
        {
            foreach (int s in batch) // indices were checked by Evaluate; the sparse rows at construction
            {
                int start = Unsafe.Add(ref rowStartRef, s), end = Unsafe.Add(ref rowStartRef, s + 1);
                nuint xOffset = (nuint)s * (nuint)stride;
                for (int q = 0; q < stride; q += width)
                {
                    // pre = b + G·x over x's nonzeros (G symmetric: column k of G is row k).
                    var pre = Vector.LoadUnsafe(ref bRef, (nuint)q);
                    for (int e = start; e < end; e++)
                    {
                        pre += new Vector<T>(Unsafe.Add(ref valueRef, e)) * Vector.LoadUnsafe(ref gRef, (nuint)((Unsafe.Add(ref columnRef, e) * stride) + q));
                    }
                    var residual = Vector.Max(pre, Vector<T>.Zero) - Vector.LoadUnsafe(ref xRef, xOffset + (nuint)q);
                    loss += residual * residual;
                    if (!withGradient)
                    {
                        continue;
                    }
                    // d (unscaled): the ReLU passes the residual only where it is active.
                    var d = Vector.ConditionalSelect(Vector.GreaterThan(pre, Vector<T>.Zero), residual, Vector<T>.Zero);
                    (Vector.LoadUnsafe(ref dbRef, (nuint)q) + d).StoreUnsafe(ref dbRef, (nuint)q);
                    for (int e = start; e < end; e++)
                    {
                        // row k of Aᵀ = column k of A = Σ_s d_s·x_sk
                        nuint at = (nuint)((Unsafe.Add(ref columnRef, e) * stride) + q);
                        (Vector.LoadUnsafe(ref atRef, at) + (d * new Vector<T>(Unsafe.Add(ref valueRef, e)))).StoreUnsafe(ref atRef, at);
                    }
                }
            }
        }
        T invM = T.One / T.CreateTruncating(batch.Length);
        T meanLoss = SimdRounding.SumLanes(loss) * invM;
        if (!withGradient)
        {
            return meanLoss;
        }
        T scale = T.CreateTruncating(2.0) * invM;
        var at2 = _aTransposed.AsSpan();
        // ∂L/∂W = W·(A + Aᵀ)·scale; S = A + Aᵀ is symmetric, S_jk = Aᵀ_kj + Aᵀ_jk.
        for (int r = 0; r < h; r++)
        {
            var wr = w.Slice(r * f, f);
            for (int k = 0; k < f; k++)
            {
                T sum = T.Zero;
                for (int j = 0; j < f; j++)
                {
                    sum += wr[j] * (at2[(k * stride) + j] + at2[(j * stride) + k]);
                }
                gradient[(r * f) + k] = sum * scale;
            }
        }
        for (int j = 0; j < f; j++)
        {
            gradient[(h * f) + j] = _biasGradient[j] * scale;
        }
        return meanLoss;
    }
}
