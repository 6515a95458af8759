using SharpGrad.Layers;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Reliability;

/// <summary>
/// Issue 18, finding 8: where SharpGrad differed from PyTorch's own autograd/nn tests. Each expected value was checked with
/// PyTorch 1.13 (`/usr/bin/python3`); the Python is quoted above each test. APIs PyTorch added in 2.0
/// (<c>register_full_backward_pre_hook</c>, <c>prepend=</c>, <c>remove_duplicate=</c> on named_parameters) follow 2.0's docs.
/// </summary>
public class PyTorchSemanticsTests
{
    private static float[] F(params float[] v) => v;

    // l1, l2 = nn.Linear(2, 2), nn.Linear(2, 2); sub = nn.Sequential(l2); s = nn.Sequential(l1, l2, l1, l2, sub)
    // list(s.children()) == [l1, l2, sub]; [n for n, _ in s.named_children()] == ['0', '1', '4']
    // [n for n, _ in s.named_modules()] == ['', '0', '1', '4']
    // len(list(s.named_modules(remove_duplicate=False))) == 7; list(s.state_dict().keys()) has 0.*, 1.*, 2.*, 3.*, 4.0.*
    [Fact]
    public void AModuleRegisteredTwice_IsOneChild_ButEveryNameIsInTheStateDict()
    {
        var l1 = new Linear(2, 2);
        var l2 = new Linear(2, 2);
        var sub = new Sequential(l2);
        var s = new Sequential(l1, l2, l1, l2, sub);
        Assert.Equal(new Module[] { l1, l2, sub }, s.Children());
        Assert.Equal(["0", "1", "4"], s.NamedChildren().Select(c => c.Name));
        Assert.Equal(["", "0", "1", "4"], s.NamedModules().Select(m => m.Name));
        Assert.Equal(["", "0", "1", "2", "3", "4", "4.0"], s.NamedModules(removeDuplicate: false).Select(m => m.Name));
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias"], s.NamedParameters().Select(p => p.Name));
        Assert.Equal(10, s.NamedParameters(removeDuplicate: false).Count());
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias", "3.weight", "3.bias", "4.0.weight", "4.0.bias"], s.StateDict().Keys);
        // forward still runs every position: l1, l2, l1, l2, l2
        var x = Tensor.Randn([3, 2]);
        using (Autograd.NoGrad())
        {
            var expected = l2.Forward(l2.Forward(l1.Forward(l2.Forward(l1.Forward(x)))));
            TensorAssert.Close(expected, s.Forward(x), 0, 0);
        }
        var list = new ModuleList(l1, l1, l2);
        Assert.Equal(["0", "2"], list.NamedChildren().Select(c => c.Name));
        Assert.Equal(6, list.NamedParameters(removeDuplicate: false).Count());
        var bn = new BatchNorm1d(2);
        var twice = new Sequential(bn, bn);
        Assert.Equal(3, twice.NamedBuffers().Count());
        Assert.Equal(6, twice.NamedBuffers(removeDuplicate: false).Count());
    }

    // a = torch.zeros(3); v = a[0:2]; a.requires_grad_(); v.mul_(2)
    // RuntimeError: a view of a leaf Variable that requires grad is being used in an in-place operation.
    [Fact]
    public void InPlaceThroughAViewMadeBeforeTheBaseRequiredGrad_IsRefused()
    {
        var a = Tensor.Zeros(3);
        var v = a.Narrow(0, 0, 2);
        a.RequiresGrad_();
        var ex = Assert.Throws<InvalidOperationException>(() => v.Mul_(2f));
        Assert.Contains("view of a leaf", ex.Message);
        using (Autograd.NoGrad()) v.Mul_(2f); // allowed without grad, as in PyTorch
    }

    // x = torch.zeros(2, 3); y = torch.arange(3.).requires_grad_()
    // x[1].copy_(y * 2); (x * torch.arange(6.).view(2, 3)).sum().backward(); y.grad == [6., 8., 10.]; x.grad_fn is CopySlices
    [Fact]
    public void CopyIntoAViewOfATensorWithoutGrad_RecordsTheSourcesGraph()
    {
        var x = Tensor.Zeros(2, 3);
        var y = Tensor.FromArray(F(0, 1, 2)).RequiresGrad_();
        x.Select(0, 1).Copy_(y * 2f);
        Assert.True(x.RequiresGrad);
        Assert.Equal("CopySlices", x.GradFn!.Name);
        Assert.Equal(F(0, 0, 0, 0, 2, 4), x.ToArray());
        (x * Tensor.Arange(6).View(2, 3)).Sum().Backward();
        Assert.Equal(F(6, 8, 10), y.Grad!.ToArray());
    }

    // c0 = torch.ones(4, requires_grad=True); t = torch.tensor([2., 5.], requires_grad=True)
    // c = c0 * 1; w = c[1:3]; v = c[0:2]; v.copy_(t * 1)  →  c == [2, 5, 1, 1]
    // (w * torch.tensor([10., 100.])).sum().backward()  →  c0.grad == [0, 0, 100, 0], t.grad == [0, 10]
    [Fact]
    public void InPlaceThroughAViewOfANonLeaf_RebasesTheBase_AndOtherViewsFollow()
    {
        var c0 = Tensor.Ones([4], requiresGrad: true);
        var t = Tensor.FromArray(F(2, 5)).RequiresGrad_();
        var c = c0 * 1f;
        var w = c.Narrow(0, 1, 2);
        var v = c.Narrow(0, 0, 2);
        v.Copy_(t * 1f);
        Assert.Equal(F(2, 5, 1, 1), c.ToArray());
        (w * Tensor.FromArray(F(10, 100))).Sum().Backward();
        Assert.Equal(F(0, 0, 100, 0), c0.Grad!.ToArray());
        Assert.Equal(F(0, 10), t.Grad!.ToArray());

        // leaf = torch.ones(4, requires_grad=True); b = leaf * 1; b[:2].add_(torch.ones(2) * 3); (b * b).sum().backward()
        // leaf.grad == [8, 8, 2, 2]
        var leaf = Tensor.Ones([4], requiresGrad: true);
        var b = leaf * 1f;
        b.Narrow(0, 0, 2).Add_(Tensor.Ones(2) * 3f);
        (b * b).Sum().Backward();
        Assert.Equal(F(8, 8, 2, 2), leaf.Grad!.ToArray());
    }

    // torch.zeros(3, requires_grad=True).clone()[:2].detach_()  →  RuntimeError: Can't detach views in-place. Use detach() instead.
    // a.detach().detach_() is fine (detach() is not a view)
    [Fact]
    public void DetachInPlace_OnAView_IsRefused_ButNotOnADetachedTensor()
    {
        #pragma warning disable SG2006 // the test needs a non-leaf, as PyTorch's clone() example does
        var b = Tensor.Zeros([3], requiresGrad: true).Clone();
        #pragma warning restore SG2006
        var ex = Assert.Throws<InvalidOperationException>(() => b.Narrow(0, 0, 2).Detach_());
        Assert.Contains("Detach()", ex.Message);
        var d = Tensor.Ones([3], requiresGrad: true).Detach();
        d.Detach_();
        d.Mul_(2f); // in-place on a detached tensor is allowed, as in PyTorch
        Assert.Equal(F(2, 2, 2), d.ToArray());
    }

    // p, q = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True); hooks on both
    // torch.autograd.grad((p * q).sum(), [p])  →  q's hook does not run
    [Fact]
    public void AutogradGrad_DoesNotRunHooksOfLeavesThatAreNotInputs()
    {
        var p = Tensor.Ones([2], requiresGrad: true);
        var q = Tensor.Ones([2], requiresGrad: true);
        var calls = new List<string>();
        q.RegisterHook(g => calls.Add("q"));
        var g = Autograd.Grad([(p * q).Sum()], [p]);
        Assert.Equal(F(1, 1), g[0]!.ToArray());
        Assert.Empty(calls);
        Assert.Null(q.Grad);
    }

    // nl = p * 2; nl.requires_grad_(True)  →  fine (no-op); nl.requires_grad_(False)  →  RuntimeError
    [Fact]
    public void RequiresGradTrue_OnANonLeaf_IsANoOp_False_Throws()
    {
        var p = Tensor.Ones([2], requiresGrad: true);
        var nl = p * 2f;
        Assert.Same(nl, nl.RequiresGrad_());
        nl.RequiresGrad = true;
        Assert.True(nl.RequiresGrad);
        Assert.NotNull(nl.GradFn);
        var ex = Assert.Throws<InvalidOperationException>(() => nl.RequiresGrad_(false));
        Assert.Contains("Detach()", ex.Message);
    }

    // mod = nn.Linear(2, 3); hook returns a gradient (here: inp) while no input requires grad
    // mod(torch.rand(1, 2)).sum().backward()  →  RuntimeError: ... where no input requires gradient should always return None
    [Fact]
    public void AFullBackwardHookThatInventsAGradient_ForAModuleWithoutInputGrads_Throws()
    {
        var mod = new Linear(2, 3);
        var inp = Tensor.Rand(1, 2);
        int calls = 0;
        string mode = "null";
        mod.RegisterFullBackwardHook((m, gi, go) =>
        {
            calls++;
            Assert.All(gi, Assert.Null);
            Assert.Equal([1, 3], go[0]!.Shape);
            return mode switch { "null" => null, "input" => gi, _ => [inp] };
        });
        mod.Call(inp).Sum().Backward();
        mode = "input"; // all nulls: allowed
        mod.Call(inp).Sum().Backward();
        Assert.Equal(2, calls);
        mode = "invalid";
        var ex = Assert.Throws<InvalidOperationException>(() => mod.Call(inp).Sum().Backward());
        Assert.Contains("none of the module's inputs requires grad", ex.Message);
    }

    // torch.zeros(0).view(-1, 0)  →  cannot reshape tensor of 0 elements into shape [-1, 0] because the unspecified
    // dimension size -1 can be any value and is ambiguous;  torch.zeros(6).view(-1, 0)  →  shape '[-1, 0]' is invalid for input of size 6
    [Fact]
    public void ViewMinusOneZero_SaysWhyItIsAmbiguous()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(0).View(-1, 0));
        Assert.Contains("ambiguous", ex.Message);
        Assert.DoesNotContain("divisible by 0", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(6).View(-1, 0));
        Assert.Contains("size 6", ex.Message);
        Assert.DoesNotContain("divisible by 0", ex.Message);
        Assert.Equal([0, 5], Tensor.Zeros(0).View(-1, 5).Shape);
    }

    // x, y = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    // torch.autograd.backward([x.sum() * 2, (y * 3).sum()])  →  x.grad [2, 2], y.grad [3, 3]
    // torch.autograd.backward([x * 2, y * x], grad_tensors=[torch.ones(2), torch.ones(2) * 2])  →  x.grad [4, 4], y.grad [2, 2]
    // torch.autograd.backward([(x * y).sum()], inputs=[x])  →  x.grad [1, 1], y.grad None
    [Fact]
    public void AutogradBackward_OverSeveralRoots()
    {
        var x = Tensor.Ones([2], requiresGrad: true);
        var y = Tensor.Ones([2], requiresGrad: true);
        Autograd.Backward([x.Sum() * 2f, (y * 3f).Sum()]);
        Assert.Equal(F(2, 2), x.Grad!.ToArray());
        Assert.Equal(F(3, 3), y.Grad!.ToArray());
        x.Grad = null;
        y.Grad = null;
        Autograd.Backward([x * 2f, y * x], [Tensor.Ones(2), Tensor.Full([2], 2)]);
        Assert.Equal(F(4, 4), x.Grad!.ToArray());
        Assert.Equal(F(2, 2), y.Grad!.ToArray());
        x.Grad = null;
        y.Grad = null;
        Autograd.Backward([(x * y).Sum()], inputs: [x]);
        Assert.Equal(F(1, 1), x.Grad!.ToArray());
        Assert.Null(y.Grad);
        var ex = Assert.Throws<InvalidOperationException>(() => Autograd.Backward([x * 2f]));
        Assert.Contains("scalar", ex.Message);
    }

    // m.register_forward_pre_hook(h1); m.register_forward_pre_hook(h2, prepend=True)  →  h2 runs first (PyTorch 2.0)
    [Fact]
    public void Prepend_PutsAHookFirst_AndEachHandleRemovesItsOwnHook()
    {
        var m = new Linear(1, 1);
        var order = new List<string>();
        var h1 = m.RegisterForwardPreHook((mm, x) => order.Add("pre1"));
        m.RegisterForwardPreHook((mm, x) => order.Add("pre0"), prepend: true);
        m.RegisterForwardHook((mm, x, y) => order.Add("post1"));
        m.RegisterForwardHook((mm, x, y) => order.Add("post0"), prepend: true);
        m.RegisterFullBackwardHook((mm, gi, go) => order.Add("bwd1"));
        m.RegisterFullBackwardHook((mm, gi, go) => order.Add("bwd0"), prepend: true);
        m.RegisterFullBackwardPreHook((mm, go) => order.Add("bpre1"));
        m.RegisterFullBackwardPreHook((mm, go) => order.Add("bpre0"), prepend: true);
        m.Call(Tensor.Ones([1, 1], requiresGrad: true)).Sum().Backward();
        Assert.Equal(["pre0", "pre1", "post0", "post1", "bpre0", "bpre1", "bwd0", "bwd1"], order);
        h1.Dispose();
        order.Clear();
        using (Autograd.NoGrad()) m.Call(Tensor.Ones(1, 1));
        Assert.Equal(["pre0", "post0", "post1"], order);
    }

    // PyTorch 2.0: module.register_full_backward_pre_hook(lambda m, go: (go[0] * 10,)) scales every gradient below the module
    [Fact]
    public void FullBackwardPreHook_SeesAndMayReplaceTheOutputGradient()
    {
        var lin = new Linear(2, 1);
        var x = Tensor.FromArray(F(1, 2), 1, 2).RequiresGrad_();
        Tensor? seen = null;
        var h = lin.RegisterFullBackwardPreHook((m, go) => { seen = go[0]; return [go[0]! * 10f]; });
        lin.Call(x).Sum().Backward();
        Assert.Equal(F(1), seen!.ToArray());
        TensorAssert.Close(lin.Weight * 10f, x.Grad!, 1e-6, 0);
        Assert.Equal(F(10, 20), lin.Weight.Grad!.ToArray());
        h.Dispose();
        x.Grad = null;
        lin.Call(x).Sum().Backward();
        TensorAssert.Close(lin.Weight, x.Grad!, 1e-6, 0);
        lin.RegisterFullBackwardPreHook((m, go) => [Tensor.Ones(3)]);
        Assert.Throws<InvalidOperationException>(() => lin.Call(x).Sum().Backward());
    }

    // l = nn.ModuleList([ReLU, Tanh, Sigmoid]); l.insert(1, ELU) → [ReLU, ELU, Tanh, Sigmoid]
    // l[1:3] is a ModuleList [ELU, Tanh] named '0', '1'; l.pop(0) → ReLU; del l[0] → [Tanh, Sigmoid] named '0', '1'
    // l + nn.ModuleList([ReLU]) → ModuleList [Tanh, Sigmoid, ReLU] named '0', '1', '2'
    [Fact]
    public void ModuleList_InsertRemoveSliceConcatenate_LikeAPythonList()
    {
        Module relu = new ReLU(), tanh = new Tanh(), sigmoid = new Sigmoid(), elu = new ELU();
        var l = new ModuleList(relu, tanh, sigmoid);
        l.Insert(1, elu);
        Assert.Equal([relu, elu, tanh, sigmoid], l);
        var slice = l[1..3];
        Assert.Equal([elu, tanh], slice);
        Assert.Equal(["0", "1"], slice.NamedChildren().Select(c => c.Name));
        Assert.Equal([tanh, sigmoid], l.Slice(^2..));
        Assert.Empty(l.Slice(3..1));
        Assert.Same(relu, l.RemoveAt(0));
        l.RemoveAt(0);
        Assert.Equal([tanh, sigmoid], l);
        Assert.Equal(["0", "1"], l.NamedChildren().Select(c => c.Name));
        var joined = l + new ModuleList(relu);
        Assert.Equal([tanh, sigmoid, relu], joined);
        Assert.Equal(["0", "1", "2"], joined.NamedChildren().Select(c => c.Name));
        Assert.Equal(2, l.Count); // + made a new list
        l.Insert(-1, elu); // Python: list.insert(-1, x) goes before the last element
        Assert.Equal([tanh, elu, sigmoid], l);
        l.Insert(100, relu);
        Assert.Same(relu, l[-1]);
        Assert.Throws<IndexOutOfRangeException>(() => l.RemoveAt(10));
    }

    // sd = OrderedDict(module.a.weight=1, module.b=2, other=3, module=4)
    // consume_prefix_in_state_dict_if_present(sd, 'module.')  →  keys ['other', 'module', 'a.weight', 'b']
    [Fact]
    public void ConsumePrefixInStateDictIfPresent_StripsTheDataParallelPrefix()
    {
        var sd = new StateDict([("module.a.weight", Tensor.Scalar(1f)), ("module.b", Tensor.Scalar(2f)), ("other", Tensor.Scalar(3f)), ("module", Tensor.Scalar(4f))]);
        sd.ConsumePrefixInStateDictIfPresent("module.");
        Assert.Equal(["other", "module", "a.weight", "b"], sd.Keys);
        Assert.Equal(1f, sd["a.weight"].Item());
        sd.ConsumePrefixInStateDictIfPresent("absent.");
        Assert.Equal(["other", "module", "a.weight", "b"], sd.Keys);

        var clash = new StateDict([("module.b", Tensor.Scalar(1f)), ("b", Tensor.Scalar(2f))]);
        Assert.Throws<ArgumentException>(() => clash.ConsumePrefixInStateDictIfPresent("module."));
        Assert.Equal(["module.b", "b"], clash.Keys);
    }
}
