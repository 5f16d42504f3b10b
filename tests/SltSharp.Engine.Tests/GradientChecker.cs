using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests;

/// <summary>
/// Compares reverse-mode gradients with central finite differences in double precision.
/// </summary>
/// <remarks>
/// The scalar checked is φ(x) = Σ r ⊙ f(x) with a fixed random cotangent r, so every output element's Jacobian row
/// contributes. Finite differences use Richardson extrapolation of central differences at h and h/2,
/// (4·D(h/2) − D(h))/3, whose truncation error is O(h⁴) ≈ 1e-16 at h = 1e-4, and rounding error ≈ 1e-16·|φ|/h ≈
/// 1e-12·|φ|: both far below the 1e-6 relative tolerance, so a failure means a wrong backward rule.
/// The relative error is |a − n| / max(|a|, |n|, 1e-3): components smaller than 1e-3 are held to an absolute 1e-9.
/// </remarks>
internal static class GradientChecker
{
    public const double Tolerance = 1e-6;
    private const double Step = 1e-4;

    /// <summary>Checks d φ / d inputs for a graph built from Variables over <paramref name="inputs"/>.</summary>
    public static void Check(Func<Tape<double>, Node<double>[], Node<double>> build, double[][] inputs, int[][] shapes, ulong seed = 1, int maxCoordinatesPerInput = int.MaxValue)
    {
        var tape = new Tape<double>();
        var vars = new Node<double>[inputs.Length];
        Node<double> Record()
        {
            tape.Reset();
            for (int i = 0; i < inputs.Length; i++)
            {
                vars[i] = tape.Variable(inputs[i], shapes[i]);
            }
            return build(tape, vars);
        }

        var output = Record();
        var cotangent = new double[output.Length];
        new Rng(seed, 99).FillGaussian(cotangent, 1.0);
        tape.Backward(output, cotangent);
        var analytic = vars.Select(v => v.Grad.ToArray()).ToArray();

        double Phi()
        {
            var o = Record().Value;
            double s = 0;
            for (int j = 0; j < o.Length; j++)
            {
                s += cotangent[j] * o[j];
            }
            return s;
        }

        var pick = new Rng(seed, 7);
        for (int i = 0; i < inputs.Length; i++)
        {
            var x = inputs[i];
            foreach (int j in Coordinates(x.Length, maxCoordinatesPerInput, pick))
            {
                double numeric = Numeric(v => x[j] = v, x[j], Phi);
                AssertClose(analytic[i][j], numeric, $"input {i} coordinate {j}");
            }
        }
    }

    /// <summary>Checks d Σ loss / d parameters of a built model at <paramref name="coordinates"/> random coordinates.</summary>
    public static void CheckModel(ParameterSet<double> parameters, Tape<double> tape, Func<Node<double>> loss, int coordinates, ulong seed = 3)
    {
        tape.Reset();
        parameters.ZeroGradients();
        tape.Backward(loss());
        var analytic = parameters.Gradients.ToArray();

        double Phi()
        {
            tape.Reset();
            double s = 0;
            foreach (double v in loss().Value)
            {
                s += v;
            }
            return s;
        }

        var pick = new Rng(seed, 11);
        foreach (int j in Coordinates(parameters.Count, coordinates, pick))
        {
            double numeric = Numeric(v => parameters.Values[j] = v, parameters.Values[j], Phi);
            AssertClose(analytic[j], numeric, $"parameter coordinate {j}");
        }
    }

    public static void AssertClose(double analytic, double numeric, string what)
    {
        double scale = Math.Max(Math.Max(Math.Abs(analytic), Math.Abs(numeric)), 1e-3);
        double rel = Math.Abs(analytic - numeric) / scale;
        Assert.True(rel < Tolerance, $"{what}: analytic {analytic:R} vs numeric {numeric:R} (relative error {rel:E2})");
    }

    /// <summary>Random values in ±[0.1, 1.1]: away from 0 so that ReLU kinks and divisions stay out of reach of the steps.</summary>
    public static double[] Values(int length, ulong stream, double offset = 0)
    {
        var rng = new Rng(12345, stream);
        var x = new double[length];
        for (int i = 0; i < length; i++)
        {
            double magnitude = 0.1 + rng.NextDouble();
            x[i] = offset + (rng.NextDouble() < 0.5 ? -magnitude : magnitude);
        }
        return x;
    }

    private static IEnumerable<int> Coordinates(int length, int max, Rng rng)
    {
        if (length <= max)
        {
            for (int j = 0; j < length; j++)
            {
                yield return j;
            }
            yield break;
        }
        for (int t = 0; t < max; t++)
        {
            yield return rng.NextInt(length);
        }
    }

    private static double Numeric(Action<double> set, double saved, Func<double> phi)
    {
        double D(double h)
        {
            set(saved + h);
            double plus = phi();
            set(saved - h);
            double minus = phi();
            set(saved);
            return (plus - minus) / (2 * h);
        }
        return ((4 * D(Step / 2)) - D(Step)) / 3;
    }
}
