using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// [Module] classes whose result does not depend on some of their parameters or inputs (CompiledUnreachedGradientTests): eager
// (as PyTorch) gives those no gradient (.Grad stays null), and so must the compiled program.

/// <summary>
/// Only MultiheadAttention's weights, over a key and a value projected by Linears: the value's Linear, the out-projection and the
/// value's input are not in the weights' graph (eager: no gradient); the key's Linear and the query are.
/// </summary>
[Module]
public sealed partial class ProjectedWeightsOnly
{
    internal readonly Linear keyProj = new(6, 8);
    internal readonly Linear valueProj = new(5, 8);
    internal readonly MultiheadAttention attn = new(8, 2, batchFirst: true);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 6)] Tensor keys, [Shape("N", "S", 5)] Tensor values)
        => attn.Forward(x, keyProj.Forward(keys), valueProj.Forward(values)).Weights!;
}

/// <summary>A child's output computed and discarded: fc2 is not in the result's graph (eager: no gradient).</summary>
[Module]
public sealed partial class DiscardedChildOutput
{
    internal readonly Linear fc1 = new(6, 4);
    internal readonly Linear fc2 = new(6, 3);

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
#pragma warning disable SG2008 // the point of the model: a child's output computed and not used
        var unused = fc2.Forward(x);
#pragma warning restore SG2008
        return fc1.Forward(x);
    }
}

/// <summary>A float input the result does not depend on: its gradient stays none (eager).</summary>
[Module]
public sealed partial class UnusedInputNet
{
    internal readonly Linear fc = new(6, 4);

    public Tensor Forward([Shape("N", 6)] Tensor x, [Shape("N", 6)] Tensor y) => fc.Forward(x);
}

/// <summary>A 2-layer LSTM whose loss uses only the last layer's final hidden state: every parameter is in its graph.</summary>
[Module]
public sealed partial class LstmLastHiddenHead
{
    internal readonly LSTM lstm = new(5, 6, numLayers: 2, batchFirst: true);
    internal readonly Linear head = new(6, 3);

    public Tensor Forward([Shape("N", 4, 5)] Tensor x)
    {
        var (_, (h, _)) = lstm.Forward(x);
        return head.Forward(h.Select(0, -1));
    }
}

/// <summary>A GRU beside a Linear, only the Linear's output used: the GRU is not in the result's graph (eager: no gradient).</summary>
[Module]
public sealed partial class DiscardedRecurrentOutput
{
    internal readonly GRU gru = new(5, 6, batchFirst: true);
    internal readonly Linear fc = new(5, 3);

    public Tensor Forward([Shape("N", 4, 5)] Tensor x)
    {
        var (y, _) = gru.Forward(x);
        var unused = y.Sum(1);
        return fc.Forward(x.Mean(1));
    }
}

/// <summary>
/// Two Linears joined and chunked, only the first piece used: both Linears are in its graph (the Cat), so eager gives fc2 a
/// gradient of zeros, not none.
/// </summary>
[Module]
public sealed partial class ChunkOnePiece
{
    internal readonly Linear fc1 = new(6, 4);
    internal readonly Linear fc2 = new(6, 4);
    internal readonly Linear head = new(4, 3);

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var parts = Tensor.Cat([fc1.Forward(x), fc2.Forward(x)], 1).Chunk(2, 1);
        return head.Forward(parts[0]);
    }
}

/// <summary>A branch on <c>Training</c>: in training fc2 is not in the result's graph, in evaluation fc1 is not.</summary>
[Module]
public sealed partial class TrainingBranchNet
{
    internal readonly Linear fc1 = new(6, 4);
    internal readonly Linear fc2 = new(6, 4);
    internal readonly Linear head = new(4, 3);

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var h = fc1.Forward(x);
        if (Training)
        {
            h = h * 2f;
        }
        else
        {
            h = fc2.Forward(x);
        }
        return head.Forward(h);
    }
}

/// <summary>
/// A scalar of MultiheadAttention's weights only (the fused <c>ForwardBackward</c> entry): the value's Linear and the out-projection
/// get none. Without biases: the key's bias has a gradient of rounding noise only (the softmax does not see it), which Adam would
/// turn into steps of ±lr in either program.
/// </summary>
[Module]
public sealed partial class WeightsScore
{
    internal readonly Linear valueProj = new(5, 8);
    internal readonly MultiheadAttention attn = new(8, 2, bias: false, batchFirst: true);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 8)] Tensor keys, [Shape("N", "S", 5)] Tensor values)
    {
        var w = attn.Forward(x, keys, valueProj.Forward(values)).Weights!;
        return (w * w).Sum();
    }
}

/// <summary>
/// Graph-break regions: the weights of an attention (whose value's Linear is then not in the graph) in the region before a
/// constructor-sized TransformerEncoder, which runs its own program, and a head in the region after it.
/// </summary>
[Module]
public sealed partial class RegionWeightsOnly
{
    internal readonly Linear proj = new(6, 16);
    internal readonly Linear valueProj = new(6, 16);
    internal readonly MultiheadAttention attn = new(16, 4, batchFirst: true);
    internal readonly TransformerEncoder encoder;
    internal readonly Linear head = new(16, 3);

    public RegionWeightsOnly(int layers)
        => encoder = new TransformerEncoder(new TransformerEncoderLayer(16, 4, 24, dropout: 0.0, batchFirst: true), layers);

    public Tensor Forward([Shape("N", "T", 6)] Tensor x)
    {
        var q = proj.Forward(x);
        var z = attn.Forward(q, q, valueProj.Forward(x)).Weights!.MatMul(q);
        var h = encoder.Forward(z);
        return head.Forward(h).Mean(1);
    }
}
