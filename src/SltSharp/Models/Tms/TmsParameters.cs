namespace SltSharp.Models.Tms;

/// <summary>
/// Parameters of the toy model of superposition f(x) = ReLU(WᵀW·x + b) with W ∈ R^{hidden×features} (row-major:
/// W[r, j] = <see cref="W"/>[r·features + j], column j is feature j's embedding) and b ∈ R^{features}.
/// The model of Chen et al. (arXiv 2310.06301) has hidden = 2, features = 6.
/// </summary>
public sealed class TmsParameters
{
    /// <summary>Wraps copies of the given arrays.</summary>
    /// <exception cref="ArgumentException">When the lengths do not match hidden·features and features.</exception>
    public TmsParameters(int hidden, int features, ReadOnlySpan<double> w, ReadOnlySpan<double> b)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        if (w.Length != hidden * features)
        {
            throw new ArgumentException($"W must hold hidden·features = {hidden * features} values (row-major {hidden}×{features}); got {w.Length}.", nameof(w));
        }
        if (b.Length != features)
        {
            throw new ArgumentException($"b must hold one bias per feature ({features}); got {b.Length}.", nameof(b));
        }
        Hidden = hidden;
        Features = features;
        W = w.ToArray();
        B = b.ToArray();
    }

    /// <summary>Zero weights and biases for the given shape.</summary>
    public static TmsParameters Zero(int hidden = 2, int features = 6) => new(hidden, features, new double[hidden * features], new double[features]);

    /// <summary>Hidden width (2 in the standard model).</summary>
    public int Hidden { get; }

    /// <summary>Number of features (6 in the standard model).</summary>
    public int Features { get; }

    /// <summary>W, row-major hidden×features.</summary>
    public double[] W { get; }

    /// <summary>b, one bias per feature.</summary>
    public double[] B { get; }

    /// <summary>Total parameter count hidden·features + features (18 for the standard model).</summary>
    public int ParameterCount => W.Length + B.Length;

    /// <summary>Euclidean norm of column j of W (feature j's embedding).</summary>
    public double ColumnNorm(int j)
    {
        double s = 0;
        for (int r = 0; r < Hidden; r++)
        {
            double v = W[(r * Features) + j];
            s += v * v;
        }
        return Math.Sqrt(s);
    }

    /// <summary>½‖w‖² over all parameters: −ln of a standard normal prior density up to its normalising constant.</summary>
    public double HalfSquaredNorm()
    {
        double s = 0;
        foreach (double v in W)
        {
            s += v * v;
        }
        foreach (double v in B)
        {
            s += v * v;
        }
        return 0.5 * s;
    }

    /// <summary>The parameters as one flat vector (W row-major, then b), the layout samplers use.</summary>
    public double[] ToFlat() => [.. W, .. B];

    /// <summary>Parameters from a flat vector (W row-major, then b).</summary>
    public static TmsParameters FromFlat(int hidden, int features, ReadOnlySpan<double> flat)
    {
        if (flat.Length != (hidden * features) + features)
        {
            throw new ArgumentException($"A flat TMS vector has hidden·features + features = {(hidden * features) + features} values; got {flat.Length}.", nameof(flat));
        }
        return new TmsParameters(hidden, features, flat[..(hidden * features)], flat[(hidden * features)..]);
    }
}
