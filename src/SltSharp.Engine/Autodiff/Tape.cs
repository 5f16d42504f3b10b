using System.Numerics;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Tensors;

namespace SltSharp.Engine.Autodiff;

/// <summary>
/// A reverse-mode autodiff tape. Ops (extension methods in <c>SltSharp.Engine.Ops</c>) compute their value eagerly and
/// append a node; <see cref="Backward(Node{T})"/> walks the nodes in reverse and applies each op's backward rule.
/// </summary>
/// <remarks>
/// <para>The tape is built for loops that record the same graph every step (training, sampling): call
/// <see cref="Reset"/> at the start of a step and the nodes of the previous step are reused by position, together with
/// their value, gradient and scratch buffers. Once every buffer has reached its size (after the first step), recording
/// and differentiating a graph allocates nothing on the managed heap.</para>
/// <para>Gradients accumulate into model parameters (like PyTorch's <c>.grad</c>); zero them with
/// <see cref="ParameterSet{T}.ZeroGradients"/> or <c>Optimizer.ZeroGrad()</c> before each backward pass. Intermediate
/// gradients are zeroed by the tape itself.</para>
/// <para>A tape is not thread-safe; use one per thread.</para>
/// </remarks>
public sealed class Tape<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<Node<T>> _nodes = [];
    private int _count;
    private ParameterSet<T>? _redirectedSet;
    private T[]? _redirectedGradients;

    /// <summary>Number of nodes recorded since the last <see cref="Reset"/>.</summary>
    public int Count => _count;

    /// <summary>Forgets the recorded graph; its nodes and buffers are reused by the next recording.</summary>
    public void Reset() => _count = 0;

    /// <summary>
    /// Makes the parameters of <paramref name="parameters"/> accumulate their gradients on this tape into
    /// <paramref name="gradients"/> (same layout as <see cref="ParameterSet{T}.Gradients"/>) instead of the set's own
    /// buffer, so that several tapes can back-propagate through one model at the same time (data-parallel training:
    /// each worker sums its shard's gradient privately). Null restores the default.
    /// </summary>
    public void RedirectGradients(ParameterSet<T>? parameters, T[]? gradients)
    {
        if (parameters is not null && (gradients is null || gradients.Length != parameters.Count))
        {
            throw new ArgumentException($"The gradient buffer must have the parameter set's {parameters.Count} elements, got {gradients?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}.", nameof(gradients));
        }
        _redirectedSet = parameters;
        _redirectedGradients = parameters is null ? null : gradients;
    }

    internal Node<T> NextNode(Operation<T>? op, ReadOnlySpan<int> shape, Node<T>? a, Node<T>? b = null, Node<T>? c = null)
    {
        CheckOwner(a);
        CheckOwner(b);
        CheckOwner(c);
        Node<T> node;
        if (_count < _nodes.Count)
        {
            node = _nodes[_count];
        }
        else
        {
            node = new Node<T>(this, _count);
            _nodes.Add(node);
        }
        _count++;
        node.Reset(op, shape, a, b, c);
        return node;
    }

    /// <summary>Records an op whose value lives in the node's own buffer; it requires a gradient if any input does.</summary>
    internal Node<T> Record(Operation<T> op, ReadOnlySpan<int> shape, Node<T> a, Node<T>? b = null, Node<T>? c = null)
    {
        var node = NextNode(op, shape, a, b, c);
        node.UseOwnedValue();
        if (a.RequiresGrad || (b?.RequiresGrad ?? false) || (c?.RequiresGrad ?? false))
        {
            node.RequiresGrad = true;
            node.GradMode = GradientMode.Owned;
        }
        return node;
    }

    /// <summary>Records a zero-copy view of <paramref name="source"/> starting <paramref name="offset"/> elements in.</summary>
    internal Node<T> RecordView(Operation<T> op, ReadOnlySpan<int> shape, Node<T> source, int offset)
    {
        var node = NextNode(op, shape, source);
        node.ValueArray = source.ValueArray;
        node.ValueOffset = source.ValueOffset + offset;
        node.I0 = offset;
        if (source.RequiresGrad)
        {
            node.RequiresGrad = true;
            node.GradMode = GradientMode.Alias;
        }
        return node;
    }

    /// <summary>A constant input (data, targets as values): copies <paramref name="values"/>; no gradient.</summary>
    public Node<T> Input(ReadOnlySpan<T> values, params ReadOnlySpan<int> shape)
    {
        var node = NextNode(null, shape, null);
        if (values.Length != node.Length)
        {
            throw new ArgumentException($"Input has {values.Length} values but shape {TensorShape.Format(shape)} needs {node.Length}.", nameof(values));
        }
        node.UseOwnedValue();
        values.CopyTo(node.Value);
        return node;
    }

    /// <summary>
    /// A constant input made of rows gathered from a row-major dataset: row r of the result is
    /// <c>source[rows[r]·rowLength .. +rowLength)</c>. Shape must have <c>rows.Length·rowLength</c> elements.
    /// This is how a minibatch (possibly a different one per chain) becomes a [C, m, features] input without copies
    /// through intermediate arrays.
    /// </summary>
    public Node<T> InputRows(ReadOnlySpan<T> source, int rowLength, ReadOnlySpan<int> rows, params ReadOnlySpan<int> shape)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rowLength);
        var node = NextNode(null, shape, null);
        if (rows.Length * rowLength != node.Length)
        {
            throw new ArgumentException($"{rows.Length} rows of length {rowLength} do not fill shape {TensorShape.Format(shape)} ({node.Length} elements).", nameof(rows));
        }
        node.UseOwnedValue();
        int available = source.Length / rowLength;
        var dst = node.Value;
        for (int r = 0; r < rows.Length; r++)
        {
            int row = rows[r];
            if ((uint)row >= (uint)available)
            {
                throw new ArgumentOutOfRangeException(nameof(rows), $"Row index {row} at position {r} is outside the source's {available} rows.");
            }
            source.Slice(row * rowLength, rowLength).CopyTo(dst.Slice(r * rowLength, rowLength));
        }
        return node;
    }

    /// <summary>
    /// A differentiable leaf over caller storage (no copy): after backward its gradient is in <see cref="Node{T}.Grad"/>.
    /// The caller must not resize or replace the array while the node is in use.
    /// </summary>
    public Node<T> Variable(T[] values, params ReadOnlySpan<int> shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        var node = NextNode(null, shape, null);
        if (values.Length != node.Length)
        {
            throw new ArgumentException($"Variable has {values.Length} values but shape {TensorShape.Format(shape)} needs {node.Length}.", nameof(values));
        }
        node.LeafName = "Variable";
        node.ValueArray = values;
        node.ValueOffset = 0;
        node.RequiresGrad = true;
        node.GradMode = GradientMode.Owned;
        return node;
    }

    /// <summary>
    /// A model parameter as a leaf of shape [C, ...parameter shape] (C = the model's chain count), viewing the model's
    /// flat value buffer; its gradient accumulates into the model's flat gradient buffer.
    /// </summary>
    public Node<T> Parameter(Parameter<T> parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        var set = parameter.Owner ?? throw new InvalidOperationException(
            $"Parameter '{parameter.Name}' is not bound to storage yet: call Build(chains, rng) on the root module first.");
        Span<int> shape = stackalloc int[TensorShape.MaxRank];
        shape[0] = set.Chains;
        parameter.Shape.CopyTo(shape[1..]);
        var node = NextNode(null, shape[..(parameter.Shape.Length + 1)], null);
        node.LeafName = "Parameter";
        node.ValueArray = set.ValueArray;
        node.ValueOffset = parameter.Offset;
        node.GradArray = ReferenceEquals(set, _redirectedSet) ? _redirectedGradients : set.GradientArray;
        node.GradOffset = parameter.Offset;
        node.RequiresGrad = parameter.RequiresGrad;
        node.GradMode = parameter.RequiresGrad ? GradientMode.External : GradientMode.None;
        return node;
    }

    /// <summary>
    /// Back-propagates from <paramref name="root"/>. For a non-scalar root this differentiates the SUM of its elements
    /// (e.g. the per-chain losses of a [C] loss node: chains are independent, so each chain's parameters receive the
    /// gradient of that chain's own loss).
    /// </summary>
    public void Backward(Node<T> root) => Backward(root, default, useSeed: false);

    /// <summary>Back-propagates the cotangent <paramref name="seed"/> (same length as <paramref name="root"/>).</summary>
    public void Backward(Node<T> root, ReadOnlySpan<T> seed) => Backward(root, seed, useSeed: true);

    private void Backward(Node<T> root, ReadOnlySpan<T> seed, bool useSeed)
    {
        ArgumentNullException.ThrowIfNull(root);
        CheckOwner(root);
        if (!root.RequiresGrad)
        {
            throw new InvalidOperationException($"{root} does not depend on any parameter or variable, so it has no gradient to propagate.");
        }
        if (useSeed && seed.Length != root.Length)
        {
            throw new ArgumentException($"Seed has {seed.Length} values but the root {root} has {root.Length}.", nameof(seed));
        }

        // Forward order: a view's source is prepared before the view aliases its gradient.
        for (int i = 0; i <= root.Index; i++)
        {
            var n = _nodes[i];
            switch (n.GradMode)
            {
                case GradientMode.Owned:
                    n.PrepareOwnedGrad();
                    break;
                case GradientMode.Alias:
                    n.GradArray = n.A!.GradArray;
                    n.GradOffset = n.A.GradOffset + n.I0;
                    break;
                default:
                    break;
            }
        }

        var g = root.GradSpan;
        if (useSeed)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(g, seed, g);
        }
        else
        {
            System.Numerics.Tensors.TensorPrimitives.Add(g, T.One, g);
        }

        for (int i = root.Index; i >= 0; i--)
        {
            var n = _nodes[i];
            if (n.RequiresGrad && n.Op is not null)
            {
                n.Op.Backward(n);
            }
        }
    }

    private void CheckOwner(Node<T>? node)
    {
        if (node is null)
        {
            return;
        }
        if (!ReferenceEquals(node.Tape, this))
        {
            throw new ArgumentException($"{node} belongs to another tape; nodes of different tapes cannot be combined.");
        }
        if (node.Index >= _count)
        {
            throw new ArgumentException($"{node} was recorded before the last Reset and is no longer valid; record it again.");
        }
    }
}
