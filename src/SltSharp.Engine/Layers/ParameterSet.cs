using System.Numerics;

namespace SltSharp.Engine.Layers;

/// <summary>
/// The parameters of a built model for all of its chains, in two flat buffers (values and gradients) so that an
/// optimizer or sampler can update everything with a few vector operations.
/// </summary>
/// <remarks>
/// <para>Internal layout is parameter-major: each parameter (in state_dict order) owns one contiguous [C, ...shape]
/// block, so that per-chain weights feed a batched GEMM directly. For a single chain this is exactly the state_dict
/// order.</para>
/// <para>The chain-major view used by samplers (chain c: all of its tensors in state_dict order, P values per chain)
/// is obtained with <see cref="CopyChainsTo"/> / <see cref="CopyChainsFrom"/> / <see cref="CopyGradientChainsTo"/>:
/// each is one pass of block copies, O(C·P), negligible next to a forward pass.</para>
/// </remarks>
public sealed class ParameterSet<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] _parameters;
    private readonly Dictionary<string, Parameter<T>> _byName;

    internal ParameterSet(IReadOnlyList<Parameter<T>> parameters, int chains)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chains);
        Chains = chains;
        _parameters = [.. parameters];
        _byName = new Dictionary<string, Parameter<T>>(StringComparer.Ordinal);
        int offset = 0, perChain = 0;
        foreach (var p in _parameters)
        {
            if (p.Owner is not null)
            {
                throw new InvalidOperationException($"Parameter '{p.Name}' is already bound to a model; a module can be built once.");
            }
            if (!_byName.TryAdd(p.Name, p))
            {
                throw new InvalidOperationException($"Two parameters are named '{p.Name}'; register children under distinct names.");
            }
            p.Owner = this;
            p.Offset = offset;
            offset = checked(offset + (chains * p.Size));
            perChain += p.Size;
        }
        CountPerChain = perChain;
        ValueArray = new T[offset];
        GradientArray = new T[offset];
    }

    /// <summary>C, the number of independent copies of the model.</summary>
    public int Chains { get; }

    /// <summary>P, the number of parameters of one copy.</summary>
    public int CountPerChain { get; }

    /// <summary>C·P.</summary>
    public int Count => ValueArray.Length;

    /// <summary>The parameters in state_dict order.</summary>
    public IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <summary>All values (parameter-major layout, see remarks).</summary>
    public Span<T> Values => ValueArray;

    /// <summary>All gradients, same layout as <see cref="Values"/>.</summary>
    public Span<T> Gradients => GradientArray;

    internal T[] ValueArray { get; }

    internal T[] GradientArray { get; }

    /// <summary>The parameter with state_dict key <paramref name="name"/>.</summary>
    public Parameter<T> this[string name] => _byName.TryGetValue(name, out var p)
        ? p
        : throw new KeyNotFoundException($"No parameter named '{name}'. Known: {string.Join(", ", _byName.Keys)}.");

    /// <summary>(state_dict key, parameter) pairs in order.</summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> Named()
    {
        foreach (var p in _parameters)
        {
            yield return (p.Name, p);
        }
    }

    /// <summary>Sets every gradient to zero (call before each backward pass: gradients accumulate).</summary>
    public void ZeroGradients() => GradientArray.AsSpan().Clear();

    /// <summary>Writes chain <paramref name="chain"/>'s parameters as one flat vector of length P (state_dict order).</summary>
    public void CopyChainTo(int chain, Span<T> destination) => Gather(ValueArray, chain, destination);

    /// <summary>Sets chain <paramref name="chain"/>'s parameters from a flat vector of length P (state_dict order).</summary>
    public void CopyChainFrom(int chain, ReadOnlySpan<T> source) => Scatter(ValueArray, chain, source);

    /// <summary>Writes chain <paramref name="chain"/>'s gradient as a flat vector of length P.</summary>
    public void CopyChainGradientTo(int chain, Span<T> destination) => Gather(GradientArray, chain, destination);

    /// <summary>Writes all chains' parameters chain-major (length C·P): the layout of <c>IChainedLoss</c>.</summary>
    public void CopyChainsTo(Span<T> destination)
    {
        CheckLength(destination.Length, Count);
        for (int c = 0; c < Chains; c++)
        {
            Gather(ValueArray, c, destination.Slice(c * CountPerChain, CountPerChain));
        }
    }

    /// <summary>Sets all chains' parameters from a chain-major vector (length C·P).</summary>
    public void CopyChainsFrom(ReadOnlySpan<T> source)
    {
        CheckLength(source.Length, Count);
        for (int c = 0; c < Chains; c++)
        {
            Scatter(ValueArray, c, source.Slice(c * CountPerChain, CountPerChain));
        }
    }

    /// <summary>Writes all chains' gradients chain-major (length C·P).</summary>
    public void CopyGradientChainsTo(Span<T> destination)
    {
        CheckLength(destination.Length, Count);
        for (int c = 0; c < Chains; c++)
        {
            Gather(GradientArray, c, destination.Slice(c * CountPerChain, CountPerChain));
        }
    }

    /// <summary>Copies chain <paramref name="sourceChain"/>'s parameters into every other chain (e.g. start all chains at w*).</summary>
    public void BroadcastChain(int sourceChain)
    {
        CheckChain(sourceChain);
        foreach (var p in _parameters)
        {
            var src = ValueArray.AsSpan(p.Offset + (sourceChain * p.Size), p.Size);
            for (int c = 0; c < Chains; c++)
            {
                if (c != sourceChain)
                {
                    src.CopyTo(ValueArray.AsSpan(p.Offset + (c * p.Size), p.Size));
                }
            }
        }
    }

    private void Gather(T[] buffer, int chain, Span<T> destination)
    {
        CheckChain(chain);
        CheckLength(destination.Length, CountPerChain);
        int at = 0;
        foreach (var p in _parameters)
        {
            buffer.AsSpan(p.Offset + (chain * p.Size), p.Size).CopyTo(destination.Slice(at, p.Size));
            at += p.Size;
        }
    }

    private void Scatter(T[] buffer, int chain, ReadOnlySpan<T> source)
    {
        CheckChain(chain);
        CheckLength(source.Length, CountPerChain);
        int at = 0;
        foreach (var p in _parameters)
        {
            source.Slice(at, p.Size).CopyTo(buffer.AsSpan(p.Offset + (chain * p.Size), p.Size));
            at += p.Size;
        }
    }

    private void CheckChain(int chain)
    {
        if ((uint)chain >= (uint)Chains)
        {
            throw new ArgumentOutOfRangeException(nameof(chain), $"Chain {chain} does not exist; the model has {Chains} chain(s).");
        }
    }

    private static void CheckLength(int actual, int expected)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"Expected a vector of length {expected}, got {actual}.");
        }
    }
}
