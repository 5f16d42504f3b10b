using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Layers;

/// <summary>
/// A node of a model tree with named parameters and named children, like <c>torch.nn.Module</c>: parameter keys are
/// the dotted paths PyTorch's <c>state_dict()</c> would produce (own parameters first, then children in registration
/// order).
/// </summary>
/// <remarks>
/// Build the ROOT module once with <see cref="Build(int, Rng)"/>: this fixes the chain count C, allocates one flat
/// value buffer and one flat gradient buffer for all parameters of all chains, and initialises them.
/// </remarks>
public abstract class Module<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<Parameter<T>> _parameters = [];
    private readonly List<(string Name, Module<T> Module)> _children = [];
    private ParameterSet<T>? _set;

    /// <summary>The bound parameters of the whole tree (available on the root after <see cref="Build(int, Rng)"/>).</summary>
    public ParameterSet<T> Parameters => _set ?? throw new InvalidOperationException($"{GetType().Name} has not been built: call Build(chains, rng) on the root module.");

    /// <summary>Whether this module has been built as a root.</summary>
    public bool IsBuilt => _set is not null;

    /// <summary>The chain count C of the built model.</summary>
    public int Chains => Parameters.Chains;

    /// <summary>Registers a parameter of shape <paramref name="shape"/> (one chain's shape, PyTorch layout).</summary>
    protected Parameter<T> RegisterParameter(string name, Initializer initializer, params ReadOnlySpan<int> shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(initializer);
        var p = new Parameter<T>(name, initializer, shape);
        _parameters.Add(p);
        return p;
    }

    /// <summary>Registers a child module under <paramref name="name"/>.</summary>
    protected TModule RegisterModule<TModule>(string name, TModule module)
        where TModule : Module<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(module);
        _children.Add((name, module));
        return module;
    }

    /// <summary>(state_dict key, parameter) pairs of this subtree, in state_dict order.</summary>
    public IEnumerable<(string Name, Parameter<T> Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var p in _parameters)
        {
            yield return (prefix + p.LocalName, p);
        }
        foreach (var (name, child) in _children)
        {
            foreach (var item in child.NamedParameters(prefix + name + "."))
            {
                yield return item;
            }
        }
    }

    /// <summary>
    /// Allocates storage for <paramref name="chains"/> copies of the model and initialises them; chain c is filled
    /// from <c>rng.Split(c)</c>, so chain 0 equals a single-chain model built from the same <paramref name="rng"/>.
    /// </summary>
    public ParameterSet<T> Build(int chains, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chains);
        if (_set is not null)
        {
            throw new InvalidOperationException($"{GetType().Name} is already built; create a new module for another chain count.");
        }
        var list = new List<Parameter<T>>();
        foreach (var (name, p) in NamedParameters())
        {
            p.Name = name;
            list.Add(p);
        }
        _set = new ParameterSet<T>(list, chains);
        ResetParameters(rng);
        return _set;
    }

    /// <summary>Re-initialises every parameter of every chain with its <see cref="Initializer"/>.</summary>
    public void ResetParameters(Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var set = Parameters;
        for (int c = 0; c < set.Chains; c++)
        {
            var chainRng = rng.Split((ulong)c);
            foreach (var p in set.Parameters)
            {
                p.Initializer.Fill(p.Value(c), chainRng);
            }
        }
    }

    /// <summary>The chain count of the storage <paramref name="p"/> is bound to (for layers that need it in Forward).</summary>
    protected static int ChainsOf(Parameter<T> p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return (p.Owner ?? throw new InvalidOperationException($"Parameter '{p.Name}' is not bound: build the root module first.")).Chains;
    }
}

/// <summary>A module with a single-input forward pass. Inputs carry the chain axis first: [C, ..., features].</summary>
public abstract class Layer<T> : Module<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Records this layer's computation on <paramref name="tape"/>.</summary>
    public abstract Node<T> Forward(Tape<T> tape, Node<T> x);
}
