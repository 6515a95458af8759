namespace SharpGrad.Generator.Tests.EndToEnd;

/// <summary>The generated plumbing of real [Module] classes, checked against PyTorch's naming and traversal rules.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("SharpGrad.Autograd", "SG2008", Justification = "The tests check the generated plumbing's forward values and hooks, with recording on as in training.")]
public class ModulePlumbingTests
{
    [Fact]
    public void NamedParametersFollowPyTorchOrderAndDottedNames()
    {
        var top = new Top();

        // PyTorch: a module's own parameters first, then each child's (depth first, in registration order);
        // ModuleList children are named "heads.0", "heads.1"; a None bias is skipped.
        Assert.Equal(
            ["scale", "block.gain", "block.inner.weight", "block.inner.bias", "heads.0.weight", "heads.1.weight"],
            top.NamedParameters().Select(p => p.Name));
        Assert.Equal(["block.steps"], top.NamedBuffers().Select(b => b.Name));
        Assert.Equal(["", "block", "block.inner", "heads.0", "heads.1"], top.NamedModules().Select(m => m.Name));
        Assert.Equal(["block", "heads.0", "heads.1"], top.NamedChildren().Select(c => c.Name));
        Assert.Equal(["scale"], top.NamedParameters(recurse: false).Select(p => p.Name));
    }

    [Fact]
    public void ParametersAreTheMembersThemselves()
    {
        var affine = new Affine(3);
        var named = affine.NamedParameters().ToList();
        Assert.Same(affine.Weight, named[0].Value);
        Assert.Same(affine.Bias, named[1].Value);
        Assert.Equal(["weight"], new Affine(3, bias: false).NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void DerivedModuleListsBaseItemsFirst()
    {
        var module = new ExtendedBlock();
        Assert.Equal(["first", "second", "extra.weight", "extra.bias"], module.NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void TrainAndEvalReachNestedChildren()
    {
        var top = new Top();
        Assert.All(top.Modules(), m => Assert.True(m.Training));
        top.Eval();
        Assert.Equal(5, top.Modules().Count());
        Assert.All(top.Modules(), m => Assert.False(m.Training));
        top.Train();
        Assert.All(top.Modules(), m => Assert.True(m.Training));
    }

    [Fact]
    public void ApplyVisitsChildrenBeforeParents()
    {
        var top = new Top();
        var visited = new List<Module>();
        top.Apply(visited.Add);

        var block = top.NamedModules().Single(m => m.Name == "block").Module;
        var inner = top.NamedModules().Single(m => m.Name == "block.inner").Module;
        Assert.Equal(5, visited.Count);
        Assert.Same(top, visited[^1]);
        Assert.True(visited.IndexOf(inner) < visited.IndexOf(block));
        Assert.Equal(5, visited.Distinct().Count());
    }

    [Fact]
    public void ZeroGradReachesNestedParameters()
    {
        var top = new Top();
        var x = Tensor.Ones(3);
        top.Forward(x).Sum().Backward();
        Assert.All(top.Parameters(), p => Assert.NotNull(p.Grad));

        top.ZeroGrad();
        Assert.All(top.Parameters(), p => Assert.Null(p.Grad));
    }

    [Fact]
    public void CallDispatchesToForwardByArity()
    {
        var top = new Top();
        var x = Tensor.FromArray([1f, 2f, 3f], 3);
        var y = Tensor.FromArray([10f, 20f, 30f], 3);

        Assert.Equal(top.Forward(x).ToArray(), top.Call(x).ToArray());
        Assert.Equal(top.Forward(x, y).ToArray(), top.Call(x, y).ToArray());

        var error = Assert.Throws<ArgumentException>(() => top.Call(x, y, x));
        Assert.Contains("Top.Forward takes 1 or 2 input tensors, but was called with 3", error.Message);
    }

    [Fact]
    public void SequentialForwardRunsChildrenInOrderWithTheirHooks()
    {
        var pipeline = new Pipeline();
        var calls = new List<string>();
        foreach (var (name, child) in pipeline.NamedChildren())
        {
            child.RegisterForwardHook((m, inputs, output) => calls.Add(name));
        }

        var x = Tensor.FromArray([1f, 2f, 3f], 3);
        var output = pipeline.Forward(x);

        Assert.Equal(["affine1", "affine2"], calls);
        Assert.Equal(["affine1.weight", "affine1.bias", "affine2.weight"], pipeline.NamedParameters().Select(p => p.Name));
        // Reference: both affines have weight 1 and bias 0, so the pipeline is the identity.
        Assert.Equal(x.ToArray(), output.ToArray());
        Assert.Equal(output.ToArray(), pipeline.Call(x).ToArray());
    }

    [Fact]
    public void DirectChildForwardCallRunsTheChildsHooks()
    {
        // Top.Forward calls block.Forward(x) directly; the generated interceptor routes it through DispatchForward.
        var top = new Top();
        var block = (Block)top.NamedModules().Single(m => m.Name == "block").Module;
        var inner = top.NamedModules().Single(m => m.Name == "block.inner").Module;
        var seen = new List<string>();
        block.RegisterForwardPreHook((m, inputs) => seen.Add("block.pre"));
        block.RegisterForwardHook((m, inputs, output) => seen.Add("block"));
        inner.RegisterForwardHook((m, inputs, output) => seen.Add("block.inner"));

        top.Forward(Tensor.Ones(3));

        Assert.Equal(["block.pre", "block.inner", "block"], seen);
    }

    [Fact]
    public void ForwardHookCanReplaceTheOutputOfADirectCall()
    {
        var top = new Top();
        var block = top.NamedModules().Single(m => m.Name == "block").Module;
        using var handle = block.RegisterForwardHook((m, inputs, output) => Tensor.Zeros(3));

        // Reference: with the block's output replaced by zeros, every later op multiplies zeros (heads have no bias).
        Assert.Equal(new float[3], top.Forward(Tensor.Ones(3)).ToArray());
    }

    [Fact]
    public void DirectCallOfAGeneratedSequentialForwardRunsItsHooks()
    {
        var model = new WithPipeline();
        var pipeline = model.NamedModules().Single(m => m.Name == "pipeline").Module;
        int calls = 0;
        pipeline.RegisterForwardHook((m, inputs, output) => calls++);

        model.Forward(Tensor.Ones(3));

        Assert.Equal(1, calls);
    }

    [Fact]
    public void AChildAssignedToTwoFieldsIsListedOnceByNamedChildrenAndChildren()
    {
        // PyTorch (torch 1.13): self.encoder = Affine(3); self.decoder = self.encoder; self.head = Affine(3)
        // list(m.named_children()) names encoder and head; list(m.children()) has 2 modules; named_modules() has 3 entries;
        // state_dict() keeps both encoder.* and decoder.* (it walks _modules without remove_duplicate).
        var model = new TiedChildren();
        Assert.Equal(["encoder", "head"], model.NamedChildren().Select(c => c.Name));
        Assert.Equal(2, model.Children().Count());
        Assert.Equal(["", "encoder", "head"], model.NamedModules().Select(m => m.Name));
        Assert.Equal(["", "encoder", "decoder", "head"], model.NamedModules(removeDuplicate: false).Select(m => m.Name));
        Assert.Equal(["encoder.weight", "encoder.bias", "head.weight", "head.bias"], model.NamedParameters().Select(p => p.Name));
        Assert.Equal(
            ["encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias", "head.weight", "head.bias"],
            model.StateDict().Keys);

        var derived = new TiedChildrenExtended();
        Assert.Equal(["shared", "extra"], derived.NamedChildren().Select(c => c.Name));
        Assert.Equal(["", "shared", "again", "extra"], derived.NamedModules(removeDuplicate: false).Select(m => m.Name));
    }
}
