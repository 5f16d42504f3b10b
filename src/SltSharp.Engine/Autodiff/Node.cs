using System.Numerics;
using SltSharp.Engine.Tensors;

namespace SltSharp.Engine.Autodiff;

/// <summary>How a node's gradient storage is obtained when the tape runs backward.</summary>
internal enum GradientMode
{
    /// <summary>No gradient (data, constants).</summary>
    None,

    /// <summary>The node owns a gradient buffer, zeroed at the start of every backward pass.</summary>
    Owned,

    /// <summary>The gradient lives in caller storage (model parameters) and is accumulated into, never zeroed.</summary>
    External,

    /// <summary>A zero-copy view (reshape, leading-axis slice): its gradient aliases a slice of its source's gradient.</summary>
    Alias,
}

/// <summary>
/// One value recorded on a <see cref="Tape{T}"/>: a dense row-major tensor of <typeparamref name="T"/>, the op that
/// produced it, and (after <see cref="Tape{T}.Backward(Node{T})"/>) its gradient.
/// </summary>
/// <remarks>
/// Nodes are owned by their tape and reused by position after <see cref="Tape{T}.Reset"/>: a node reference is valid
/// only until the next reset. Values and gradients are spans over buffers that are reused between steps.
/// </remarks>
public sealed class Node<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _shape = new int[TensorShape.MaxRank];
    private T[] _ownedValue = [];
    private T[] _ownedGrad = [];

    internal Node(Tape<T> tape, int index)
    {
        Tape = tape;
        Index = index;
    }

    /// <summary>The tape this node was recorded on.</summary>
    public Tape<T> Tape { get; }

    /// <summary>Position of the node on its tape (inputs always have smaller indices than their consumers).</summary>
    public int Index { get; }

    /// <summary>Number of axes.</summary>
    public int Rank { get; private set; }

    /// <summary>Number of elements.</summary>
    public int Length { get; private set; }

    /// <summary>The shape, outermost axis first.</summary>
    public ReadOnlySpan<int> Shape => _shape.AsSpan(0, Rank);

    /// <summary>Whether a gradient flows to this node in <see cref="Tape{T}.Backward(Node{T})"/>.</summary>
    public bool RequiresGrad { get; internal set; }

    /// <summary>Name of the op that produced this node ("Input", "Parameter", "MatMul", ...), for diagnostics.</summary>
    public string OperationName => Op?.Name ?? LeafName;

    /// <summary>The values, row-major.</summary>
    public Span<T> Value => ValueArray.AsSpan(ValueOffset, Length);

    /// <summary>
    /// The gradient of the backward root with respect to this node, valid after <see cref="Tape{T}.Backward(Node{T})"/>.
    /// </summary>
    public Span<T> Grad => GradArray is null
        ? throw new InvalidOperationException($"Node {Index} ({OperationName}) has no gradient: it does not require one, or Backward has not run since it was recorded.")
        : GradArray.AsSpan(GradOffset, Length);

    /// <summary>Size of axis <paramref name="axis"/> (negative counts from the end).</summary>
    public int Dim(int axis) => _shape[TensorShape.NormalizeAxis(axis, Rank)];

    /// <summary>Shape as text, e.g. <c>[2, 3]</c>.</summary>
    public override string ToString() => $"Node {Index} {OperationName} {TensorShape.Format(Shape)}";

    // ---- Recording state (reset on reuse) ----
    internal Operation<T>? Op;
    internal string LeafName = "Input";
    internal Node<T>? A, B, C;
    internal T[] ValueArray = [];
    internal int ValueOffset;
    internal T[]? GradArray;
    internal int GradOffset;
    internal GradientMode GradMode;

    // Per-op saved state; buffers keep their capacity across steps.
    internal int I0, I1, I2, I3;
    internal double D0, D1;
    internal bool F0, F1;
    internal T[] Aux = [];
    internal int[] IntAux = [];
    internal readonly int[] IntParams = new int[TensorShape.MaxRank];

    internal void Reset(Operation<T>? op, ReadOnlySpan<int> shape, Node<T>? a, Node<T>? b, Node<T>? c)
    {
        if (shape.Length > TensorShape.MaxRank)
        {
            throw new ArgumentException($"Rank {shape.Length} exceeds the supported maximum of {TensorShape.MaxRank}.");
        }
        Op = op;
        LeafName = "Input";
        A = a;
        B = b;
        C = c;
        shape.CopyTo(_shape);
        Rank = shape.Length;
        Length = TensorShape.Size(shape);
        GradArray = null;
        GradOffset = 0;
        GradMode = GradientMode.None;
        RequiresGrad = false;
    }

    /// <summary>Points the value at the node's own buffer, grown if needed (contents are stale until written).</summary>
    internal void UseOwnedValue()
    {
        if (_ownedValue.Length < Length)
        {
            _ownedValue = new T[Length];
        }
        ValueArray = _ownedValue;
        ValueOffset = 0;
    }

    internal void PrepareOwnedGrad()
    {
        if (_ownedGrad.Length < Length)
        {
            _ownedGrad = new T[Length];
        }
        GradArray = _ownedGrad;
        GradOffset = 0;
        _ownedGrad.AsSpan(0, Length).Clear();
    }

    /// <summary>Returns a scratch span of at least <paramref name="length"/> elements from this node's aux buffer.</summary>
    internal Span<T> AuxSpan(int length)
    {
        if (Aux.Length < length)
        {
            Aux = new T[length];
        }
        return Aux.AsSpan(0, length);
    }

    internal Span<int> IntAuxSpan(int length)
    {
        if (IntAux.Length < length)
        {
            IntAux = new int[length];
        }
        return IntAux.AsSpan(0, length);
    }

    internal ReadOnlySpan<T> ValueSpan => ValueArray.AsSpan(ValueOffset, Length);

    internal Span<T> GradSpan => GradArray!.AsSpan(GradOffset, Length);
}
