namespace SharpGrad.Generator.Tests.EndToEnd;

// Real [Module] classes compiled with the generator running as an analyzer on this project.

/// <summary>y = x * weight + bias, with a nullable bias (a conditional: a graph break).</summary>
[Module]
public sealed partial class Affine
{
    public Affine(int features, bool bias = true)
    {
        Weight = new Parameter(Tensor.Ones(features));
        if (bias) Bias = new Parameter(Tensor.Zeros(features));
    }

    public Parameter Weight { get; }

    public Parameter? Bias { get; }

    public Tensor Forward(Tensor input) => Bias is null ? input * Weight : input * Weight + Bias;
}

/// <summary>Holds a gain, an inner Affine and a buffer.</summary>
[Module]
public sealed partial class Block
{
    private readonly Affine inner = new(3);

    public Parameter Gain { get; } = new(Tensor.Full([3], 2.0));

    [Buffer]
    public Tensor Steps { get; } = Tensor.Zeros(1);

    public Tensor Forward(Tensor x) => inner.Forward(x) * Gain;
}

/// <summary>Own parameter declared after children (PyTorch still lists own parameters first), a nested block, a list of heads (a foreach over children), two overloads of Forward (graph breaks).</summary>
[Module]
public sealed partial class Top
{
    private readonly Block block = new();
    private readonly Affine[] heads = [new(3, bias: false), new(3, bias: false)];

    public Parameter Scale { get; } = new(Tensor.Ones(3));

    public Tensor Forward(Tensor x)
    {
        var h = block.Forward(x) * Scale;
        foreach (var head in heads) h = head.Forward(h);
        return h;
    }

    public Tensor Forward(Tensor x, Tensor y) => Forward(x) + y;
}

/// <summary>A module that derives from another [Module] class: base items first.</summary>
[Module]
public partial class ExtendedBlockBase
{
    public Parameter First { get; } = new(Tensor.Ones(1));
}

[Module]
public sealed partial class ExtendedBlock : ExtendedBlockBase
{
    private readonly Affine extra = new(1);

    public Parameter Second { get; } = new(Tensor.Ones(1));
}

/// <summary>Generated Forward: affine1 then affine2, each through DispatchForward.</summary>
[Sequential]
public sealed partial class Pipeline
{
    private readonly Affine affine1 = new(3);
    private readonly Affine affine2 = new(3, bias: false);
}

/// <summary>Calls a [Sequential] child's generated Forward directly.</summary>
[Module]
public sealed partial class WithPipeline
{
    private readonly Pipeline pipeline = new();

    public Tensor Forward(Tensor x) => pipeline.Forward(x) * 2f;
}

/// <summary>One child assigned to two fields (weight tying, <c>self.decoder = self.encoder</c> in PyTorch).</summary>
[Module]
public sealed partial class TiedChildren
{
    private readonly Affine encoder;
    private readonly Affine decoder;
    private readonly Affine head = new(3);

    public TiedChildren()
    {
        encoder = new Affine(3);
        decoder = encoder;
    }
}

/// <summary>Derives from a module that assigns one child to two fields: the shared child is still listed once.</summary>
[Module]
public sealed partial class TiedChildrenExtended : TiedChildrenBase
{
    private readonly Affine extra = new(3);
}

/// <summary>The base of <see cref="TiedChildrenExtended"/>.</summary>
[Module]
public partial class TiedChildrenBase
{
    private readonly Affine shared;
    private readonly Affine again;

    public TiedChildrenBase()
    {
        shared = new Affine(3);
        again = shared;
    }
}
