using SharpGrad.Layers;

// The models of issue 13's zoo, written the way a PyTorch user writes them (the PyTorch originals are in
// Fixtures/arch/generate.py): sizes from constructor arguments, Sequential/ModuleList built in loops, Cat skips, masks.
// Each is a plain [Module]: where the compiler does not take a construct, it is a graph break (SG1019) and Compile() runs it eagerly.

namespace SharpGrad.Tests.Zoo;

#region doc:zoo-resnet
/// <summary>torchvision's BasicBlock: two 3×3 convolutions with BatchNorm, and the identity (or a downsampling 1×1 conv) added back.</summary>
[Module]
public sealed partial class BasicBlock
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly ReLU relu = new();
    private readonly Conv2d conv2;
    private readonly BatchNorm2d bn2;
    private readonly Sequential? downsample;

    public BasicBlock(int inplanes, int planes, int stride = 1, Sequential? downsample = null)
    {
        conv1 = new Conv2d(inplanes, planes, 3, stride, padding: 1, bias: false);
        bn1 = new BatchNorm2d(planes);
        conv2 = new Conv2d(planes, planes, 3, padding: 1, bias: false);
        bn2 = new BatchNorm2d(planes);
        this.downsample = downsample;
    }

    public Tensor Forward(Tensor x)
    {
        var identity = x;
        var h = relu.Forward(bn1.Forward(conv1.Forward(x)));
        h = bn2.Forward(conv2.Forward(h));
        if (downsample is not null) identity = downsample.Forward(x);
        return relu.Forward(h + identity);
    }
}

/// <summary>torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2]); width 64 is torchvision.models.resnet18.</summary>
[Module]
public sealed partial class ResNet18
{
    private int inplanes;
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly ReLU relu = new();
    private readonly MaxPool2d maxpool = new(3, stride: 2, padding: 1);
    private readonly Sequential layer1, layer2, layer3, layer4;
    private readonly AdaptiveAvgPool2d avgpool = new(1);
    private readonly Linear fc;

    public ResNet18(int numClasses = 1000, int width = 64)
    {
        inplanes = width;
        conv1 = new Conv2d(3, width, 7, stride: 2, padding: 3, bias: false);
        bn1 = new BatchNorm2d(width);
        layer1 = MakeLayer(width, 2);
        layer2 = MakeLayer(2 * width, 2, stride: 2);
        layer3 = MakeLayer(4 * width, 2, stride: 2);
        layer4 = MakeLayer(8 * width, 2, stride: 2);
        fc = new Linear(8 * width, numClasses);
        foreach (var m in Modules())
        {
            if (m is Conv2d conv) Init.KaimingNormal(conv.Weight, mode: FanMode.FanOut, nonlinearity: "relu");
        }
    }

    private Sequential MakeLayer(int planes, int blocks, int stride = 1)
    {
        Sequential? downsample = null;
        if (stride != 1 || inplanes != planes)
        {
            downsample = new Sequential(new Conv2d(inplanes, planes, 1, stride, bias: false), new BatchNorm2d(planes));
        }
        var layers = new Sequential(new BasicBlock(inplanes, planes, stride, downsample));
        inplanes = planes;
        for (int i = 1; i < blocks; i++) layers.Append(new BasicBlock(inplanes, planes));
        return layers;
    }

    public Tensor Forward([Shape("N", 3, 32, 32)] Tensor x)
    {
        x = maxpool.Forward(relu.Forward(bn1.Forward(conv1.Forward(x))));
        x = layer4.Forward(layer3.Forward(layer2.Forward(layer1.Forward(x))));
        return fc.Forward(avgpool.Forward(x).Flatten(1));
    }
}
#endregion

#region doc:zoo-transformer
/// <summary>A Transformer encoder over token embeddings plus learned positions, mean-pooled over the non-padding tokens.</summary>
[Module]
public sealed partial class TransformerClassifier
{
    private readonly long pad;
    private readonly Embedding embed;
    private readonly Embedding pos;
    private readonly TransformerEncoder encoder;
    private readonly Linear head;

    public TransformerClassifier(int vocab = 20, int dModel = 16, int nhead = 4, int ff = 32, int layers = 2, int maxLen = 10, int classes = 3, int pad = 0)
    {
        this.pad = pad;
        embed = new Embedding(vocab, dModel, paddingIdx: pad);
        pos = new Embedding(maxLen, dModel);
        encoder = new TransformerEncoder(new TransformerEncoderLayer(dModel, nhead, ff, dropout: 0.0, batchFirst: true), layers);
        head = new Linear(dModel, classes);
    }

    public Tensor Forward(Tensor tokens)
    {
        var mask = tokens.Eq(pad);
        var positions = Tensor.Arange(tokens.Size(1)).Unsqueeze(0);
        var h = encoder.Forward(embed.Forward(tokens) + pos.Forward(positions), srcKeyPaddingMask: mask);
        var keep = tokens.Ne(pad).Unsqueeze(-1).To(DType.Float32);
        return head.Forward((h * keep).Sum(1) / keep.Sum(1));
    }
}
#endregion

#region doc:zoo-gpt
/// <summary>A pre-norm GPT block: causal self-attention and an MLP, each around a residual connection.</summary>
[Module]
public sealed partial class GptBlock
{
    private readonly LayerNorm ln1;
    private readonly MultiheadAttention attn;
    private readonly LayerNorm ln2;
    private readonly Sequential mlp;

    public GptBlock(int d, int heads)
    {
        ln1 = new LayerNorm(d);
        attn = new MultiheadAttention(d, heads, batchFirst: true);
        ln2 = new LayerNorm(d);
        mlp = new Sequential(new Linear(d, 4 * d), new GELU(), new Linear(4 * d, d));
    }

    public Tensor Forward(Tensor x, Tensor causal)
    {
        var h = ln1.Forward(x);
        x = x + attn.Forward(h, h, h, attnMask: causal, needWeights: false).Output;
        return x + mlp.Forward(ln2.Forward(x));
    }
}

/// <summary>A small GPT: token and position embeddings, blocks in a ModuleList, a final LayerNorm and the LM head.</summary>
[Module]
public sealed partial class Gpt
{
    private readonly Embedding tok;
    private readonly Embedding pos;
    private readonly ModuleList<GptBlock> blocks;
    private readonly LayerNorm ln_f;
    private readonly Linear head;

    public Gpt(int vocab = 20, int d = 16, int heads = 4, int layers = 2, int maxLen = 12)
    {
        tok = new Embedding(vocab, d);
        pos = new Embedding(maxLen, d);
        blocks = new ModuleList<GptBlock>();
        for (int i = 0; i < layers; i++) blocks.Append(new GptBlock(d, heads));
        ln_f = new LayerNorm(d);
        head = new Linear(d, vocab, bias: false);
    }

    public Tensor Forward(Tensor tokens)
    {
        int t = tokens.Size(1);
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
        var x = tok.Forward(tokens) + pos.Forward(Tensor.Arange(t).Unsqueeze(0));
        foreach (var block in blocks) x = block.Forward(x, causal);
        return head.Forward(ln_f.Forward(x));
    }
}
#endregion

#region doc:zoo-bilstm
/// <summary>A 2-layer bidirectional LSTM over embeddings; the last layer's two final states go to the classifier.</summary>
[Module]
public sealed partial class BiLstmClassifier
{
    private readonly Embedding embed;
    private readonly LSTM lstm;
    private readonly Linear fc;

    public BiLstmClassifier(int vocab = 20, int emb = 8, int hidden = 12, int classes = 3)
    {
        embed = new Embedding(vocab, emb);
        lstm = new LSTM(emb, hidden, numLayers: 2, batchFirst: true, bidirectional: true);
        fc = new Linear(2 * hidden, classes);
    }

    public Tensor Forward([Shape("N", "T")] Tensor tokens)
    {
        var (_, (h, _)) = lstm.Forward(embed.Forward(tokens));
        return fc.Forward(Tensor.Cat([h.Select(0, -2), h.Select(0, -1)], 1));
    }
}
#endregion

#region doc:zoo-gru-seq2seq
/// <summary>A GRU encoder–decoder with teacher forcing: the decoder starts from the encoder's final state.</summary>
[Module]
public sealed partial class GruSeq2Seq
{
    private readonly Embedding src_embed;
    private readonly Embedding tgt_embed;
    private readonly GRU encoder;
    private readonly GRU decoder;
    private readonly Linear @out;

    public GruSeq2Seq(int srcVocab = 15, int tgtVocab = 12, int emb = 8, int hidden = 16)
    {
        src_embed = new Embedding(srcVocab, emb);
        tgt_embed = new Embedding(tgtVocab, emb);
        encoder = new GRU(emb, hidden, batchFirst: true);
        decoder = new GRU(emb, hidden, batchFirst: true);
        @out = new Linear(hidden, tgtVocab);
    }

    public Tensor Forward([Shape("N", "S")] Tensor src, [Shape("N", "T")] Tensor tgtIn)
    {
        var (_, h) = encoder.Forward(src_embed.Forward(src));
        var (y, _) = decoder.Forward(tgt_embed.Forward(tgtIn), h);
        return @out.Forward(y);
    }
}
#endregion

#region doc:zoo-unet
/// <summary>A two-level U-Net: pooling down, ConvTranspose2d up, encoder features concatenated into the decoder (Cat skips).</summary>
[Module]
public sealed partial class UNet
{
    private readonly Sequential enc1, enc2;
    private readonly MaxPool2d pool = new(2);
    private readonly Sequential bottleneck;
    private readonly ConvTranspose2d up2;
    private readonly Sequential dec2;
    private readonly ConvTranspose2d up1;
    private readonly Sequential dec1;
    private readonly Conv2d head;

    /// <summary>Conv–BatchNorm–ReLU twice (the U-Net's unit), children "0" … "5" as in PyTorch's nn.Sequential.</summary>
    private static Sequential DoubleConv(int cin, int cout) => new(
        new Conv2d(cin, cout, 3, padding: 1, bias: false), new BatchNorm2d(cout), new ReLU(),
        new Conv2d(cout, cout, 3, padding: 1, bias: false), new BatchNorm2d(cout), new ReLU());

    public UNet(int cin = 1, int classes = 3, int baseWidth = 4)
    {
        enc1 = DoubleConv(cin, baseWidth);
        enc2 = DoubleConv(baseWidth, 2 * baseWidth);
        bottleneck = DoubleConv(2 * baseWidth, 4 * baseWidth);
        up2 = new ConvTranspose2d(4 * baseWidth, 2 * baseWidth, 2, stride: 2);
        dec2 = DoubleConv(4 * baseWidth, 2 * baseWidth);
        up1 = new ConvTranspose2d(2 * baseWidth, baseWidth, 2, stride: 2);
        dec1 = DoubleConv(2 * baseWidth, baseWidth);
        head = new Conv2d(baseWidth, classes, 1);
    }

    public Tensor Forward([Shape("N", "cin", 16, 16)] Tensor x)
    {
        var e1 = enc1.Forward(x);
        var e2 = enc2.Forward(pool.Forward(e1));
        var b = bottleneck.Forward(pool.Forward(e2));
        var d2 = dec2.Forward(Tensor.Cat([up2.Forward(b), e2], 1));
        var d1 = dec1.Forward(Tensor.Cat([up1.Forward(d2), e1], 1));
        return head.Forward(d1);
    }
}
#endregion

#region doc:zoo-mobilenet
/// <summary>MobileNetV2's inverted residual: 1×1 expansion, 3×3 depthwise convolution (groups = channels), 1×1 projection.</summary>
[Module]
public sealed partial class InvertedResidual
{
    private readonly bool useResidual;
    private readonly Sequential conv;

    public InvertedResidual(int cin, int cout, int stride, int expand)
    {
        int hidden = cin * expand;
        useResidual = stride == 1 && cin == cout;
        conv = new Sequential(
            new Conv2d(cin, hidden, 1, bias: false), new BatchNorm2d(hidden), new ReLU6(),
            new Conv2d(hidden, hidden, 3, stride, padding: 1, groups: hidden, bias: false), new BatchNorm2d(hidden), new ReLU6(),
            new Conv2d(hidden, cout, 1, bias: false), new BatchNorm2d(cout));
    }

    public Tensor Forward(Tensor x) => useResidual ? x + conv.Forward(x) : conv.Forward(x);
}

/// <summary>A tiny MobileNetV2: a strided stem, three inverted residual blocks, global pooling and a classifier.</summary>
[Module]
public sealed partial class MobileNetTiny
{
    private readonly Sequential stem = new(new Conv2d(3, 8, 3, stride: 2, padding: 1, bias: false), new BatchNorm2d(8), new ReLU6());
    private readonly Sequential blocks = new(new InvertedResidual(8, 8, 1, 4), new InvertedResidual(8, 16, 2, 4), new InvertedResidual(16, 16, 1, 4));
    private readonly AdaptiveAvgPool2d pool = new(1);
    private readonly Linear classifier;

    public MobileNetTiny(int classes = 10) => classifier = new Linear(16, classes);

    public Tensor Forward([Shape("N", 3, 16, 16)] Tensor x) => classifier.Forward(pool.Forward(blocks.Forward(stem.Forward(x))).Flatten(1));
}
#endregion
