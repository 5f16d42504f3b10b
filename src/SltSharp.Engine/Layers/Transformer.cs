using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Ops;

namespace SltSharp.Engine.Layers;

/// <summary>
/// Multi-head causal self-attention with a fused q/k/v projection.
/// Keys: <c>qkv.weight</c> [3D, D], <c>qkv.bias</c> [3D], <c>proj.weight</c> [D, D], <c>proj.bias</c> [D].
/// </summary>
/// <remarks>
/// PyTorch mapping: nanoGPT's <c>attn.c_attn</c> ↔ <c>qkv</c> and <c>attn.c_proj</c> ↔ <c>proj</c> (same shapes,
/// nn.Linear layout); <c>nn.MultiheadAttention</c>'s <c>in_proj_weight</c>/<c>in_proj_bias</c> ↔ <c>qkv</c> and
/// <c>out_proj</c> ↔ <c>proj</c>. Rows of qkv are [q; k; v], each split into heads of D/H consecutive features,
/// exactly as both of those split them. Scores are scaled by 1/√(D/H).
/// </remarks>
public sealed class CausalSelfAttention<T> : Layer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the layer.</summary>
    public CausalSelfAttention(int modelDimension, int heads, bool bias = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(modelDimension);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        if (modelDimension % heads != 0)
        {
            throw new ArgumentException($"Model dimension {modelDimension} must be divisible by the number of heads {heads}.", nameof(heads));
        }
        ModelDimension = modelDimension;
        Heads = heads;
        Qkv = RegisterModule("qkv", new Linear<T>(modelDimension, 3 * modelDimension, bias));
        Proj = RegisterModule("proj", new Linear<T>(modelDimension, modelDimension, bias));
    }

    /// <summary>D.</summary>
    public int ModelDimension { get; }

    /// <summary>H.</summary>
    public int Heads { get; }

    /// <summary>The fused input projection D → 3D.</summary>
    public Linear<T> Qkv { get; }

    /// <summary>The output projection D → D.</summary>
    public Linear<T> Proj { get; }

    /// <summary>x: [C, B, T, D] → [C, B, T, D].</summary>
    public override Node<T> Forward(Tape<T> tape, Node<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 4 || x.Dim(3) != ModelDimension)
        {
            throw new ArgumentException($"Attention input must be [chains, batch, time, {ModelDimension}], got {x}.", nameof(x));
        }
        // One fused op reads each head's q, k, v in place from the packed projection and writes the heads merged
        // (see AttentionOps.CausalAttention): same result as split-heads permute, masked softmax, merge permute.
        var qkv = Qkv.Forward(tape, x);                                     // [C, B, T, 3D]
        return Proj.Forward(tape, tape.CausalAttention(qkv, Heads));        // [C, B, T, D]
    }
}

/// <summary>The transformer MLP: <c>fc</c> (D → hidden), GELU (exact), <c>proj</c> (hidden → D). nanoGPT: c_fc, c_proj.</summary>
public sealed class MlpBlock<T> : Layer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the block.</summary>
    public MlpBlock(int modelDimension, int hidden, bool bias = true, ActivationKind activation = ActivationKind.Gelu)
    {
        Fc = RegisterModule("fc", new Linear<T>(modelDimension, hidden, bias));
        Proj = RegisterModule("proj", new Linear<T>(hidden, modelDimension, bias));
        ActivationFunction = new Activation<T>(activation);
    }

    /// <summary>D → hidden.</summary>
    public Linear<T> Fc { get; }

    /// <summary>hidden → D.</summary>
    public Linear<T> Proj { get; }

    /// <summary>The nonlinearity between the two projections.</summary>
    public Activation<T> ActivationFunction { get; }

    /// <inheritdoc/>
    public override Node<T> Forward(Tape<T> tape, Node<T> x) => Proj.Forward(tape, ActivationFunction.Forward(tape, Fc.Forward(tape, x)));
}

/// <summary>Where a transformer block applies its layer norms relative to the residual additions.</summary>
public enum LayerNormPlacement
{
    /// <summary>Pre-LN (GPT-2, nanoGPT): x + attn(ln1(x)), then x + mlp(ln2(x)).</summary>
    Pre,

    /// <summary>
    /// Post-LN (the original Transformer, <c>nn.TransformerEncoderLayer(norm_first=False)</c>): ln1(x + attn(x)), then
    /// ln2(x + mlp(x)).
    /// </summary>
    Post,
}

/// <summary>
/// A transformer block, pre-LN by default: x + attn(ln1(x)), then x + mlp(ln2(x)). Keys <c>ln1.*</c>, <c>attn.*</c>,
/// <c>ln2.*</c>, <c>mlp.*</c> (nanoGPT: ln_1, attn, ln_2, mlp).
/// </summary>
public sealed class TransformerBlock<T> : Layer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the block.</summary>
    public TransformerBlock(int modelDimension, int heads, int mlpHidden, bool bias = true,
        LayerNormPlacement placement = LayerNormPlacement.Pre, double layerNormEpsilon = NormalizationOps.DefaultLayerNormEpsilon)
    {
        Placement = placement;
        Ln1 = RegisterModule("ln1", new LayerNorm<T>(modelDimension, layerNormEpsilon));
        Attn = RegisterModule("attn", new CausalSelfAttention<T>(modelDimension, heads, bias));
        Ln2 = RegisterModule("ln2", new LayerNorm<T>(modelDimension, layerNormEpsilon));
        Mlp = RegisterModule("mlp", new MlpBlock<T>(modelDimension, mlpHidden, bias));
    }

    /// <summary>Pre- or post-LN.</summary>
    public LayerNormPlacement Placement { get; }

    /// <summary>Norm before attention.</summary>
    public LayerNorm<T> Ln1 { get; }

    /// <summary>Attention.</summary>
    public CausalSelfAttention<T> Attn { get; }

    /// <summary>Norm before the MLP.</summary>
    public LayerNorm<T> Ln2 { get; }

    /// <summary>The MLP.</summary>
    public MlpBlock<T> Mlp { get; }

    /// <summary>x: [C, B, T, D] → [C, B, T, D].</summary>
    public override Node<T> Forward(Tape<T> tape, Node<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        if (Placement == LayerNormPlacement.Post)
        {
            x = Ln1.Forward(tape, tape.Add(x, Attn.Forward(tape, x)));
            return Ln2.Forward(tape, tape.Add(x, Mlp.Forward(tape, x)));
        }
        x = tape.Add(x, Attn.Forward(tape, Ln1.Forward(tape, x)));
        return tape.Add(x, Mlp.Forward(tape, Ln2.Forward(tape, x)));
    }
}

/// <summary>
/// A small decoder-only transformer: token embedding + learned positional embedding, pre-LN blocks, final LayerNorm,
/// unembedding. Keys: <c>token_embedding.weight</c> [V, D], <c>position_embedding.weight</c> [context, D],
/// <c>blocks.{i}.*</c>, <c>ln_f.*</c>, <c>unembed.weight</c> [V, D] (+ <c>unembed.bias</c> if requested).
/// </summary>
/// <remarks>
/// nanoGPT mapping: transformer.wte ↔ token_embedding, transformer.wpe ↔ position_embedding, transformer.h.{i} ↔
/// blocks.{i} (ln_1 ↔ ln1, ln_2 ↔ ln2, attn.c_attn ↔ attn.qkv, attn.c_proj ↔ attn.proj, mlp.c_fc ↔ mlp.fc,
/// mlp.c_proj ↔ mlp.proj), transformer.ln_f ↔ ln_f, lm_head ↔ unembed (not tied here). Initialisation is PyTorch's
/// per-module default, not nanoGPT's custom N(0, 0.02). The final <c>ln_f</c> is present for both layer-norm
/// placements, so the key set does not depend on the placement.
/// </remarks>
public sealed class DecoderTransformer<T> : Module<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly TransformerBlock<T>[] _blocks;

    /// <summary>Creates the model; <paramref name="mlpHidden"/> defaults to 4·D.</summary>
    public DecoderTransformer(int vocabulary, int contextLength, int modelDimension, int heads, int layers, int mlpHidden = 0, bool unembedBias = false,
        LayerNormPlacement placement = LayerNormPlacement.Pre, double layerNormEpsilon = NormalizationOps.DefaultLayerNormEpsilon)
    {
        if (!(layerNormEpsilon > 0) || !double.IsFinite(layerNormEpsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(layerNormEpsilon), layerNormEpsilon, "The layer-norm epsilon must be a positive finite number (PyTorch's default is 1e-5).");
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabulary);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(contextLength);
        ArgumentOutOfRangeException.ThrowIfNegative(layers);
        Vocabulary = vocabulary;
        ContextLength = contextLength;
        ModelDimension = modelDimension;
        TokenEmbedding = RegisterModule("token_embedding", new Embedding<T>(vocabulary, modelDimension));
        PositionEmbedding = RegisterModule("position_embedding", new Embedding<T>(contextLength, modelDimension));
        var blockList = new BlockList();
        RegisterModule("blocks", blockList);
        _blocks = new TransformerBlock<T>[layers];
        for (int i = 0; i < layers; i++)
        {
            _blocks[i] = blockList.Add(new TransformerBlock<T>(modelDimension, heads, mlpHidden > 0 ? mlpHidden : 4 * modelDimension, bias: true, placement, layerNormEpsilon));
        }
        LnF = RegisterModule("ln_f", new LayerNorm<T>(modelDimension, layerNormEpsilon));
        Unembed = RegisterModule("unembed", new Linear<T>(modelDimension, vocabulary, unembedBias));
    }

    /// <summary>V.</summary>
    public int Vocabulary { get; }

    /// <summary>Maximum sequence length.</summary>
    public int ContextLength { get; }

    /// <summary>D.</summary>
    public int ModelDimension { get; }

    /// <summary>Token table.</summary>
    public Embedding<T> TokenEmbedding { get; }

    /// <summary>Position table.</summary>
    public Embedding<T> PositionEmbedding { get; }

    /// <summary>The blocks in order.</summary>
    public IReadOnlyList<TransformerBlock<T>> Blocks => _blocks;

    /// <summary>Final norm.</summary>
    public LayerNorm<T> LnF { get; }

    /// <summary>Readout D → V.</summary>
    public Linear<T> Unembed { get; }

    /// <summary>
    /// Logits [C, B, T, V] for <paramref name="tokens"/> given chain-major as [C, B, T] (C = the model's chains).
    /// </summary>
    public Node<T> Forward(Tape<T> tape, ReadOnlySpan<int> tokens, int batch, int length)
    {
        ArgumentNullException.ThrowIfNull(tape);
        if (length < 1 || length > ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"Sequence length {length} must be in [1, {ContextLength}] (the context length).");
        }
        int c = Chains, d = ModelDimension;
        var x = TokenEmbedding.Forward(tape, tokens, c, batch, length);                 // [C, B, T, D]
        var pos = tape.Narrow(tape.Parameter(PositionEmbedding.Weight), 1, 0, length);  // [C, T, D]
        x = tape.Add(x, tape.Reshape(pos, c, 1, length, d));
        foreach (var block in _blocks)
        {
            x = block.Forward(tape, x);
        }
        return Unembed.Forward(tape, LnF.Forward(tape, x));
    }

    /// <summary>Next-token cross-entropy per chain ([C]) for inputs and targets given chain-major as [C, B, T].</summary>
    public Node<T> Loss(Tape<T> tape, ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int length)
    {
        ArgumentNullException.ThrowIfNull(tape);
        return tape.CrossEntropy(Forward(tape, tokens, batch, length), targets, Chains);
    }

    /// <summary>A parameterless container whose children are named "0", "1", ... like <c>nn.ModuleList</c>.</summary>
    private sealed class BlockList : Module<T>
    {
        private int _count;

        public TransformerBlock<T> Add(TransformerBlock<T> block) =>
            RegisterModule((_count++).ToString(System.Globalization.CultureInfo.InvariantCulture), block);
    }
}
