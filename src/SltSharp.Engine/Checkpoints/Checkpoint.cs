using System.Numerics;
using SltSharp.Engine.Formats;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Checkpoints;

/// <summary>
/// Model checkpoints as safetensors files: one copy of the parameters under their PyTorch state_dict names (so
/// <c>model.load_state_dict(safetensors.torch.load_file(path))</c> works on the equivalent torch module and vice versa),
/// with the <see cref="ModelSpec"/> as JSON in <c>__metadata__</c>.
/// </summary>
public static class Checkpoint
{
    /// <summary>The <c>__metadata__</c> key holding the model spec JSON.</summary>
    public const string SpecMetadataKey = "sltsharp.model_spec";

    /// <summary>
    /// Writes chain <paramref name="chain"/> of <paramref name="parameters"/> to <paramref name="path"/> (atomically
    /// replaced), as F32 for a float model and F64 for a double model.
    /// </summary>
    /// <param name="path">Destination .safetensors file.</param>
    /// <param name="parameters">The built model's parameters.</param>
    /// <param name="spec">The model's description, stored so that <see cref="LoadModel{T}"/> can rebuild it; may be null.</param>
    /// <param name="chain">Which chain to save.</param>
    /// <param name="metadata">Extra string metadata (e.g. training step); must not use <see cref="SpecMetadataKey"/>.</param>
    public static void Save<T>(string path, ParameterSet<T> parameters, ModelSpec? spec = null, int chain = 0,
        IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(parameters);
        if ((uint)chain >= (uint)parameters.Chains)
        {
            throw new ArgumentOutOfRangeException(nameof(chain), $"Chain {chain} does not exist; the model has {parameters.Chains} chain(s).");
        }
        var meta = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        if (metadata is not null)
        {
            foreach (KeyValuePair<string, string> kv in metadata)
            {
                if (kv.Key == SpecMetadataKey)
                {
                    throw new ArgumentException($"Metadata key '{SpecMetadataKey}' is reserved for the model spec; pass the spec as the spec argument.", nameof(metadata));
                }
                meta[kv.Key] = kv.Value;
            }
        }
        if (spec is not null)
        {
            meta[SpecMetadataKey] = spec.ToJson();
        }
        var tensors = new List<NamedArray>(parameters.Parameters.Count);
        foreach (Parameter<T> p in parameters.Parameters)
        {
            // NamedArray wraps without copying, so each tensor needs its own array; the write streams from it.
            tensors.Add(NamedArray.Create(p.Name, p.Value(chain).ToArray(), p.Shape.ToArray()));
        }
        Safetensors.Write(path, tensors, meta);
    }

    /// <summary>The model spec stored in checkpoint <paramref name="path"/>, or null when it has none.</summary>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors, or its spec does not parse.</exception>
    public static ModelSpec? ReadSpec(string path)
    {
        using SafetensorsFile file = SafetensorsFile.Open(path);
        return ReadSpec(file);
    }

    /// <summary>
    /// Loads checkpoint <paramref name="path"/> into every chain of <paramref name="parameters"/>: the file must hold
    /// exactly the model's tensors (same names and shapes); F16, BF16, F32 and F64 are converted to
    /// <typeparamref name="T"/>. Nothing is changed when validation fails.
    /// </summary>
    /// <exception cref="CheckpointFormatException">A tensor is missing, unexpected, of another shape or of a non-float
    /// dtype; the message names the file, the tensor, and expected vs actual.</exception>
    public static void Load<T>(string path, ParameterSet<T> parameters)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        using SafetensorsFile file = SafetensorsFile.Open(path);
        Load(file, parameters);
    }

    /// <summary>As <see cref="Load{T}(string, ParameterSet{T})"/>, from an open file.</summary>
    public static void Load<T>(SafetensorsFile file, ParameterSet<T> parameters)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(parameters);
        Validate(file, parameters);
        var staged = new T[parameters.CountPerChain];
        int at = 0;
        foreach (Parameter<T> p in parameters.Parameters)
        {
            Span<T> destination = staged.AsSpan(at, p.Size);
            SafetensorsEntry e = file.GetEntry(p.Name);
            if (ElementCodec.CanDecode<T>(e.DType))
            {
                file.CopyTo(p.Name, destination);
            }
            else
            {
                // F64 into a float model: round each value to nearest, as torch's .float() does.
                double[] wide = file.Read<double>(p.Name);
                for (int i = 0; i < wide.Length; i++)
                {
                    destination[i] = T.CreateTruncating(wide[i]);
                }
            }
            at += p.Size;
        }
        for (int c = 0; c < parameters.Chains; c++)
        {
            parameters.CopyChainFrom(c, staged);
        }
    }

    /// <summary>
    /// Rebuilds the model described by the spec stored in <paramref name="path"/> with <paramref name="chains"/>
    /// chains, and loads the weights into every chain.
    /// </summary>
    /// <exception cref="CheckpointFormatException">The file has no spec, its spec is invalid, or its tensors do not
    /// match the spec's model.</exception>
    public static (Module<T> Model, ModelSpec Spec) LoadModel<T>(string path, int chains = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chains);
        using SafetensorsFile file = SafetensorsFile.Open(path);
        ModelSpec spec = ReadSpec(file) ?? throw new CheckpointFormatException(file.FilePath, null,
            $"the checkpoint has no model spec (metadata key '{SpecMetadataKey}'); build the model from a spec yourself and call Checkpoint.Load.");
        // The initial values are overwritten by the load; a fixed seed keeps the build deterministic.
        Module<T> model = spec.Build<T>(chains, new Rng(0));
        Load(file, model.Parameters);
        return (model, spec);
    }

    private static ModelSpec? ReadSpec(SafetensorsFile file)
    {
        if (!file.Metadata.TryGetValue(SpecMetadataKey, out string? json))
        {
            return null;
        }
        try
        {
            return ModelSpec.Parse(json);
        }
        catch (ModelSpecException ex)
        {
            throw new CheckpointFormatException(file.FilePath, null, $"its model spec (metadata '{SpecMetadataKey}') is invalid: {ex.Message}", ex);
        }
    }

    private static void Validate<T>(SafetensorsFile file, ParameterSet<T> parameters)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var expected = new HashSet<string>(parameters.Parameters.Select(p => p.Name), StringComparer.Ordinal);
        string[] missing = parameters.Parameters.Where(p => !file.Contains(p.Name)).Select(p => p.Name).ToArray();
        string[] unexpected = file.Entries.Where(e => !expected.Contains(e.Name)).Select(e => e.Name).ToArray();
        if (missing.Length > 0)
        {
            Parameter<T> first = parameters[missing[0]];
            throw new CheckpointFormatException(file.FilePath, missing[0],
                $"missing: the model expects shape {Format(first.Shape)} but the file has no such tensor" +
                (missing.Length > 1 ? $" (also missing: {string.Join(", ", missing.Skip(1))})" : "") +
                (unexpected.Length > 0 ? $"; the file has tensors the model lacks: {string.Join(", ", unexpected)} (were the names renamed?)" : "") +
                ". Save the checkpoint from a model with the same architecture and PyTorch state_dict names.");
        }
        if (unexpected.Length > 0)
        {
            SafetensorsEntry first = file.GetEntry(unexpected[0]);
            throw new CheckpointFormatException(file.FilePath, unexpected[0],
                $"unexpected: the file has this tensor (shape {Format(first.Shape)}) but the model has no parameter of that name" +
                (unexpected.Length > 1 ? $" (also unexpected: {string.Join(", ", unexpected.Skip(1))})" : "") +
                ". The checkpoint is for another architecture; check the model spec (e.g. the number of layers, bias).");
        }
        foreach (Parameter<T> p in parameters.Parameters)
        {
            SafetensorsEntry e = file.GetEntry(p.Name);
            if (!ShapeEquals(e.Shape, p.Shape))
            {
                throw new CheckpointFormatException(file.FilePath, p.Name,
                    $"shape mismatch: the model expects {Format(p.Shape)}, the file has {Format(e.Shape)}. The checkpoint is for a model of other sizes; check the widths in the model spec.");
            }
            if (e.DType is not (DType.F16 or DType.BF16 or DType.F32 or DType.F64))
            {
                throw new CheckpointFormatException(file.FilePath, p.Name,
                    $"dtype {e.DType} is not a floating-point type; parameters must be stored as F16, BF16, F32 or F64.");
            }
        }
    }

    private static bool ShapeEquals(IReadOnlyList<long> stored, ReadOnlySpan<int> expected)
    {
        if (stored.Count != expected.Length)
        {
            return false;
        }
        for (int i = 0; i < expected.Length; i++)
        {
            if (stored[i] != expected[i])
            {
                return false;
            }
        }
        return true;
    }

    private static string Format(IReadOnlyList<long> shape) => $"[{string.Join(", ", shape)}]";

    private static string Format(ReadOnlySpan<int> shape) => $"[{string.Join(", ", shape.ToArray())}]";
}
