using SltSharp.Engine.Formats;

namespace SltSharp.Store.Export;

/// <summary>
/// Writes a set of named arrays to a stream in some array format. The arrays are the engine's <see cref="NamedArray"/> (the unit every checkpoint format writes); the .npz writer plugs in here;
/// <see cref="ResultsExporter.TraceArrays"/> produces what to write.
/// </summary>
public interface IArrayExporter
{
    /// <summary>The file extension the format uses, with the dot (e.g. <c>.npz</c>).</summary>
    string FileExtension { get; }

    /// <summary>Writes the arrays.</summary>
    /// <param name="output">Destination stream (left open).</param>
    /// <param name="arrays">The arrays, in order.</param>
    void Write(Stream output, IReadOnlyList<NamedArray> arrays);
}
