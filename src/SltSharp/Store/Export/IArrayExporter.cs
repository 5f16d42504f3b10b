namespace SltSharp.Store.Export;

/// <summary>
/// A named n-dimensional array in row-major order, the unit of array exports (one .npy entry of an .npz file).
/// </summary>
public sealed record NamedArray
{
    /// <summary>Creates the array, checking that the shape matches the data.</summary>
    /// <param name="name">Entry name, e.g. <c>loss</c> or <c>info/grad_norm</c>.</param>
    /// <param name="shape">Dimensions, outermost first.</param>
    /// <param name="values">A <c>double[]</c> or <c>float[]</c> with the product of <paramref name="shape"/> elements.</param>
    public NamedArray(string name, int[] shape, Array values)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(values);
        if (values is not double[] and not float[])
        {
            throw new ArgumentException($"Array '{name}' must hold double[] or float[], not {values.GetType().Name}.", nameof(values));
        }

        var count = shape.Aggregate(1L, (a, d) => d >= 0 ? a * d : throw new ArgumentException($"Array '{name}' has a negative dimension.", nameof(shape)));
        if (count != values.Length)
        {
            throw new ArgumentException(
                $"Array '{name}' has shape [{string.Join(", ", shape)}] ({count} elements) but {values.Length} values.", nameof(values));
        }

        Name = name;
        Shape = shape;
        Values = values;
    }

    /// <summary>Entry name.</summary>
    public string Name { get; }

    /// <summary>Dimensions, outermost first.</summary>
    public int[] Shape { get; }

    /// <summary>Row-major values: <c>double[]</c> or <c>float[]</c>.</summary>
    public Array Values { get; }
}

/// <summary>
/// Writes a set of named arrays to a stream in some array format. The .npz writer of the engine plugs in here;
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
