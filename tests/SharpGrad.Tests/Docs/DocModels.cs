using SharpGrad.Data;
using SharpGrad.Layers;

namespace SharpGrad.Tests.Docs;

// The model classes of docs/getting-started.md and docs/pytorch-guide.md. Every `#region doc:NAME` block is quoted in a
// ```csharp block of those guides (DocSnippetTests checks that each block of the guides is here or in DocSnippets.cs).

#region doc:tiny-net
[Module]
public sealed partial class TinyNet
{
    private readonly Linear fc1 = new(1, 16);
    private readonly ReLU relu = new();
    private readonly Linear fc2 = new(16, 1);

    public Tensor Forward(Tensor x) => fc2.Forward(relu.Forward(fc1.Forward(x)));
}
#endregion

#region doc:mlp
[Module]
public sealed partial class Mlp
{
    private readonly Linear fc1 = new(784, 128);
    private readonly Linear fc2 = new(128, 10);

    public Tensor Forward([Shape("N", 784)] Tensor x) => fc2.Forward(Functional.Relu(fc1.Forward(x)));
}
#endregion

#region doc:classifier
[Module]
public sealed partial class Classifier
{
    private readonly Linear hidden = new(4, 16);
    private readonly Dropout dropout = new(0.2);
    private readonly Linear output = new(16, 3);

    public Tensor Forward(Tensor x) => output.Forward(dropout.Forward(Functional.Relu(hidden.Forward(x))));
}
#endregion

#region doc:features
[Sequential]
public sealed partial class Features
{
    private readonly Linear fc1 = new(4, 16);
    private readonly ReLU relu1 = new();
    private readonly Linear fc2 = new(16, 16);
    private readonly Tanh act2 = new();
}
#endregion

#region doc:with-body
[Module]
public sealed partial class WithBody
{
    private readonly Sequential body = new(("fc1", new Linear(4, 16)), ("relu", new ReLU()), ("fc2", new Linear(16, 3)));

    public Tensor Forward(Tensor x) => body.Forward(x);
}
#endregion

#region doc:tower
[Module]   // the foreach is unrolled at build time: Compile() exists
public sealed partial class Tower
{
    private readonly ModuleList<Linear> layers = new(new Linear(8, 8), new Linear(8, 8), new Linear(8, 8));

    public Tensor Forward(Tensor x)
    {
        foreach (var layer in layers) x = Functional.Relu(layer.Forward(x));
        return x;
    }
}
#endregion

#region doc:scaled-dataset
/// <summary>A data set computed on the fly: item i is (x, 2x) for x = i / count.</summary>
public sealed class Doubling(int count) : IDataset<Tensor[]>
{
    public int Count => count;

    public Tensor[] this[int index]
    {
        get
        {
            float x = (float)index / count;
            return [Tensor.FromArray(new[] { x }, 1), Tensor.FromArray(new[] { 2 * x }, 1)];
        }
    }
}
#endregion

/// <summary>A batch_first=False TransformerEncoderLayer inside a compiled program (pytorch-guide.md; CompiledBatchSecondTests runs it).</summary>
[Module]
public sealed partial class BatchSecondEncoderLayer
{
    private readonly Linear proj = new(6, 16);
    private readonly TransformerEncoderLayer layer = new(16, 4, 24, dropout: 0.0);
    private readonly Linear head = new(16, 3);

    #region doc:batch-second
    public Tensor Forward([Shape("N", "T", 6)] Tensor x)
    {
        var h = layer.Forward(proj.Forward(x).Transpose(0, 1));   // [T, N, 16]: layer = new TransformerEncoderLayer(16, 4, 24, dropout: 0.0)
        return head.Forward(h.Transpose(0, 1));
    }
    #endregion
}
