using SltSharp.Engine.Formats;

namespace SltSharp.Store.Export;

/// <summary>The .npz format for <see cref="IArrayExporter"/>, over the engine's <see cref="Npz"/> writer
/// (<c>numpy.load(path)["loss"]</c> gives the [chains, draws] trace matrix).</summary>
public sealed class NpzArrayExporter : IArrayExporter
{
    /// <inheritdoc />
    public string FileExtension => ".npz";

    /// <inheritdoc />
    public void Write(Stream output, IReadOnlyList<NamedArray> arrays)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(arrays);
        // numpy accepts '/' in entry names (np.load(...)["info/acceptance"]), so names pass through unchanged.
        Npz.Write(output, arrays, compress: true);
    }
}
