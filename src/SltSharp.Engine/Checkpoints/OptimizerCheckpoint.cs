using System.Globalization;
using System.Numerics;
using SltSharp.Engine.Formats;
using SltSharp.Engine.Optim;

namespace SltSharp.Engine.Checkpoints;

/// <summary>
/// The state of an optimizer (its <see cref="Optimizer{T}.StateBuffers"/>, step count and learning rate) as a safetensors
/// file next to a model checkpoint, so that training resumed from the checkpoint continues exactly as if it had never
/// stopped. Buffers are stored in the model's precision, so the round trip is exact.
/// </summary>
public static class OptimizerCheckpoint
{
    private const string KindKey = "sltsharp.optimizer";
    private const string StepKey = "sltsharp.optimizer_steps";

    /// <summary>Writes the optimizer's state to <paramref name="path"/> (atomically replaced).</summary>
    public static void Save<T>(string path, Optimizer<T> optimizer)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(optimizer);
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = "pt",
            [KindKey] = optimizer.GetType().Name,
            [StepKey] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
        };
        // NamedArray wraps without copying; the copies keep the file independent of later steps while it is written.
        var tensors = optimizer.StateBuffers.Select(b => NamedArray.Create(b.Key, b.Value.ToArray(), b.Value.Length)).ToList();
        Safetensors.Write(path, tensors, meta);
    }

    /// <summary>Restores a state written by <see cref="Save"/> into <paramref name="optimizer"/>, which must be of the same
    /// type and over a parameter set of the same size. Nothing changes when validation fails.</summary>
    /// <exception cref="CheckpointFormatException">The file is for another optimizer or model size, or damaged.</exception>
    public static void Load<T>(string path, Optimizer<T> optimizer)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        using SafetensorsFile file = SafetensorsFile.Open(path);
        string expectedKind = optimizer.GetType().Name;
        if (!file.Metadata.TryGetValue(KindKey, out string? kind) || kind != expectedKind)
        {
            throw new CheckpointFormatException(file.FilePath, null,
                $"it holds the state of optimizer '{kind ?? "(none)"}', not '{expectedKind}'; resume with the optimizer the run was started with.");
        }
        if (!file.Metadata.TryGetValue(StepKey, out string? stepText)
            || !int.TryParse(stepText, NumberStyles.Integer, CultureInfo.InvariantCulture, out int steps) || steps < 0)
        {
            throw new CheckpointFormatException(file.FilePath, null, $"its step count (metadata '{StepKey}') is missing or not a non-negative integer.");
        }
        var buffers = optimizer.StateBuffers;
        foreach (var (name, buffer) in buffers)
        {
            if (!file.Contains(name))
            {
                throw new CheckpointFormatException(file.FilePath, name, "missing: the optimizer has this state buffer but the file does not.");
            }
            var entry = file.GetEntry(name);
            if (entry.Shape.Count != 1 || entry.Shape[0] != buffer.Length || !ElementCodec.CanDecode<T>(entry.DType))
            {
                throw new CheckpointFormatException(file.FilePath, name,
                    $"expected {buffer.Length} values of the model's precision, the file has shape [{string.Join(", ", entry.Shape)}] of {entry.DType}; the state belongs to another model.");
            }
        }
        if (file.Entries.Count != buffers.Count)
        {
            throw new CheckpointFormatException(file.FilePath, null,
                $"it holds {file.Entries.Count} state buffers, the optimizer has {buffers.Count}; it belongs to another optimizer configuration (e.g. momentum).");
        }
        foreach (var (name, buffer) in buffers)
        {
            file.CopyTo(name, buffer.AsSpan());
        }
        optimizer.RestoreStepCount(steps);
    }
}
