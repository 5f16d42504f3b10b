using System.Numerics;
using SltSharp.Engine.Autodiff;
using SltSharp.Engine.Ops;

namespace SltSharp.Engine.Layers;

/// <summary>
/// A decoder-only transformer over real-valued tokens (e.g. in-context regression, where a token is an input vector
/// or a label): a linear input projection ("embedding" of continuous tokens) + learned positional embedding, the same
/// pre-LN blocks as <see cref="DecoderTransformer{T}"/>, final LayerNorm and a linear readout. Keys:
/// <c>input.weight</c> [D, in], <c>input.bias</c> [D], <c>position_embedding.weight</c> [context, D],
/// <c>blocks.{i}.*</c>, <c>ln_f.*</c>, <c>readout.weight</c> [out, D], <c>readout.bias</c> [out].
/// </summary>
/// <remarks>
/// The only difference from the token-id model is the first and last layer, so the blocks (and their state_dict
/// names, e.g. <c>blocks.0.attn.qkv.weight</c>) are shared with it. PyTorch equivalent: <c>nn.Linear(in, D)</c>
/// applied to each token, plus <c>nn.Embedding(context, D)</c> of the positions, the blocks, <c>nn.LayerNorm(D)</c>,
/// <c>nn.Linear(D, out)</c>.
/// </remarks>
public sealed class ContinuousDecoderTransformer<T> : Layer<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly TransformerBlock<T>[] _blocks;
    private readonly int[] _shape4 = new int[4];

    /// <summary>Creates the model; <paramref name="mlpHidden"/> defaults to 4·D.</summary>
    /// <param name="tokenWidth">Values per input token.</param>
    /// <param name="outputWidth">Values read out per position.</param>
    /// <param name="contextLength">Maximum sequence length.</param>
    /// <param name="modelDimension">D.</param>
    /// <param name="heads">Attention heads per block.</param>
    /// <param name="layers">Number of blocks.</param>
    /// <param name="mlpHidden">Hidden width of each block's MLP (0: 4·D).</param>
    public ContinuousDecoderTransformer(int tokenWidth, int outputWidth, int contextLength, int modelDimension, int heads, int layers, int mlpHidden = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokenWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(contextLength);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(modelDimension);
        ArgumentOutOfRangeException.ThrowIfNegative(layers);
        TokenWidth = tokenWidth;
        OutputWidth = outputWidth;
        ContextLength = contextLength;
        ModelDimension = modelDimension;
        Input = RegisterModule("input", new Linear<T>(tokenWidth, modelDimension));
        PositionEmbedding = RegisterModule("position_embedding", new Embedding<T>(contextLength, modelDimension));
        var blockList = new BlockList();
        RegisterModule("blocks", blockList);
        _blocks = new TransformerBlock<T>[layers];
        for (int i = 0; i < layers; i++)
        {
            _blocks[i] = blockList.Add(new TransformerBlock<T>(modelDimension, heads, mlpHidden > 0 ? mlpHidden : 4 * modelDimension));
        }
        LnF = RegisterModule("ln_f", new LayerNorm<T>(modelDimension));
        Readout = RegisterModule("readout", new Linear<T>(modelDimension, outputWidth));
    }

    /// <summary>Values per input token.</summary>
    public int TokenWidth { get; }

    /// <summary>Values per output position.</summary>
    public int OutputWidth { get; }

    /// <summary>Maximum sequence length.</summary>
    public int ContextLength { get; }

    /// <summary>D.</summary>
    public int ModelDimension { get; }

    /// <summary>Token projection in → D.</summary>
    public Linear<T> Input { get; }

    /// <summary>Position table.</summary>
    public Embedding<T> PositionEmbedding { get; }

    /// <summary>The blocks in order.</summary>
    public IReadOnlyList<TransformerBlock<T>> Blocks => _blocks;

    /// <summary>Final norm.</summary>
    public LayerNorm<T> LnF { get; }

    /// <summary>Readout D → out.</summary>
    public Linear<T> Readout { get; }

    /// <summary>
    /// x: [C, B, T, in], or [C, B, T·in] (one flattened sequence per row, as a dataset of rows stores it) →
    /// [C, B, T, out].
    /// </summary>
    public override Node<T> Forward(Tape<T> tape, Node<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank == 3)
        {
            if (x.Dim(2) % TokenWidth != 0)
            {
                throw new ArgumentException($"A flattened sequence row must hold whole tokens of {TokenWidth} values; got rows of {x.Dim(2)}.", nameof(x));
            }
            _shape4[0] = x.Dim(0);
            _shape4[1] = x.Dim(1);
            _shape4[2] = x.Dim(2) / TokenWidth;
            _shape4[3] = TokenWidth;
            x = tape.Reshape(x, _shape4);
        }
        if (x.Rank != 4 || x.Dim(3) != TokenWidth)
        {
            throw new ArgumentException($"Input must be [chains, batch, time, {TokenWidth}], got {x}.", nameof(x));
        }
        int c = x.Dim(0), length = x.Dim(2), d = ModelDimension;
        if (length > ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(x), $"Sequence length {length} exceeds the context length {ContextLength}.");
        }
        var h = Input.Forward(tape, x);                                                  // [C, B, T, D]
        var pos = tape.Narrow(tape.Parameter(PositionEmbedding.Weight), 1, 0, length);  // [C, T, D]
        h = tape.Add(h, tape.Reshape(pos, c, 1, length, d));
        foreach (var block in _blocks)
        {
            h = block.Forward(tape, h);
        }
        return Readout.Forward(tape, LnF.Forward(tape, h));
    }

    /// <summary>A parameterless container whose children are named "0", "1", ... like <c>nn.ModuleList</c>.</summary>
    private sealed class BlockList : Module<T>
    {
        private int _count;

        public TransformerBlock<T> Add(TransformerBlock<T> block) =>
            RegisterModule((_count++).ToString(System.Globalization.CultureInfo.InvariantCulture), block);
    }
}
