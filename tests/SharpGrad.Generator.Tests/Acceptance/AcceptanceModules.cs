using SharpGrad.Layers;

namespace SharpGrad.Generator.Tests.Acceptance;

// Issue 12's acceptance models: modules written the way PyTorch users write them (sizes passed to the constructor,
// layers assigned there, lists built in loops, helper methods, slicing, Cat, masks, residual blocks). They must build
// with no error and no warning, and each one's Compile() must give eager's outputs and gradients (AcceptanceTests).

/// <summary>Two static regions around a helper call (a graph break): both regions are compiled.</summary>
[Module]
public sealed partial class RegionNet
{
    private readonly Linear fc1 = new(6, 8);
    private readonly Linear fc2 = new(8, 4);

    public Tensor Forward(Tensor x)
    {
        var h = Functional.Relu(fc1.Forward(x));
        h = Rescale(h);
        return fc2.Forward(h) * 2f;
    }

    private static Tensor Rescale(Tensor t) => t * 0.5f + 1f;
}

/// <summary>A residual stream kept across a break: the region before it leaves <c>h</c>, the one after reads <c>h</c> and <c>skip</c>.</summary>
[Module]
public sealed partial class SkipAcrossBreakNet
{
    private readonly Linear inProj = new(5, 7);
    private readonly Linear outProj = new(7, 7);

    public Tensor Forward(Tensor x)
    {
        var skip = inProj.Forward(x);
        var h = Functional.Tanh(skip);
        foreach (float scale in new[] { 0.9f, 0.9f }) h = h * scale;
        h = outProj.Forward(h) + skip;
        return Functional.Sigmoid(h);
    }
}

/// <summary>self.fc1 = nn.Linear(in, hidden) … in __init__: sizes from the constructor.</summary>
[Module]
public sealed partial class CtorMlp
{
    private readonly Linear fc1;
    private readonly Linear fc2;

    public CtorMlp(int inFeatures, int hidden, int outFeatures)
    {
        fc1 = new Linear(inFeatures, hidden);
        fc2 = new Linear(hidden, outFeatures);
    }

    public Tensor Forward(Tensor x) => fc2.Forward(Functional.Relu(fc1.Forward(x)));
}

/// <summary>An MLP from a list of hidden sizes, its layers appended to a ModuleList in a loop.</summary>
[Module]
public sealed partial class HiddenSizesMlp
{
    private readonly ModuleList<Linear> layers = new();

    public HiddenSizesMlp(int[] sizes)
    {
        for (int i = 0; i < sizes.Length - 1; i++) layers.Append(new Linear(sizes[i], sizes[i + 1]));
    }

    public Tensor Forward(Tensor x)
    {
        for (int i = 0; i < layers.Count - 1; i++) x = Functional.Gelu(layers[i].Forward(x));
        return layers[layers.Count - 1].Forward(x);
    }
}

/// <summary>A pre-norm residual MLP block of width d.</summary>
[Module]
public sealed partial class ResidualMlpBlock
{
    private readonly LayerNorm norm;
    private readonly Linear up;
    private readonly Linear down;

    public ResidualMlpBlock(int d)
    {
        norm = new LayerNorm(d);
        up = new Linear(d, 2 * d);
        down = new Linear(2 * d, d);
    }

    public Tensor Forward(Tensor x)
    {
        var h = norm.Forward(x);
        h = down.Forward(Functional.Relu(up.Forward(h)));
        return x + h;
    }
}

/// <summary>A stack of residual blocks built in a loop (ModuleList), then a head.</summary>
[Module]
public sealed partial class ResidualStack
{
    private readonly ModuleList<ResidualMlpBlock> blocks = new();
    private readonly Linear head;

    public ResidualStack(int d, int depth, int classes)
    {
        for (int i = 0; i < depth; i++) blocks.Append(new ResidualMlpBlock(d));
        head = new Linear(d, classes);
    }

    public Tensor Forward(Tensor x)
    {
        foreach (var block in blocks) x = block.Forward(x);
        return head.Forward(x);
    }
}

/// <summary>A residual MLP block of width d whose first layer is a Linear (its input, [N, d], is known from it: its own program is whole).</summary>
[Module]
public sealed partial class LinearResidualBlock
{
    private readonly Linear up;
    private readonly Linear down;

    public LinearResidualBlock(int d)
    {
        up = new Linear(d, 2 * d);
        down = new Linear(2 * d, d);
    }

    public Tensor Forward(Tensor x) => x + down.Forward(Functional.Tanh(up.Forward(x)));
}

/// <summary>A stack of blocks whose count is a constructor parameter, then a head: each block runs its own whole program.</summary>
[Module]
public sealed partial class DeepResidualNet
{
    private readonly Linear stem;
    private readonly ModuleList<LinearResidualBlock> blocks = new();
    private readonly Linear head;

    public DeepResidualNet(int inputs, int d, int depth, int classes)
    {
        stem = new Linear(inputs, d);
        for (int i = 0; i < depth; i++) blocks.Append(new LinearResidualBlock(d));
        head = new Linear(d, classes);
    }

    public Tensor Forward(Tensor x)
    {
        x = Functional.Relu(stem.Forward(x));
        foreach (var block in blocks) x = block.Forward(x);
        return head.Forward(x);
    }
}

/// <summary>Only the loop over the blocks (no compiled region of the parent's own): the loop alone is the program.</summary>
[Module]
public sealed partial class BlocksOnly
{
    private readonly ModuleList<LinearResidualBlock> blocks = new();

    public BlocksOnly(int d, int depth)
    {
        for (int i = 0; i < depth; i++) blocks.Append(new LinearResidualBlock(d));
    }

    public Tensor Forward(Tensor x)
    {
        foreach (var block in blocks) x = block.Forward(x);
        return x;
    }
}

/// <summary>A block with two constructors, the short one forwarding to the full one (<c>: this(d, 2 * d)</c>).</summary>
[Module]
public sealed partial class TwoCtorBlock
{
    private readonly Linear fc1;
    private readonly Linear fc2;

    public TwoCtorBlock(int d) : this(d, 2 * d) { }

    public TwoCtorBlock(int d, int hidden)
    {
        fc1 = new Linear(d, hidden);
        fc2 = new Linear(hidden, d);
    }

    public Tensor Forward(Tensor x) => x + fc2.Forward(Functional.Relu(fc1.Forward(x)));
}

/// <summary>A net built with a default constructor forwarding to a sized one, whose blocks use both constructors of TwoCtorBlock.</summary>
[Module]
public sealed partial class ChainedCtorNet
{
    private readonly Linear stem;
    private readonly TwoCtorBlock wide;
    private readonly TwoCtorBlock narrow;
    private readonly Linear head;

    public ChainedCtorNet() : this(5, 8) { }

    public ChainedCtorNet(int inputs, int width)
    {
        stem = new Linear(inputs, width);
        wide = new TwoCtorBlock(width);
        narrow = new TwoCtorBlock(width, 3);
        head = new Linear(width, 2);
    }

    public Tensor Forward(Tensor x) => head.Forward(narrow.Forward(wide.Forward(stem.Forward(x))));
}

/// <summary>nn.Sequential filled with add_module in the constructor (constant sizes).</summary>
[Module]
public sealed partial class SequentialAddNet
{
    private readonly Sequential body = new();

    public SequentialAddNet()
    {
        body.Add("fc1", new Linear(4, 16));
        body.Add("act", new ReLU());
        body.Add("fc2", new Linear(16, 3));
    }

    public Tensor Forward(Tensor x) => body.Forward(x);
}

/// <summary>A block without an explicit base class (the generator adds <c>: Module</c>).</summary>
[Module]
public sealed partial class PlainBlock
{
    private readonly Linear fc = new(6, 6);

    public Tensor Forward(Tensor x) => Functional.Silu(fc.Forward(x));
}

/// <summary>A Sequential field initialiser holding the user's own blocks (issue 12's first generator bug).</summary>
[Module]
public sealed partial class SequentialOfUserBlocks
{
    private readonly Sequential body = new(new PlainBlock(), new PlainBlock());
    private readonly Linear head = new(6, 2);

    public Tensor Forward(Tensor x) => head.Forward(body.Forward(x));
}

/// <summary>Attention of fixed sizes with a causal mask passed in (Linear, View, Transpose, MatMul, MaskedFill, Softmax).</summary>
[Module]
public sealed partial class CausalAttention
{
    private const int D = 8, Heads = 2, HeadDim = D / Heads, T = 4;
    private readonly Linear q = new(D, D);
    private readonly Linear k = new(D, D);
    private readonly Linear v = new(D, D);
    private readonly Linear proj = new(D, D);

    public Tensor Forward([Shape("N", T, D)] Tensor x, [Shape(T, T)] Tensor mask)
    {
        int n = x.Shape[0];
        var qh = q.Forward(x).View(n, T, Heads, HeadDim).Transpose(1, 2);
        var kh = k.Forward(x).View(n, T, Heads, HeadDim).Transpose(1, 2);
        var vh = v.Forward(x).View(n, T, Heads, HeadDim).Transpose(1, 2);
        var scores = qh.MatMul(kh.Transpose(2, 3)) * (1f / 2f);
        scores = scores.MaskedFill(mask, float.NegativeInfinity);
        var attended = Functional.Softmax(scores, -1).MatMul(vh);
        return proj.Forward(attended.Transpose(1, 2).Contiguous().View(n, T, D));
    }
}

/// <summary>A camelCase child (<c>selfAttn</c>, state name <c>self_attn</c>) holding a nested module (issue 12's second generator bug).</summary>
[Module]
public sealed partial class CamelCaseParent
{
    private readonly CausalAttention selfAttn = new();
    private readonly LayerNorm norm = new(8);

    public Tensor Forward([Shape("N", 4, 8)] Tensor x, [Shape(4, 4)] Tensor mask) => norm.Forward(x + selfAttn.Forward(x, mask));
}

/// <summary>A transformer encoder block: attention and MLP sublayers, each pre-norm and residual, sizes from the constructor.</summary>
[Module]
public sealed partial class TransformerBlock
{
    private readonly LayerNorm ln1;
    private readonly LayerNorm ln2;
    private readonly Linear qkv;
    private readonly Linear proj;
    private readonly Linear fc;
    private readonly Linear fcOut;
    private readonly int heads;

    public TransformerBlock(int d, int heads)
    {
        this.heads = heads;
        ln1 = new LayerNorm(d);
        ln2 = new LayerNorm(d);
        qkv = new Linear(d, 3 * d);
        proj = new Linear(d, d);
        fc = new Linear(d, 4 * d);
        fcOut = new Linear(4 * d, d);
    }

    public Tensor Forward(Tensor x)
    {
        x = x + Attend(ln1.Forward(x));
        return x + fcOut.Forward(Functional.Gelu(fc.Forward(ln2.Forward(x))));
    }

    private Tensor Attend(Tensor h)
    {
        int n = h.Shape[0], t = h.Shape[1], d = h.Shape[2];
        var parts = qkv.Forward(h).Chunk(3, -1);
        var q = parts[0].View(n, t, heads, d / heads).Transpose(1, 2);
        var k = parts[1].View(n, t, heads, d / heads).Transpose(1, 2);
        var v = parts[2].View(n, t, heads, d / heads).Transpose(1, 2);
        var causal = Tensor.Ones(t, t).Triu(1).Gt(0f);
        var scores = q.MatMul(k.Transpose(2, 3)) * (1f / System.MathF.Sqrt(d / heads));
        var weights = Functional.Softmax(scores.MaskedFill(causal, float.NegativeInfinity), -1);
        return proj.Forward(weights.MatMul(v).Transpose(1, 2).Contiguous().View(n, t, d));
    }
}

/// <summary>A conv net whose channel count comes from the constructor.</summary>
[Module]
public sealed partial class CtorConvNet
{
    private readonly Conv2d conv1;
    private readonly Conv2d conv2;
    private readonly MaxPool2d pool = new(2);
    private readonly Linear fc;

    public CtorConvNet(int channels)
    {
        conv1 = new Conv2d(1, channels, 3, padding: 1);
        conv2 = new Conv2d(channels, 2 * channels, 3, padding: 1);
        fc = new Linear(2 * channels * 2 * 2, 10);
    }

    public Tensor Forward([Shape("N", 1, 8, 8)] Tensor x)
    {
        var h = pool.Forward(Functional.Relu(conv1.Forward(x)));
        h = pool.Forward(Functional.Relu(conv2.Forward(h)));
        return fc.Forward(h.Flatten(1));
    }
}

/// <summary>A conv net of constant sizes with a residual connection and global average pooling.</summary>
[Module]
public sealed partial class ResidualConvNet
{
    private readonly Conv2d stem = new(3, 8, 3, padding: 1);
    private readonly BatchNorm2d bn = new(8);
    private readonly Conv2d conv = new(8, 8, 3, padding: 1);
    private readonly AdaptiveAvgPool2d gap = new(1);
    private readonly Linear fc = new(8, 5);

    public Tensor Forward([Shape("N", 3, 8, 8)] Tensor x)
    {
        var h = Functional.Relu(bn.Forward(stem.Forward(x)));
        h = Functional.Relu(h + conv.Forward(h));
        return fc.Forward(gap.Forward(h).Flatten(1));
    }
}

/// <summary>A gated unit written with a helper method: the helper is a graph break, its callers' regions compile.</summary>
[Module]
public sealed partial class GatedHelperNet
{
    private readonly Linear gate = new(6, 6);
    private readonly Linear value = new(6, 6);
    private readonly Linear head = new(6, 3);

    public Tensor Forward(Tensor x)
    {
        var h = Gated(x);
        return head.Forward(h);
    }

    private Tensor Gated(Tensor x) => Functional.Sigmoid(gate.Forward(x)) * Functional.Tanh(value.Forward(x));
}

/// <summary>Slicing and Cat: a split of the features, each half through its own layer, joined again.</summary>
[Module]
public sealed partial class SplitCatNet
{
    private readonly Linear left = new(3, 4);
    private readonly Linear right = new(3, 4);
    private readonly Linear head = new(8, 2);

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var a = left.Forward(x.Narrow(1, 0, 3));
        var b = right.Forward(x.Narrow(1, 3, 3));
        return head.Forward(Functional.Relu(Tensor.Cat([a, b], 1)));
    }
}

/// <summary>A mask computed from the data (padding positions) before a masked mean pooling.</summary>
[Module]
public sealed partial class MaskedPoolNet
{
    private readonly Linear proj = new(4, 4);
    private readonly Linear head = new(4, 2);

    public Tensor Forward([Shape("N", 5, 4)] Tensor x, [Shape("N", 5, 4)] Tensor padding)
    {
        var h = Functional.Relu(proj.Forward(x));
        h = h.MaskedFill(padding, 0f);
        return head.Forward(h.Mean(1));
    }
}

/// <summary>Dropout written as PyTorch users do (an <c>if (Training)</c> branch) and an embedding front end.</summary>
[Module]
public sealed partial class EmbeddingBagNet
{
    private readonly Embedding embed = new(20, 6);
    private readonly Linear fc = new(6, 3);

    public Tensor Forward([Shape("N", 5)] Tensor tokens)
    {
        var h = embed.Forward(tokens).Mean(1);
        return fc.Forward(Functional.Tanh(h));
    }
}

/// <summary>Two sizes the build cannot compare (hidden, width): compiled, and checked once in Compile().</summary>
[Module]
public sealed partial class TwoWidthNet
{
    private readonly Linear fc1;
    private readonly Linear fc2;

    public TwoWidthNet(int hidden, int width)
    {
        fc1 = new Linear(3, hidden);
        fc2 = new Linear(width, 2);
    }

    public Tensor Forward(Tensor x) => fc2.Forward(Functional.Tanh(fc1.Forward(x)));
}

/// <summary>Sizes as products and a readonly field: <c>hidden * 2</c>, <c>this.d</c>.</summary>
[Module]
public sealed partial class ProductSizedNet
{
    private readonly int d;
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly Linear fc3;

    public ProductSizedNet(int hidden)
    {
        d = hidden * 2;
        fc1 = new Linear(5, hidden * 2);
        fc2 = new Linear(2 * hidden, hidden * 2);
        fc3 = new Linear(d, 3);
    }

    public Tensor Forward(Tensor x)
    {
        var h = Functional.Relu(fc1.Forward(x));
        h = h + Functional.Sigmoid(fc2.Forward(h));
        return fc3.Forward(h);
    }
}

/// <summary>A user block sized by its constructor, used twice with different sizes.</summary>
[Module]
public sealed partial class SizedBlock
{
    private readonly Linear inner;
    private readonly Linear outer;

    public SizedBlock(int d, int expand)
    {
        inner = new Linear(d, d * expand);
        outer = new Linear(d * expand, d);
    }

    public Tensor Forward(Tensor x) => x + outer.Forward(Functional.Gelu(inner.Forward(x)));
}

/// <summary>Two instances of a constructor-sized block with different sizes, assigned in the constructor.</summary>
[Module]
public sealed partial class TwoBlockNet
{
    private readonly SizedBlock first;
    private readonly Linear mid;
    private readonly SizedBlock second;

    public TwoBlockNet(int a, int b)
    {
        first = new SizedBlock(a, 2);
        mid = new Linear(a, b);
        second = new SizedBlock(b, 3);
    }

    public Tensor Forward(Tensor x) => second.Forward(mid.Forward(first.Forward(x)));
}

/// <summary>A tensor parameter named <c>n</c>, like the generated Prepare's batch local (CS0128 before).</summary>
[Module]
public sealed partial class ParameterNamedN
{
    private readonly Linear fc = new(4, 3);
    private readonly Linear gate = new(4, 3);

    public Tensor Forward(Tensor x, Tensor n) => fc.Forward(x) * Functional.Sigmoid(gate.Forward(n));
}

/// <summary>
/// A pre-norm residual MLP whose width comes from the constructor (LayerNorm(d), Linear(d, 4 * d)); its input's size is
/// declared with the constructor parameter's name (a symbol bound from inProj).
/// </summary>
[Module]
public sealed partial class NormedMlp
{
    private readonly Linear inProj;
    private readonly LayerNorm norm;
    private readonly Linear up;
    private readonly Linear down;
    private readonly Linear head;

    public NormedMlp(int inFeatures, int d, int classes)
    {
        inProj = new Linear(inFeatures, d);
        norm = new LayerNorm(d);
        up = new Linear(d, 4 * d);
        down = new Linear(4 * d, d);
        head = new Linear(d, classes);
    }

    public Tensor Forward([Shape("N", "inFeatures")] Tensor x)
    {
        var h = inProj.Forward(x);
        h = h + down.Forward(Functional.Gelu(up.Forward(norm.Forward(h))));
        return head.Forward(Functional.Relu(h));
    }
}

/// <summary>Embedding(vocab, d) and a head sized by the constructor, layers given the caller's Rng (as the zoo writes them).</summary>
[Module]
public sealed partial class TokenClassifier
{
    private readonly Embedding embed;
    private readonly Linear fc;

    public TokenClassifier(int vocab, int d, int classes, Rng? rng = null)
    {
        embed = new Embedding(vocab, d, rng: rng);
        fc = new Linear(d, classes, rng: rng);
    }

    public Tensor Forward([Shape("N")] Tensor tokens) => fc.Forward(Functional.Tanh(embed.Forward(tokens)));
}

/// <summary>Children named with C# keywords (<c>@in</c>, <c>@out</c>, as the zoo's GruSeq2Seq writes): the generated code keeps the <c>@</c>.</summary>
[Module]
public sealed partial class KeywordChildNet
{
    private readonly Linear @in;
    private readonly Linear @out;

    public KeywordChildNet(int hidden)
    {
        @in = new Linear(3, hidden);
        @out = new Linear(hidden, 2);
    }

    public Tensor Forward(Tensor x) => @out.Forward(Functional.Relu(@in.Forward(x)));
}

/// <summary>A ModuleList of residual blocks filled in a constructor loop of constant count, called by index in a for loop.</summary>
[Module]
public sealed partial class ConstDepthStack
{
    private const int Depth = 3;
    private readonly ModuleList<ResidualMlpBlock> blocks;
    private readonly Linear head;

    public ConstDepthStack(int d, int classes)
    {
        blocks = new ModuleList<ResidualMlpBlock>();
        for (int i = 0; i < Depth; i++) blocks.Append(new ResidualMlpBlock(d));
        head = new Linear(d, classes);
    }

    public Tensor Forward([Shape("N", "d")] Tensor x)
    {
        for (int i = 0; i < blocks.Count; i++) x = blocks[i].Forward(x);
        return head.Forward(x);
    }
}

/// <summary>nn.Sequential filled in a constructor loop, two layers per iteration (Linear then Tanh), as <c>for _ in range(2): seq.append(…)</c>.</summary>
[Module]
public sealed partial class LoopSequentialNet
{
    private readonly Sequential body = new();
    private readonly Linear head;

    public LoopSequentialNet(int d)
    {
        for (int i = 0; i < 2; i++)
        {
            body.Append(new Linear(d, d));
            body.Append(new Tanh());
        }
        head = new Linear(d, 2);
    }

    public Tensor Forward(Tensor x) => head.Forward(body.Forward(x));
}

/// <summary>A per-token tagger over a sequence of any length T: a pre-norm residual MLP applied at every position, then a head.</summary>
[Module]
public sealed partial class SequenceTagger
{
    private readonly LayerNorm norm;
    private readonly Linear up;
    private readonly Linear down;
    private readonly Linear head;

    public SequenceTagger(int d, int tags)
    {
        norm = new LayerNorm(d);
        up = new Linear(d, 2 * d);
        down = new Linear(2 * d, d);
        head = new Linear(d, tags);
    }

    public Tensor Forward([Shape("N", "T", "d")] Tensor x)
    {
        var h = down.Forward(Functional.Gelu(up.Forward(norm.Forward(x))));
        return head.Forward(x + h);
    }
}

/// <summary>A GRU tagger over a sequence of any length: a batch-first GRU, then a Linear at every step.</summary>
[Module]
public sealed partial class GruSequenceTagger
{
    private readonly GRU gru;
    private readonly Linear head;

    public GruSequenceTagger(int d, int hidden, int tags)
    {
        gru = new GRU(d, hidden, batchFirst: true);
        head = new Linear(hidden, tags);
    }

    public Tensor Forward([Shape("N", "T", "d")] Tensor x) => head.Forward(gru.Forward(x).Output);
}

/// <summary>Issue 12 item 2, as a user writes it: a readonly flag the constructor sets from its arguments (<c>cin == cout</c>).</summary>
[Module]
public sealed partial class FlagBlock
{
    private readonly Linear fc;
    private readonly LayerNorm norm;
    private readonly bool residual;

    public FlagBlock(int cin, int cout)
    {
        fc = new Linear(cin, cout);
        norm = new LayerNorm(cout);
        residual = cin == cout;
    }

    public Tensor Forward(Tensor x)
    {
        var h = norm.Forward(Functional.Relu(fc.Forward(x)));
        return residual ? x + h : h;
    }
}

/// <summary>
/// A flag over sizes and a stride (<c>useResidual = stride == 1 &amp;&amp; cin == cout</c>, MobileNetV2's inverted residual) tested by
/// an <c>if</c> statement: the true branch's region takes cin and cout as one size (and stride as 1), so <c>h + x</c> compiles.
/// </summary>
[Module]
public sealed partial class StrideResidualBlock
{
    private readonly Linear expand;
    private readonly Linear project;
    private readonly bool useResidual;

    public StrideResidualBlock(int cin, int cout, int stride)
    {
        expand = new Linear(cin, 2 * cout);
        project = new Linear(2 * cout, cout);
        useResidual = stride == 1 && cin == cout;
    }

    public Tensor Forward(Tensor x)
    {
        var h = project.Forward(Functional.Gelu(expand.Forward(x)));
        if (useResidual) h = h + x;
        return h;
    }
}

/// <summary>Issue 12 item 2's parent: a loop over FlagBlocks (the first changes the width), then Cat, Pow, Clamp and a head.</summary>
[Module]
public sealed partial class FlagNet
{
    private readonly ModuleList<FlagBlock> blocks = new();
    private readonly Linear head;

    public FlagNet(int cin, int hidden, int classes)
    {
        blocks.Append(new FlagBlock(cin, hidden));
        for (int i = 0; i < 2; i++) blocks.Append(new FlagBlock(hidden, hidden));
        head = new Linear(2 * hidden, classes);
    }

    public Tensor Forward(Tensor x)
    {
        foreach (var b in blocks) x = b.Forward(x);
        return head.Forward(Tensor.Cat([x, x.Pow(2).Clamp(0, 1)], 1));
    }
}

/// <summary>FlagBlock without the flag (its program is whole): shows what FlagNet's tail compiles to once the blocks are whole.</summary>
[Module]
public sealed partial class NormBlock
{
    private readonly Linear fc;
    private readonly LayerNorm norm;

    public NormBlock(int cin, int cout)
    {
        fc = new Linear(cin, cout);
        norm = new LayerNorm(cout);
    }

    public Tensor Forward(Tensor x) => norm.Forward(Functional.Relu(fc.Forward(x)));
}

/// <summary>FlagNet over NormBlocks: the loop, then Cat, Pow, Clamp and the head after it.</summary>
[Module]
public sealed partial class NormBlockNet
{
    private readonly ModuleList<NormBlock> blocks = new();
    private readonly Linear head;

    public NormBlockNet(int cin, int hidden, int classes)
    {
        blocks.Append(new NormBlock(cin, hidden));
        for (int i = 0; i < 2; i++) blocks.Append(new NormBlock(hidden, hidden));
        head = new Linear(2 * hidden, classes);
    }

    public Tensor Forward(Tensor x)
    {
        foreach (var b in blocks) x = b.Forward(x);
        return head.Forward(Tensor.Cat([x, x.Pow(2).Clamp(0, 1)], 1));
    }
}

/// <summary>A flag the constructor sets from its arguments (<c>cout &gt; 16</c>) whose two branches have shapes the build knows.</summary>
[Module]
public sealed partial class GatedBlock
{
    private readonly Linear fc;
    private readonly bool gated;

    public GatedBlock(int cin, int cout)
    {
        fc = new Linear(cin, cout);
        gated = cout > 16;
    }

    public Tensor Forward(Tensor x)
    {
        var h = Functional.Relu(fc.Forward(x));
        return gated ? h * Functional.Tanh(h) : h;
    }
}

/// <summary>
/// class BaseMlp(nn.Module) … class GatedMlp(BaseMlp): a module subclassing another module and overriding forward, using the
/// base's layers. Both have their own Compile() (the derived class's generated Compile() and Compiled used to hide the
/// base's without <c>new</c>: CS0108, a build error with warnings as errors).
/// </summary>
[Module]
public partial class BaseMlp
{
    protected readonly Linear fc1 = new(5, 8);
    protected readonly Linear fc2 = new(8, 3);

    public virtual Tensor Forward(Tensor x) => fc2.Forward(Functional.Relu(fc1.Forward(x)));
}

/// <summary>The subclass of <see cref="BaseMlp"/>: a gate of its own on the base's hidden layer.</summary>
[Module]
public sealed partial class GatedMlp : BaseMlp
{
    private readonly Linear gate = new(5, 8);

    public override Tensor Forward(Tensor x) => fc2.Forward(Functional.Relu(fc1.Forward(x)) * gate.Forward(x).Sigmoid());
}

/// <summary>
/// A base whose layers its constructor sizes (<c>super().__init__(d_in, hidden)</c> in PyTorch), a private layer of its own the
/// subclass cannot see, and a readonly flag its constructor sets.
/// </summary>
[Module]
public partial class SizedBase
{
    protected readonly Linear fc1;
    protected readonly Linear fc2;
    protected readonly bool useSkip;
    private readonly Linear own;

    public SizedBase(int inFeatures, int hidden, bool skip)
    {
        fc1 = new Linear(inFeatures, hidden);
        fc2 = new Linear(hidden, 3);
        own = new Linear(inFeatures, 3);
        useSkip = skip;
    }

    public virtual Tensor Forward(Tensor x) => fc2.Forward(Functional.Relu(fc1.Forward(x))) + own.Forward(x);
}

/// <summary>
/// The subclass: <c>: this(…)</c> into a constructor that chains <c>: base(4, 2 * hidden, true)</c>, a layer of its own, and a
/// Forward over the base's layers and flag (<c>super().__init__</c> then <c>self.skip = …</c>).
/// </summary>
[Module]
public sealed partial class SizedSubclass : SizedBase
{
    private readonly Linear skipProj;

    public SizedSubclass() : this(5) { }

    public SizedSubclass(int hidden) : base(4, 2 * hidden, true)
    {
        skipProj = new Linear(4, 3);
    }

    public override Tensor Forward(Tensor x)
    {
        var h = fc2.Forward(Functional.Tanh(fc1.Forward(x)));
        if (useSkip) h = h + skipProj.Forward(x);
        return h;
    }
}

/// <summary>
/// A literal <c>null</c> for an optional tensor (<c>F.conv2d(x, w, None, stride=2)</c>, <c>F.linear(h, w, None)</c>) is the
/// argument left out, and <c>%</c> with a constant is <c>Remainder</c> (<c>y % 0.75</c>, <c>h %= 1.5</c>): compiled, no break.
/// </summary>
[Module]
public sealed partial class NullArgumentNet
{
    private readonly Parameter w1 = new(Tensor.Randn([4, 2, 3, 3]));
    private readonly Parameter w2 = new(Tensor.Randn([3, 16]));

    public Tensor Forward([Shape("N", 2, 6, 6)] Tensor x)
    {
        var h = Functional.Tanh(Functional.Conv2d(x, w1, null, stride: 2));   // [N, 4, 2, 2]
        var y = Functional.Linear(h.Flatten(1), w2, null) * 3f;              // [N, 3]
        y %= 1.5;
        return y % 0.75 + y * 0.5f;
    }
}

/// <summary><c>gru.Forward(x, null)</c>: a built-in layer's optional state passed as <c>null</c> is the state left out.</summary>
[Module]
public sealed partial class NullStateGruNet
{
    private readonly GRU gru = new(4, 5, batchFirst: true);
    private readonly Linear head = new(5, 2);

    public Tensor Forward([Shape("N", "T", 4)] Tensor x)
    {
        var (o, _) = gru.Forward(x, null);
        return head.Forward(o.Mean(1));
    }
}

/// <summary>
/// An expression-bodied <c>?:</c> over flags the constructor's arguments set (a bool and an int): compiled once per value of
/// the test, the runner returning the branch the instance's fields choose (<c>return h if self.residual else …</c>).
/// </summary>
[Module]
public sealed partial class ExpressionGatedBlock
{
    private readonly Linear fc;
    private readonly bool residual;

    public ExpressionGatedBlock(int d, bool residual)
    {
        fc = new Linear(d, d);
        this.residual = residual;
    }

    public Tensor Forward([Shape("N", "d")] Tensor x) => residual ? x + Functional.Tanh(fc.Forward(x)) : Functional.Tanh(fc.Forward(x)) * 2f;
}

/// <summary>The int flag's form: <c>mode == 2 ? … : x</c>, the false branch passing its input on.</summary>
[Module]
public sealed partial class ExpressionModeBlock
{
    private readonly Linear fc = new(4, 4);
    private readonly int mode;

    public ExpressionModeBlock(int mode) => this.mode = mode;

    public Tensor Forward([Shape("N", 4)] Tensor x) => mode == 2 ? Functional.Sigmoid(fc.Forward(x)) : x;
}

/// <summary>
/// Guards at the top of Forward, as PyTorch users write <c>assert</c>/<c>raise</c>: a null check and a bound on the batch. They
/// run as written (the same exception as eager), and are no break: the rest is one compiled region.
/// </summary>
[Module]
public sealed partial class GuardedNet
{
    private readonly Linear fc1 = new(6, 8);
    private readonly Linear fc2 = new(8, 3);
    private readonly int maxBatch = 64;

    public Tensor Forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Shape[0] > maxBatch) throw new ArgumentException($"x has a batch of {x.Shape[0]}, more than {maxBatch}", nameof(x));
        var h = Functional.Relu(fc1.Forward(x));
        return fc2.Forward(h);
    }
}

/// <summary>
/// A break in the middle of a statement: <c>Rescale(…)</c> (a helper) applied to what compiles. The part it reads is computed
/// by a region (the first statement's region grown by it in <see cref="HoistJoinNet"/>), the helper eager, the rest compiled.
/// </summary>
[Module]
public sealed partial class HoistNet
{
    private readonly Linear fc1 = new(6, 8);
    private readonly Linear fc2 = new(8, 3);

    public Tensor Forward(Tensor x)
    {
        var h = Rescale(Functional.Relu(fc1.Forward(x)));   // Relu(fc1(x)) compiled, Rescale eager
        // Sigmoid(fc1(x)) * 2f compiled; Rescale, + h, fc2 and + 1f eager (they read the helper's value, whose shape the build does not know)
        return fc2.Forward(Rescale(Functional.Sigmoid(fc1.Forward(x)) * 2f) + h) + 1f;
    }

    private static Tensor Rescale(Tensor t) => t * 0.5f + 1f;
}

/// <summary>The hoisted part joins the region open before its statement.</summary>
[Module]
public sealed partial class HoistJoinNet
{
    private readonly Linear fc0 = new(5, 6);
    private readonly Linear fc1 = new(6, 8);
    private readonly Linear fc2 = new(8, 3);

    public Tensor Forward(Tensor x)
    {
        var a = Functional.Tanh(fc0.Forward(x));
        var h = Rescale(fc1.Forward(a));
        return fc2.Forward(h);
    }

    private static Tensor Rescale(Tensor t) => t * 0.5f + 1f;
}
