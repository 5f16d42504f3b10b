using System.Numerics;
using SltSharp.Engine.Tensors;

namespace SltSharp.Engine.Layers;

/// <summary>
/// A named parameter tensor of a module. Its shape is that of ONE copy of the model (PyTorch's shape, e.g. [out, in]);
/// storage for all chains lives in the owning <see cref="ParameterSet{T}"/> as one contiguous [C, ...shape] block.
/// </summary>
public sealed class Parameter<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _shape;

    internal Parameter(string localName, Initializer initializer, ReadOnlySpan<int> shape)
    {
        if (shape.Length + 1 > TensorShape.MaxRank)
        {
            throw new ArgumentException($"Parameter '{localName}' has rank {shape.Length}; at most {TensorShape.MaxRank - 1} is supported (one axis is reserved for chains).", nameof(shape));
        }
        LocalName = localName;
        Name = localName;
        Initializer = initializer;
        _shape = shape.ToArray();
        Size = TensorShape.Size(shape);
    }

    /// <summary>The full state_dict key (e.g. <c>blocks.0.attn.qkv.weight</c>), set when the root module is built.</summary>
    public string Name { get; internal set; }

    /// <summary>The key within its own module (e.g. <c>weight</c>).</summary>
    public string LocalName { get; }

    /// <summary>Shape of one chain's copy.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Number of elements of one chain's copy.</summary>
    public int Size { get; }

    /// <summary>How <see cref="Module{T}.ResetParameters"/> fills it.</summary>
    public Initializer Initializer { get; set; }

    /// <summary>
    /// Whether gradients flow to it (default true). Turning it off freezes the parameter: its gradient stays zero,
    /// which is how a weight-refined analysis keeps all but one component fixed.
    /// </summary>
    public bool RequiresGrad { get; set; } = true;

    /// <summary>The storage this parameter is bound to (null before the root module is built).</summary>
    public ParameterSet<T>? Owner { get; internal set; }

    /// <summary>Element offset of this parameter's [C, ...shape] block in the owner's flat buffers.</summary>
    public int Offset { get; internal set; }

    /// <summary>Chain <paramref name="chain"/>'s values (row-major, PyTorch layout).</summary>
    public Span<T> Value(int chain = 0) => Bound.Values.Slice(ChainOffset(chain), Size);

    /// <summary>Chain <paramref name="chain"/>'s gradient.</summary>
    public Span<T> Gradient(int chain = 0) => Bound.Gradients.Slice(ChainOffset(chain), Size);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {TensorShape.Format(Shape)}";

    private ParameterSet<T> Bound => Owner ?? throw new InvalidOperationException($"Parameter '{Name}' is not bound to storage yet: build the root module first.");

    private int ChainOffset(int chain)
    {
        if ((uint)chain >= (uint)Bound.Chains)
        {
            throw new ArgumentOutOfRangeException(nameof(chain), $"Chain {chain} does not exist; the model has {Bound.Chains} chain(s).");
        }
        return Offset + (chain * Size);
    }
}
