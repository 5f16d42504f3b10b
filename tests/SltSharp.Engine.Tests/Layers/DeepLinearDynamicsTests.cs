using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Layers;
using SltSharp.Engine.Ops;
using SltSharp.Engine.Optim;
using SltSharp.Engine.Random;

namespace SltSharp.Engine.Tests.Layers;

/// <summary>
/// Saxe, McClelland &amp; Ganguli (arXiv 1312.6120): a 2-layer linear network trained from small balanced init learns
/// each singular mode of the input–output correlation along a sigmoid u(t) = s·e^{2st/τ}/(e^{2st/τ} − 1 + s/u₀).
/// </summary>
/// <remarks>
/// Scaling, derived for this test's conventions. With whitened inputs ((1/P)Σ x xᵀ = I) and
/// L = (1/P)Σ ½‖y − W₂W₁x‖², ∇_{W₁}L = −W₂ᵀ(Σ_yx − W₂W₁) and ∇_{W₂}L = −(Σ_yx − W₂W₁)W₁ᵀ with Σ_yx = USVᵀ. Gradient
/// descent with rate η is the Euler scheme of τ·dW/dt = −∇L with τ = 1/η and t counted in steps. Starting from
/// W₁ = a₀RVᵀ, W₂ = a₀URᵀ (R orthogonal) the modes decouple; each has W₁v = a·r, uᵀW₂ = a·rᵀ with τ·da/dt = a(s − a²),
/// so u = a² obeys τ·du/dt = 2u(s − u), whose solution is the formula above with u₀ = a₀².
/// nn.MSELoss averages over the N₃ outputs as well, so L = (N₃/2)·MSE: the test scales the engine's MSE by N₃/2.
/// Euler's error: per step log u grows by 2ln(1 + η(s−u)) instead of 2η(s−u), a relative lag of about η²s² per step,
/// accumulated over the ≈ ln(s/u₀)/(2ηs) steps of the rise: ηs·ln(s/u₀)/2 ≤ 0.9% for s = 3, η = 1e-3, u₀ = 0.01.
/// The tolerance of 2.5% is that bound with margin; a wrong factor of 2 in the loss or gradient would be off by far more.
/// </remarks>
public class DeepLinearDynamicsTests
{
    [Fact]
    public void Mode_strengths_follow_the_closed_form_and_larger_modes_are_learned_first()
    {
        const int n = 3, p = 6, steps = 5000;
        const double eta = 1e-3, a0 = 0.1, u0 = a0 * a0;
        double[] s = [3, 2, 1];
        var rng = new Rng(11);
        var u = Orthogonal(n, n, rng);
        var v = Orthogonal(n, n, rng);
        var r = Orthogonal(n, n, rng);
        var q = Orthogonal(p, n, rng); // orthonormal columns

        // Whitened inputs x_μ = √P·q_μ and teacher outputs y_μ = U S Vᵀ x_μ.
        var x = new double[p * n];
        var y = new double[p * n];
        for (int mu = 0; mu < p; mu++)
        {
            for (int i = 0; i < n; i++)
            {
                x[(mu * n) + i] = Math.Sqrt(p) * q[mu, i];
            }
            for (int o = 0; o < n; o++)
            {
                double acc = 0;
                for (int a = 0; a < n; a++)
                {
                    double vx = 0;
                    for (int i = 0; i < n; i++)
                    {
                        vx += v[i, a] * x[(mu * n) + i];
                    }
                    acc += u[o, a] * s[a] * vx;
                }
                y[(mu * n) + o] = acc;
            }
        }

        var model = Sequential<double>.DeepLinear([n, n, n]);
        var set = model.Build(1, new Rng(1));
        var w1 = set["0.weight"].Value(); // [hidden, in] = a0·R·Vᵀ
        var w2 = set["1.weight"].Value(); // [out, hidden] = a0·U·Rᵀ
        for (int h = 0; h < n; h++)
        {
            for (int i = 0; i < n; i++)
            {
                double a = 0, b = 0;
                for (int k = 0; k < n; k++)
                {
                    a += r[h, k] * v[i, k];
                    b += u[h, k] * r[i, k];
                }
                w1[(h * n) + i] = a0 * a;
                w2[(h * n) + i] = a0 * b;
            }
        }

        var opt = new Sgd<double>(set, eta);
        var tape = new Tape<double>();
        var halfTime = new int[n];
        Array.Fill(halfTime, -1);
        double worst = 0;
        for (int t = 0; t <= steps; t++)
        {
            for (int a = 0; a < n; a++)
            {
                double strength = ModeStrength(set, u, v, a, n);
                double e = Math.Exp(2 * s[a] * t * eta);
                double theory = s[a] * e / (e - 1 + (s[a] / u0));
                worst = Math.Max(worst, Math.Abs(strength - theory) / theory);
                Assert.True(Math.Abs(strength - theory) <= 0.025 * theory, $"mode s={s[a]} at step {t}: u = {strength}, formula {theory}");
                if (halfTime[a] < 0 && strength >= s[a] / 2)
                {
                    halfTime[a] = t;
                }
            }
            tape.Reset();
            var pred = model.Forward(tape, tape.Input(x, p, n));
            var loss = tape.Scale(tape.MseLoss(pred, tape.Input(y, p, n)), n / 2.0);
            opt.ZeroGrad();
            tape.Backward(loss);
            opt.Step();
        }

        // Larger singular values are learned first, at t½ = (τ/2s)·ln(s/u₀ − 1).
        Assert.True(halfTime[0] > 0 && halfTime[0] < halfTime[1] && halfTime[1] < halfTime[2], string.Join(", ", halfTime));
        for (int a = 0; a < n; a++)
        {
            double predicted = Math.Log((s[a] / u0) - 1) / (2 * s[a] * eta);
            Assert.Equal(predicted, halfTime[a], 0.025 * predicted);
        }
        Assert.True(worst > 0); // the comparison ran
    }

    private static double ModeStrength(ParameterSet<double> set, double[,] u, double[,] v, int a, int n)
    {
        var w1 = set["0.weight"].Value();
        var w2 = set["1.weight"].Value();
        // uₐᵀ W₂ W₁ vₐ
        double total = 0;
        for (int h = 0; h < n; h++)
        {
            double left = 0, right = 0;
            for (int o = 0; o < n; o++)
            {
                left += u[o, a] * w2[(o * n) + h];
            }
            for (int i = 0; i < n; i++)
            {
                right += w1[(h * n) + i] * v[i, a];
            }
            total += left * right;
        }
        return total;
    }

    /// <summary>A rows×cols matrix with orthonormal columns (Gram–Schmidt on Gaussian columns).</summary>
    private static double[,] Orthogonal(int rows, int cols, Rng rng)
    {
        var m = new double[rows, cols];
        for (int j = 0; j < cols; j++)
        {
            for (int i = 0; i < rows; i++)
            {
                m[i, j] = rng.NextGaussian();
            }
            for (int k = 0; k < j; k++)
            {
                double dot = 0;
                for (int i = 0; i < rows; i++)
                {
                    dot += m[i, j] * m[i, k];
                }
                for (int i = 0; i < rows; i++)
                {
                    m[i, j] -= dot * m[i, k];
                }
            }
            double norm = 0;
            for (int i = 0; i < rows; i++)
            {
                norm += m[i, j] * m[i, j];
            }
            norm = Math.Sqrt(norm);
            for (int i = 0; i < rows; i++)
            {
                m[i, j] /= norm;
            }
        }
        return m;
    }
}
