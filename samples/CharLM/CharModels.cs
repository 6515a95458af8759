using SharpGrad.Layers;

namespace SharpGrad.Samples.CharLM;

/// <summary>A character-level language model: next-character logits for every position of a batch of sequences, and
/// one character at a time for generating text.</summary>
public interface ICharModel
{
    /// <summary>The logits of the next character at every position: token ids [N, T] (Int64) → [N, T, vocabulary].</summary>
    Tensor Forward(Tensor tokens);

    /// <summary>A generation session: feed it characters one at a time, it returns the next character's logits.</summary>
    ICharSession StartSession();

    /// <summary>The compiled program's <see cref="Forward(Tensor)"/> (<c>Compile()</c>) and its explanation (what runs eagerly).</summary>
    (Func<Tensor, Tensor> Forward, GraphExplanation Explanation) CompileForward();
}

/// <summary>Reads characters one at a time (under <c>Autograd.NoGrad()</c>, in eval mode) and gives the next one's logits.</summary>
public interface ICharSession
{
    /// <summary>Reads <paramref name="token"/>; returns the logits of the character after it [vocabulary].</summary>
    float[] Feed(long token);
}

/// <summary>
/// Embedding → LSTM → Linear (PyTorch: <c>nn.Embedding(V, E)</c>, <c>nn.LSTM(E, H, num_layers, batch_first=True)</c>,
/// <c>nn.Linear(H, V)</c>). Generation carries the LSTM's state (h, c) from one character to the next, so each new
/// character costs one step.
/// </summary>
[Module]
public sealed partial class CharLstm : ICharModel
{
    private readonly Embedding embed;
    private readonly LSTM lstm;
    private readonly Linear head;

    public CharLstm(int vocabulary, int embedding, int hidden, int layers, Rng? rng = null)
    {
        embed = new Embedding(vocabulary, embedding, rng: rng);
        lstm = new LSTM(embedding, hidden, numLayers: layers, batchFirst: true, rng: rng);
        head = new Linear(hidden, vocabulary, rng: rng);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Written out rather than as <c>Forward(tokens, null).Logits</c>: the generator compiles a <c>Tensor Forward</c> whose
    /// body it reads; a call to the tuple-returning overload below is code it does not see into (a graph break).
    /// </remarks>
    public Tensor Forward(Tensor tokens) => head.Forward(lstm.Forward(embed.Forward(tokens)).Output);

    /// <summary>The logits [N, T, V] and the LSTM's final state, starting from <paramref name="state"/> (zeros when null).</summary>
    public (Tensor Logits, (Tensor H, Tensor C) State) Forward(Tensor tokens, (Tensor H, Tensor C)? state)
    {
        var (output, next) = lstm.Forward(embed.Forward(tokens), state);
        return (head.Forward(output), next);
    }

    /// <inheritdoc/>
    public ICharSession StartSession() => new Session(this);

    /// <inheritdoc/>
    public (Func<Tensor, Tensor> Forward, GraphExplanation Explanation) CompileForward()
    {
        var compiled = Compile();
        return (compiled.Forward, compiled.Explanation);
    }

    private sealed class Session(CharLstm model) : ICharSession
    {
        private (Tensor H, Tensor C)? state;

        public float[] Feed(long token)
        {
            var (logits, next) = model.Forward(Tensor.FromArray([token], 1, 1), state);
            state = next;
            return logits.ToArray();
        }
    }
}

/// <summary>
/// A small GPT: token and position embeddings, pre-norm Transformer encoder layers under a causal mask, a final LayerNorm
/// and the output projection (PyTorch: <c>nn.TransformerEncoder(nn.TransformerEncoderLayer(d, heads, 4·d, dropout=0,
/// activation="gelu", batch_first=True, norm_first=True), layers)</c> with <c>mask=causal</c>). Generation reruns the
/// last <c>context</c> characters for each new one (no key/value cache).
/// </summary>
[Module]
public sealed partial class CharTransformer : ICharModel
{
    private readonly int context;
    private readonly Embedding tok;
    private readonly Embedding pos;
    private readonly TransformerEncoder blocks;
    private readonly LayerNorm ln_f;
    private readonly Linear head;

    public CharTransformer(int vocabulary, int dModel, int heads, int layers, int context, Rng? rng = null)
    {
        this.context = context;
        tok = new Embedding(vocabulary, dModel, rng: rng);
        pos = new Embedding(context, dModel, rng: rng);
        var layer = new TransformerEncoderLayer(dModel, heads, 4 * dModel, dropout: 0.0, activation: "gelu", batchFirst: true, normFirst: true, rng: rng);
        blocks = new TransformerEncoder(layer, layers);
        ln_f = new LayerNorm(dModel);
        head = new Linear(dModel, vocabulary, rng: rng);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The shape tells the compiled program where the batch is. In <c>Compile()</c> the checks run as written, the mask and the
    /// embeddings are one compiled region (reading the length again), the stack runs its own program, and the final LayerNorm
    /// and head are a compiled region of its output: the whole Forward is compiled.
    /// </remarks>
    public Tensor Forward([Shape("N", "T")] Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        int t = tokens.Size(1);
        if (t > context) throw new ArgumentException($"CharTransformer: sequences of at most {context} characters (its position table), but got {t}.");
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1); // true above the diagonal: a position may not see later ones
        var x = tok.Forward(tokens) + pos.Forward(Tensor.Arange(t).Unsqueeze(0));
        // A statement of its own: in Compile() the stack runs its own compiled program, the code around it compiled.
        var h = blocks.Forward(x, causal);
        return head.Forward(ln_f.Forward(h));
    }

    /// <inheritdoc/>
    public ICharSession StartSession() => new Session(this);

    /// <inheritdoc/>
    public (Func<Tensor, Tensor> Forward, GraphExplanation Explanation) CompileForward()
    {
        var compiled = Compile();
        return (compiled.Forward, compiled.Explanation);
    }

    private sealed class Session(CharTransformer model) : ICharSession
    {
        private readonly List<long> window = [];

        public float[] Feed(long token)
        {
            window.Add(token);
            if (window.Count > model.context) window.RemoveAt(0);
            using (Autograd.NoGrad())
            {
                var logits = model.Forward(Tensor.FromArray(window.ToArray(), 1, window.Count));
                return logits.Select(1, window.Count - 1).ToArray();
            }
        }
    }
}
