using SharpGrad.Layers;

namespace SharpGrad.Onnx.Tests;

// The test models: [Module] classes whose BuildOnnxGraph is written by hand, one builder call per layer or op of their
// Forward — the code the generator is to emit for them. Each test exports one through OnnxExporter and checks ONNX
// Runtime's output against the model's eager Forward.

/// <summary>MLP 20-32-16-5 with ReLUs (Gemm).</summary>
[Module]
public sealed partial class Mlp : IOnnxExportable
{
    private readonly Linear fc1 = new(20, 32);
    private readonly Linear fc2 = new(32, 16);
    private readonly Linear fc3 = new(16, 5);

    public Tensor Forward(Tensor x) => fc3.Forward(Functional.Relu(fc2.Forward(Functional.Relu(fc1.Forward(x)))));

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var x = graph.Input("input", "N", 20);
        var h = graph.Relu(graph.Layer("fc1", fc1, x));
        h = graph.Relu(graph.Layer("fc2", fc2, h));
        graph.Output(graph.Layer("fc3", fc3, h), "output");
    }
}

/// <summary>A CNN with BatchNorm: conv-bn-relu-maxpool, conv-bn-relu-avgpool, flatten, dropout, linear.</summary>
[Module]
public sealed partial class CnnBn : IOnnxExportable
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

    public Tensor Forward(Tensor x)
    {
        var h = pool1.Forward(Functional.Relu(bn1.Forward(conv1.Forward(x))));
        h = pool2.Forward(Functional.Relu(bn2.Forward(conv2.Forward(h))));
        return fc.Forward(drop.Forward(flatten.Forward(h)));
    }

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var x = graph.Input("input", "N", 3, 16, 16);
        var h = graph.Layer("pool1", pool1, graph.Relu(graph.Layer("bn1", bn1, graph.Layer("conv1", conv1, x))));
        h = graph.Layer("pool2", pool2, graph.Relu(graph.Layer("bn2", bn2, graph.Layer("conv2", conv2, h))));
        graph.Output(graph.Layer("fc", fc, graph.Layer("drop", drop, graph.Layer("flatten", flatten, h))), "output");
    }
}

/// <summary>torchvision's ResNet BasicBlock with a downsampling shortcut, then global average pooling and a classifier.</summary>
[Module]
public sealed partial class ResNetBlock : IOnnxExportable
{
    private readonly Conv2d conv1 = new(8, 16, 3, stride: 2, padding: 1, bias: false);
    private readonly BatchNorm2d bn1 = new(16);
    private readonly Conv2d conv2 = new(16, 16, 3, padding: 1, bias: false);
    private readonly BatchNorm2d bn2 = new(16);
    private readonly Conv2d downsampleConv = new(8, 16, 1, stride: 2, bias: false);
    private readonly BatchNorm2d downsampleBn = new(16);
    private readonly AdaptiveAvgPool2d avgpool = new(1);
    private readonly Linear fc = new(16, 4);

    public Tensor Forward(Tensor x)
    {
        var h = Functional.Relu(bn1.Forward(conv1.Forward(x)));
        h = bn2.Forward(conv2.Forward(h));
        h = Functional.Relu(h + downsampleBn.Forward(downsampleConv.Forward(x)));
        return fc.Forward(avgpool.Forward(h).Flatten(1));
    }

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var x = graph.Input("input", "N", 8, 12, 12);
        var h = graph.Relu(graph.Layer("bn1", bn1, graph.Layer("conv1", conv1, x)));
        h = graph.Layer("bn2", bn2, graph.Layer("conv2", conv2, h));
        var shortcut = graph.Layer("downsample_bn", downsampleBn, graph.Layer("downsample_conv", downsampleConv, x));
        h = graph.Relu(graph.Add(h, shortcut));
        graph.Output(graph.Layer("fc", fc, graph.Flatten(graph.Layer("avgpool", avgpool, h), 1)), "output");
    }
}

/// <summary>A post-norm Transformer encoder layer (2 heads, d_model 16, feed-forward 32, GELU) over [N, 6, 16], then the
/// mean over the sequence and a classifier: MatMul, Softmax, LayerNormalization, Transpose, Reshape.</summary>
[Module(Compile = false)] // eager-only: the compiler does not take this Forward yet (SG1015)
public sealed partial class EncoderBlock : IOnnxExportable
{
    private const int T = 6, D = 16, H = 2, Dh = D / H;
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

    public Tensor Forward(Tensor x)
    {
        Tensor Heads(Tensor t) => t.Reshape(-1, T, H, Dh).Transpose(1, 2);              // [N, H, T, Dh]
        var scores = Heads(q.Forward(x)).MatMul(Heads(k.Forward(x)).Transpose(2, 3)) * (1f / MathF.Sqrt(Dh));
        var attn = Functional.Softmax(scores, -1).MatMul(Heads(v.Forward(x)));           // [N, H, T, Dh]
        var h = norm1.Forward(x + proj.Forward(attn.Transpose(1, 2).Reshape(-1, T, D)));
        h = norm2.Forward(h + ff2.Forward(gelu.Forward(ff1.Forward(h))));
        return head.Forward(h.Mean(1));
    }

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var x = graph.Input("input", "N", T, D);
        OnnxValue Heads(OnnxValue t) => graph.Transpose(graph.View(t, -1, T, H, Dh), 1, 2);
        var scores = graph.Mul(graph.MatMul(Heads(graph.Layer("q", q, x)), graph.Transpose(Heads(graph.Layer("k", k, x)), 2, 3)), 1f / MathF.Sqrt(Dh));
        var attn = graph.MatMul(graph.Softmax(scores, -1), Heads(graph.Layer("v", v, x)));
        var h = graph.Layer("norm1", norm1, graph.Add(x, graph.Layer("proj", proj, graph.View(graph.Transpose(attn, 1, 2), -1, T, D))));
        h = graph.Layer("norm2", norm2, graph.Add(h, graph.Layer("ff2", ff2, graph.Layer("gelu", gelu, graph.Layer("ff1", ff1, h)))));
        graph.Output(graph.Layer("head", head, graph.Mean(h, [1])), "output");
    }
}

/// <summary>A bag-of-embeddings classifier over int64 token ids: Gather, ReduceMean, Gemm, LogSoftmax.</summary>
[Module]
public sealed partial class EmbeddingClassifier : IOnnxExportable
{
    private readonly Embedding embed = new(50, 8);
    private readonly Linear fc = new(8, 4);

    public Tensor Forward(Tensor tokens) => Functional.LogSoftmax(fc.Forward(embed.Forward(tokens).Mean(1)), 1);

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var tokens = graph.Input("tokens", OnnxElementType.Int64, "N", 7);
        graph.Output(graph.LogSoftmax(graph.Layer("fc", fc, graph.Mean(graph.Layer("embed", embed, tokens), [1])), 1), "log_probs");
    }
}

/// <summary>A small convolutional autoencoder: strided Conv, ELU, ConvTranspose (output_padding), Sigmoid.</summary>
[Module]
public sealed partial class ConvAutoencoder : IOnnxExportable
{
    private readonly Conv2d enc = new(1, 4, 3, stride: 2, padding: 1);
    private readonly ConvTranspose2d dec = new(4, 1, 3, stride: 2, padding: 1, outputPadding: 1);

    public Tensor Forward(Tensor x) => dec.Forward(Functional.Elu(enc.Forward(x))).Sigmoid();

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var x = graph.Input("input", "N", 1, 8, 8);
        graph.Output(graph.Sigmoid(graph.Layer("dec", dec, graph.Elu(graph.Layer("enc", enc, x)))), "output");
    }
}

/// <summary>Every activation, slicing and concatenation: LeakyReLU, GELU (tanh), SiLU, Softplus (beta 2, threshold 1),
/// Hardtanh, ReLU6, Tanh, LogSigmoid, Softsign, Narrow, Cat, Softmin.</summary>
[Module(Compile = false)] // eager-only: the compiler does not take this Forward yet (SG1015)
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

/// <summary>A model with no ONNX export.</summary>
[Module]
public sealed partial class NotExportable
{
    private readonly Linear fc = new(2, 2);

    public Tensor Forward(Tensor x) => fc.Forward(x);
}
