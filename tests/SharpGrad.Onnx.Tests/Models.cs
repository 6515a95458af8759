using SharpGrad.Layers;

namespace SharpGrad.Onnx.Tests;

// The test models: plain [Module] classes with no export code of their own. Their ONNX export (IOnnxExportable) is
// written by the generator at build time from the static graph of Forward (this project references SharpGrad.Onnx).
// Each test exports one through OnnxExporter and checks ONNX Runtime's output against the model's eager Forward.

/// <summary>MLP 20-32-16-5 with ReLUs (Gemm); the input shape is inferred from fc1.</summary>
[Module]
public sealed partial class Mlp
{
    private readonly Linear fc1 = new(20, 32);
    private readonly Linear fc2 = new(32, 16);
    private readonly Linear fc3 = new(16, 5);

    public Tensor Forward(Tensor x) => fc3.Forward(Functional.Relu(fc2.Forward(Functional.Relu(fc1.Forward(x)))));
}

/// <summary>A CNN with BatchNorm: conv-bn-relu-maxpool, conv-bn-relu-avgpool, flatten, dropout, linear.</summary>
[Module]
public sealed partial class CnnBn
{
    private readonly Conv2d conv1 = new(3, 8, 3, padding: 1);
    private readonly BatchNorm2d bn1 = new(8);
    private readonly MaxPool2d pool1 = new(2);
    private readonly Conv2d conv2 = new(8, 16, 3, stride: 1, padding: 1, bias: false);
    private readonly BatchNorm2d bn2 = new(16);
    private readonly AvgPool2d pool2 = new(2);
    private readonly Flatten flatten = new();
    private readonly Dropout drop = new(0.3);
    private readonly Linear fc = new(16 * 4 * 4, 10);

    public Tensor Forward([Shape("N", 3, 16, 16)] Tensor x)
    {
        var h = pool1.Forward(Functional.Relu(bn1.Forward(conv1.Forward(x))));
        h = pool2.Forward(Functional.Relu(bn2.Forward(conv2.Forward(h))));
        return fc.Forward(drop.Forward(flatten.Forward(h)));
    }
}

/// <summary>torchvision's ResNet BasicBlock with a downsampling shortcut, then global average pooling and a classifier.</summary>
[Module]
public sealed partial class ResNetBlock
{
    private readonly Conv2d conv1 = new(8, 16, 3, stride: 2, padding: 1, bias: false);
    private readonly BatchNorm2d bn1 = new(16);
    private readonly Conv2d conv2 = new(16, 16, 3, padding: 1, bias: false);
    private readonly BatchNorm2d bn2 = new(16);
    private readonly Conv2d downsampleConv = new(8, 16, 1, stride: 2, bias: false);
    private readonly BatchNorm2d downsampleBn = new(16);
    private readonly AdaptiveAvgPool2d avgpool = new(1);
    private readonly Linear fc = new(16, 4);

    public Tensor Forward([Shape("N", 8, 12, 12)] Tensor x)
    {
        var h = Functional.Relu(bn1.Forward(conv1.Forward(x)));
        h = bn2.Forward(conv2.Forward(h));
        h = Functional.Relu(h + downsampleBn.Forward(downsampleConv.Forward(x)));
        return fc.Forward(avgpool.Forward(h).Flatten(1));
    }
}

/// <summary>A post-norm Transformer encoder block (2 heads, d_model 16, feed-forward 32, GELU) over [N, 6, 16], then the
/// mean over the sequence and a classifier: MatMul, Softmax, LayerNormalization, Transpose, Reshape, ReduceMean.</summary>
[Module]
public sealed partial class EncoderBlock
{
    private const int T = 6, D = 16, H = 2, Dh = D / H;
    private const float Scale = 0.35355339059327373f; // 1 / sqrt(Dh)
    private readonly Linear q = new(D, D);
    private readonly Linear k = new(D, D);
    private readonly Linear v = new(D, D);
    private readonly Linear proj = new(D, D);
    private readonly LayerNorm norm1 = new(D);
    private readonly Linear ff1 = new(D, 32);
    private readonly GELU gelu = new();
    private readonly Linear ff2 = new(32, D);
    private readonly LayerNorm norm2 = new(D);
    private readonly Linear head = new(D, 3);

    public Tensor Forward([Shape("N", 6, 16)] Tensor x)
    {
        var qh = q.Forward(x).Reshape(-1, T, H, Dh).Transpose(1, 2);                     // [N, H, T, Dh]
        var kh = k.Forward(x).Reshape(-1, T, H, Dh).Transpose(1, 2);
        var vh = v.Forward(x).Reshape(-1, T, H, Dh).Transpose(1, 2);
        var scores = qh.MatMul(kh.Transpose(2, 3)) * Scale;
        var attn = Functional.Softmax(scores, -1).MatMul(vh);                             // [N, H, T, Dh]
        var h = norm1.Forward(x + proj.Forward(attn.Transpose(1, 2).Reshape(-1, T, D)));
        h = norm2.Forward(h + ff2.Forward(gelu.Forward(ff1.Forward(h))));
        return head.Forward(h.Mean(1));
    }
}

/// <summary>A bag-of-embeddings classifier over int64 token ids: Gather, ReduceMean, Gemm, LogSoftmax.</summary>
[Module]
public sealed partial class EmbeddingClassifier
{
    private readonly Embedding embed = new(50, 8);
    private readonly Linear fc = new(8, 4);

    public Tensor Forward([Shape("N", 7)] Tensor tokens) => Functional.LogSoftmax(fc.Forward(embed.Forward(tokens).Mean(1)), 1);
}

/// <summary>A small convolutional autoencoder: strided Conv, ELU, ConvTranspose (output_padding), Sigmoid.</summary>
[Module]
public sealed partial class ConvAutoencoder
{
    private readonly Conv2d enc = new(1, 4, 3, stride: 2, padding: 1);
    private readonly ConvTranspose2d dec = new(4, 1, 3, stride: 2, padding: 1, outputPadding: 1);

    public Tensor Forward([Shape("N", 1, 8, 8)] Tensor x) => dec.Forward(Functional.Elu(enc.Forward(x))).Sigmoid();
}

/// <summary>The activations, functional and as layers, with their options: LeakyReLU, GELU (tanh), SiLU, Softplus
/// (beta 2, threshold 1), Hardtanh, ReLU6, Tanh, LogSigmoid, ELU, Sigmoid, and arithmetic with numbers.</summary>
[Module]
public sealed partial class Activations
{
    private readonly Linear fc1 = new(10, 12);
    private readonly LeakyReLU leaky = new(0.1);
    private readonly GELU gelu = new("tanh");
    private readonly Linear fc2 = new(12, 12);
    private readonly Linear fc3 = new(12, 6);

    public Tensor Forward(Tensor x)
    {
        var a = fc1.Forward(x);
        var left = gelu.Forward(leaky.Forward(a)) + Functional.Silu(a) * 0.5f;
        var right = Functional.Softplus(a, beta: 2, threshold: 1) - Functional.Hardtanh(fc2.Forward(a), -0.5, 0.5) + Functional.Relu6(a * 4f);
        var h = right.Tanh() + Functional.LogSigmoid(left) - Functional.Elu(left, 0.7) / 2f;
        return Functional.LogSoftmax(fc3.Forward(h.Sigmoid()), 1);
    }
}

/// <summary>Tensor methods: Permute, Abs, Sqrt, Exp, Neg, Pow, Maximum, Sum and Mean with keepdim, Squeeze, Unsqueeze,
/// Flatten, arithmetic with numbers.</summary>
[Module]
public sealed partial class TensorOps
{
    private readonly Linear fc = new(6, 6);

    public Tensor Forward([Shape("N", 4, 6)] Tensor x)
    {
        var h = fc.Forward(x);                                                // [N, 4, 6]
        var p = h.Permute(0, 2, 1);                                           // [N, 6, 4]
        var s = p.Abs().Sqrt() + p.Exp().Neg() * 0.1f + p.Pow(2);
        var m = s.Maximum(p).Sum(2, keepDim: true);                           // [N, 6, 1]
        var u = m.Squeeze(2).Unsqueeze(1);                                    // [N, 1, 6]
        return (u / 3f - h.Mean(1, keepDim: true)).Flatten(1);                // [N, 6]
    }
}

/// <summary>A model whose Forward breaks the graph (a value read back with Item): refused with the break listed.</summary>
[Module]
public sealed partial class BreaksTheGraph
{
    private readonly Linear fc = new(4, 2);

    public Tensor Forward(Tensor x)
    {
        float scale = x.Abs().Sum().Item();
        return fc.Forward(x) * scale;
    }
}

/// <summary>A model the compiler takes, with an op that has no ONNX export (Softshrink): refused naming it.</summary>
[Module]
public sealed partial class UsesAnOpWithoutOnnx
{
    private readonly Linear fc = new(4, 2);

    public Tensor Forward(Tensor x) => Functional.Softshrink(fc.Forward(x), 0.5);
}

/// <summary>A module subclass without [Module]: no generated export.</summary>
public sealed class NotExportable : Module
{
    private readonly Linear fc = new(2, 2);

    public override IEnumerable<(string Name, Module Module)> NamedChildren() => [("fc", fc)];

    public Tensor Forward(Tensor x) => fc.Forward(x);
}

/// <summary>Every activation the builder writes, slicing and concatenation, with a hand-written BuildOnnxGraph: the
/// builder methods generated code does not call yet (Narrow, Cat, Softmin, Softsign), checked through ONNX Runtime. Its
/// Forward compiles too, with no graph break (SequenceModelsCompileTests compares the program with eager).</summary>
[Module]
public sealed partial class ActivationZoo : IOnnxExportable
{
    private readonly Linear fc1 = new(10, 12);
    private readonly Linear fc2 = new(12, 12);
    private readonly Linear fc3 = new(24, 6);

    public Tensor Forward(Tensor x)
    {
        var a = fc1.Forward(x);
        var left = Functional.Gelu(Functional.LeakyRelu(a.Narrow(1, 0, 6), 0.1), "tanh") + Functional.Silu(a.Narrow(1, 6, 6));
        var right = Functional.Softplus(a, beta: 2, threshold: 1) - Functional.Hardtanh(fc2.Forward(a), -0.5, 0.5) + Functional.Relu6(a * 4f);
        var h = Tensor.Cat([left, right.Tanh(), Functional.LogSigmoid(left) * Functional.Softsign(left)], 1);
        return Functional.Softmin(fc3.Forward(h), 1);
    }

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var x = graph.Input("input", "N", 10);
        var a = graph.Layer("fc1", fc1, x);
        var left = graph.Add(graph.Gelu(graph.LeakyRelu(graph.Narrow(a, 1, 0, 6), 0.1), "tanh"), graph.Silu(graph.Narrow(a, 1, 6, 6)));
        var right = graph.Add(graph.Sub(graph.Softplus(a, 2, 1), graph.Hardtanh(graph.Layer("fc2", fc2, a), -0.5, 0.5)), graph.Relu6(graph.Mul(a, 4f)));
        var h = graph.Cat([left, graph.Tanh(right), graph.Mul(graph.LogSigmoid(left), graph.Softsign(left))], 1);
        graph.Output(graph.Softmin(graph.Layer("fc3", fc3, h), 1), "output");
    }
}

/// <summary>
/// Slicing, concatenation and a whole TransformerEncoderLayer child, as a user writes them: the first and last time
/// steps (Select), a window (Narrow, Slice with a step), joined by Tensor.Cat.
/// </summary>
[Module]
public sealed partial class SliceCatEncoder
{
    private readonly TransformerEncoderLayer encoder = new(16, 4, 32, dropout: 0, batchFirst: true);
    private readonly Linear head = new(16, 3);

    public Tensor Forward([Shape("N", 6, 16)] Tensor x)
    {
        var h = encoder.Forward(x);                                           // [N, 6, 16]
        var window = h.Narrow(1, 1, 3);                                       // [N, 3, 16]
        var strided = h.Slice(1, 0, 6, 2);                                    // [N, 3, 16]
        var ends = Tensor.Cat([h.Select(1, 0).Unsqueeze(1), h.Select(1, -1).Unsqueeze(1)], 1);   // [N, 2, 16]
        var joined = Tensor.Cat([window, strided * 0.5f, ends], 1);          // [N, 8, 16]
        return head.Forward(joined).Flatten(1);                               // [N, 24]
    }
}

/// <summary>Embedding, a 2-layer bidirectional batch-first LSTM (its output sequence), the last step and a classifier: the LSTM classifier of issue 17.</summary>
[Module]
public sealed partial class LstmClassifier
{
    private readonly Embedding embed = new(40, 8);
    private readonly LSTM lstm = new(8, 6, numLayers: 2, batchFirst: true, bidirectional: true);
    private readonly Linear fc = new(12, 4);

    public Tensor Forward([Shape("N", 7)] Tensor tokens)
    {
        var (output, _) = lstm.Forward(embed.Forward(tokens));               // [N, 7, 12]
        return fc.Forward(output.Select(1, -1));                              // [N, 4]
    }
}
