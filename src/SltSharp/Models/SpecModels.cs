using System.Numerics;
using SltSharp.Engine.Checkpoints;
using SltSharp.Engine.Layers;
using SltSharp.Models.Tms;

namespace SltSharp.Models;

/// <summary>
/// Builds the model a <see cref="ModelSpec"/> describes, for every kind, including those the engine cannot build
/// itself (the toy model of superposition lives here, in the science layer). The one place that maps a spec to a model.
/// </summary>
public static class SpecModels
{
    /// <summary>A new, unbuilt model for <paramref name="spec"/>; its parameter names are the PyTorch state_dict keys.</summary>
    public static Module<T> Create<T>(ModelSpec spec)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec switch
        {
            TmsSpec tms => new TmsModel<T>(tms.Hidden, tms.Features),
            _ => spec.CreateModule<T>(),
        };
    }

    /// <summary>
    /// The flat parameter vector (state_dict order, each tensor row-major) of the checkpoint at <paramref name="path"/>,
    /// loaded into the model of <paramref name="spec"/>: the w* at which a checkpoint's LLC is measured.
    /// </summary>
    /// <exception cref="Engine.Formats.CheckpointFormatException">The file is malformed or its tensors do not match the
    /// spec (the message names the tensor and both shapes).</exception>
    public static T[] LoadFlat<T>(ModelSpec spec, string path)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Module<T> model = Create<T>(spec);
        // Initial values are overwritten by the load; a fixed seed keeps the build deterministic.
        ParameterSet<T> parameters = model.Build(1, new Engine.Random.Rng(0));
        Checkpoint.Load(path, parameters);
        var flat = new T[parameters.CountPerChain];
        parameters.CopyChainTo(0, flat);
        return flat;
    }
}
