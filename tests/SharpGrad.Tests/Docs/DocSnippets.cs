using SharpGrad.Data;
using SharpGrad.Layers;
using SharpGrad.Optimizers;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Docs;

// The code of docs/getting-started.md and docs/pytorch-guide.md, run. Each `#region doc:NAME` block is quoted verbatim
// in a ```csharp block of a guide (DocSnippetTests checks the guides against this file); the asserts after a block check
// what the guide says it does, against hand-computed values or a naive recomputation.
public class GettingStartedSnippets
{
    [Fact]
    public void FirstModelTrainsSavesAndLoads()
    {
        #region doc:train-loop
        Rng.ManualSeed(0);
        var x = Tensor.Linspace(-1, 1, 64).View(-1, 1);           // [64, 1]
        var y = x * x + Tensor.Randn([64, 1]) * 0.01f;            // y = x² + noise

        var model = new TinyNet();
        var optimizer = new Adam(model.Parameters(), lr: 0.01);
        float first = 0, last = 0;
        for (int step = 0; step < 300; step++)
        {
            optimizer.ZeroGrad();
            var loss = Losses.Mse(model.Forward(x), y);
            loss.Backward();
            optimizer.Step();
            if (step == 0) first = loss.Item();
            last = loss.Item();
        }
        Console.WriteLine($"loss {first:F4} -> {last:F4}");
        #endregion
        Assert.True(last < first / 10, $"loss {first} -> {last}");
        Assert.True(last < 0.01f, $"final loss {last}");

        #region doc:names
        foreach (var (name, p) in model.NamedParameters())
            Console.WriteLine($"{name} [{string.Join(", ", p.Shape)}]");
        // fc1.weight [16, 1]
        // fc1.bias [16]
        // fc2.weight [1, 16]
        // fc2.bias [1]
        #endregion
        Assert.Equal(new[] { "fc1.weight [16, 1]", "fc1.bias [16]", "fc2.weight [1, 16]", "fc2.bias [1]" },
            model.NamedParameters().Select(p => $"{p.Name} [{string.Join(", ", p.Value.Shape)}]"));

        #region doc:data-loader
        var loader = new DataLoader(new TensorDataset(x, y), batchSize: 16, shuffle: true);
        for (int epoch = 0; epoch < 5; epoch++)
        {
            model.Train();
            foreach (var (xb, yb) in loader)
            {
                optimizer.ZeroGrad();
                var loss = Losses.Mse(model.Forward(xb), yb);
                loss.Backward();
                optimizer.Step();
            }
        }
        #endregion
        Assert.Equal(4, loader.Count);

        #region doc:predict
        model.Eval();
        using (Autograd.NoGrad())
        {
            var prediction = model.Forward(Tensor.FromArray(new float[] { 0.5f }, 1, 1));
            Console.WriteLine(prediction.Item());    // close to 0.5² = 0.25
        }
        #endregion
        using (Autograd.NoGrad())
            Assert.InRange(model.Forward(Tensor.FromArray(new float[] { 0.5f }, 1, 1)).Item(), 0.15f, 0.35f);

        #region doc:save-load
        var path = Path.Combine(Path.GetTempPath(), "tinynet.safetensors");
        model.Save(path);                                  // safetensors: fc1.weight, fc1.bias, fc2.weight, fc2.bias
        var restored = Module.Load<TinyNet>(path);         // a new TinyNet holding those weights

        var fresh = new TinyNet();
        fresh.LoadStateDict(StateDict.Load(path));         // or load the weights into a model you built
        #endregion
        try
        {
            using (Autograd.NoGrad())
            {
                restored.Eval();
                fresh.Eval();
                TensorAssert.Close(model.Forward(x), restored.Forward(x), 0, 0, "Module.Load");
                TensorAssert.Close(model.Forward(x), fresh.Forward(x), 0, 0, "LoadStateDict");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void CompiledMlpTrainsLikeTheEagerOne()
    {
        Rng.ManualSeed(1);
        #region doc:compile
        var mlp = new Mlp();
        var compiled = mlp.Compile();                  // generated at build time; shares mlp's parameters
        var images = Tensor.Randn([32, 784]);
        var labels = Tensor.RandInt(0, 10, [32]);
        var sgd = new Sgd(mlp.Parameters(), lr: 0.1);

        sgd.ZeroGrad();
        var loss = Losses.CrossEntropy(compiled.Forward(images), labels);   // the whole forward is one tape node
        loss.Backward();                                                    // runs the generated backward
        sgd.Step();
        #endregion
        // Plain SGD: the weights before the step were p + lr · grad. Put them back and redo the step's gradient eagerly.
        var compiledGrads = mlp.Parameters().Select(p => p.Grad!.Clone()).ToArray();
        using (Autograd.NoGrad())
            foreach (var p in mlp.Parameters()) p.Add_(p.Grad! * 0.1f);
        mlp.ZeroGrad();
        Losses.CrossEntropy(mlp.Forward(images), labels).Backward();
        var names = mlp.NamedParameters().Select(p => p.Name).ToArray();
        var eager = mlp.Parameters().ToArray();
        Assert.Equal(4, eager.Length);
        for (int i = 0; i < eager.Length; i++)
            TensorAssert.Close(eager[i].Grad!, compiledGrads[i], 1e-4, 1e-6, names[i]); // float32 sums in another order
    }
}

public class PyTorchGuideSnippets
{
    [Fact]
    public void TensorsAndDtypes()
    {
        #region doc:tensors
        var a = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);   // Float32, shape [2, 3]
        var zeros = Tensor.Zeros(2, 3);
        var noise = Tensor.Randn([2, 3], requiresGrad: true);
        var labels = Tensor.FromArray(new long[] { 0, 2, 1 }, 3);          // Int64, like torch.long
        var doubles = a.To(DType.Float64);
        var steps = Tensor.Arange(6);                                      // Int64: 0, 1, …, 5
        float corner = a[1, 2];                                            // 6
        float total = a.Sum().Item();                                      // 21
        float[] values = a.ToArray();                                      // row-major copy
        #endregion
        Assert.Equal((DType.Float32, DType.Float64, DType.Int64, DType.Int64), (a.DType, doubles.DType, labels.DType, steps.DType));
        Assert.Equal((6f, 21f), (corner, total));
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, values);
        Assert.Equal(new float[6], zeros.ToArray());
        Assert.True(noise.RequiresGrad && noise.IsLeaf);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5 }, steps.ToLongArray());
    }

    [Fact]
    public void Views()
    {
        #region doc:views
        var m = Tensor.Arange(12).View(3, 4);     // [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
        var t = m.Transpose(0, 1);                // [4, 3], shares m's storage, not contiguous
        var flat = t.Reshape(-1);                 // copies, because no view can do it: 0, 4, 8, 1, 5, 9, …
        var same = t.Contiguous().View(-1);       // the same, spelled out
        // t.View(-1) throws: "View(-1): the tensor of shape [4, 3] with strides [1, 4] is not contiguous in a way that
        // allows this view (e.g. it comes from Transpose or Permute). Use .Reshape(...) instead, or call .Contiguous() before .View(...)."
        var row = m.Select(0, 1);                 // m[1]       → [4, 5, 6, 7], a view
        var cols = m.Slice(1, 1, 3);              // m[:, 1:3]  → [3, 2], a view
        row.Fill_(-1);                            // writes through: m[1] is now -1 everywhere
        #endregion
        #pragma warning disable SG2005 // the test checks the runtime's error for this very misuse
        var ex = Assert.Throws<InvalidOperationException>(() => t.View(-1));
        #pragma warning restore SG2005
        Assert.Contains("View(-1): the tensor of shape [4, 3] with strides [1, 4] is not contiguous", ex.Message);
        Assert.Contains("Use .Reshape(...) instead", ex.Message);
        Assert.Equal(new long[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, flat.ToLongArray());
        Assert.Equal(flat.ToLongArray(), same.ToLongArray());
        Assert.Equal(new long[] { 0, 1, 2, 3, -1, -1, -1, -1, 8, 9, 10, 11 }, m.ToLongArray());
        Assert.Equal(new long[] { 1, 2, -1, -1, 9, 10 }, cols.ToLongArray());
        Assert.Equal(new[] { 3, 2 }, cols.Shape);
    }

    [Fact]
    public void Broadcasting()
    {
        #region doc:broadcasting
        var ones = Tensor.Ones(4, 3);
        var bias = Tensor.FromArray(new float[] { 1, 2, 3 }, 3);
        var col = Tensor.FromArray(new float[] { 10, 20, 30, 40 }, 4, 1);
        var shifted = ones + bias;       // [4, 3] + [3]    → [4, 3]
        var outer = col * bias;          // [4, 1] * [3]    → [4, 3]: outer[i, j] = col[i] · bias[j]
        // ones + Tensor.Ones(4) throws, naming both shapes ([4, 3] and [4]): trailing dims 3 and 4 differ
        #endregion
        Assert.Equal(new float[] { 2, 3, 4, 2, 3, 4, 2, 3, 4, 2, 3, 4 }, shifted.ToArray());
        Assert.Equal(new float[] { 10, 20, 30, 20, 40, 60, 30, 60, 90, 40, 80, 120 }, outer.ToArray());
        var ex = Assert.ThrowsAny<ArgumentException>(() => ones + Tensor.Ones(4));
        Assert.Contains("[4, 3]", ex.Message);
        Assert.Contains("[4]", ex.Message);
    }

    [Fact]
    public void LeavesNonLeavesAndRetainGrad()
    {
        #region doc:autograd-basics
        var w = Tensor.Randn([3], requiresGrad: true);   // a leaf: created by you
        var h = w * 2f;                                  // not a leaf: h.GradFn is MulBackward
        h.RetainGrad();                                  // keep h.Grad (non-leaves do not keep it otherwise)
        var loss = h.Pow(2).Sum();                       // Backward() needs a scalar
        loss.Backward();
        // w.Grad = d(Σ 4w²)/dw = 8w;  h.Grad = 2h;  loss.Grad stays null (not a leaf, not retained)
        #endregion
        Assert.True(w.IsLeaf);
        Assert.False(h.IsLeaf);
        Assert.Equal("MulBackward", h.GradFn!.Name);
        TensorAssert.Close(w * 8f, w.Grad!, 1e-6, 1e-6, "w.Grad");
        TensorAssert.Close(h * 2f, h.Grad!, 1e-6, 1e-6, "h.Grad");
        #pragma warning disable SG2002 // the test checks that a non-leaf keeps no gradient
        Assert.Null(loss.Grad);
        #pragma warning restore SG2002
    }

    [Fact]
    public void NonScalarBackward()
    {
        #region doc:non-scalar
        var v = Tensor.Randn([3], requiresGrad: true);
        var squares = v * v;
        // squares.Backward() throws: "Backward() needs a scalar, but the tensor has shape [3] (3 elements): … Reduce it
        // with .Sum() or .Mean(), or pass gradient: with the same shape."
        squares.Backward(Tensor.Ones(3));      // the same as squares.Sum().Backward(): v.Grad = 2v
        #endregion
        TensorAssert.Close(v * 2f, v.Grad!, 1e-6, 1e-6, "v.Grad");
        #pragma warning disable SG2001 // the test checks the runtime's error for this very misuse
        var ex = Assert.Throws<InvalidOperationException>(() => (v * v).Backward());
        #pragma warning restore SG2001
        Assert.Contains("Backward() needs a scalar, but the tensor has shape [3] (3 elements)", ex.Message);
    }

    [Fact]
    public void RetainGraphAndAccumulation()
    {
        #region doc:retain-graph
        var p = Tensor.FromArray(new float[] { 1, 2 }, 2).RequiresGrad_();
        var q = (p * p).Sum();
        q.Backward(retainGraph: true);    // p.Grad = [2, 4]
        q.Backward();                     // gradients add up: p.Grad = [4, 8]
        // A third q.Backward() throws: the graph's saved tensors were freed (the message names retainGraph: true).
        p.Grad!.Zero_();                  // or optimizer.ZeroGrad() / model.ZeroGrad(), which set .Grad to null
        #endregion
        Assert.Equal(new float[] { 0, 0 }, p.Grad!.ToArray());
        var ex = Assert.Throws<InvalidOperationException>(() => q.Backward());
        Assert.Contains("retainGraph: true", ex.Message);

        var p2 = Tensor.FromArray(new float[] { 1, 2 }, 2).RequiresGrad_();
        var q2 = (p2 * p2).Sum();
        q2.Backward(retainGraph: true);
        Assert.Equal(new float[] { 2, 4 }, p2.Grad!.ToArray());
        q2.Backward();
        Assert.Equal(new float[] { 4, 8 }, p2.Grad!.ToArray());
    }

    [Fact]
    public void NoGradAndDetach()
    {
        #region doc:no-grad
        var wt = Tensor.Randn([2, 2], requiresGrad: true);
        Tensor frozen;
        using (Autograd.NoGrad())
        {
            frozen = wt * 2f;             // nothing recorded: frozen.RequiresGrad is false, frozen.GradFn null
        }
        var cut = (wt * 2f).Detach();     // the same values, cut from the graph (shares the storage)
        #endregion
        Assert.False(frozen.RequiresGrad);
        Assert.Null(frozen.GradFn);
        Assert.False(cut.RequiresGrad);
        Assert.True(cut.IsLeaf);
        TensorAssert.Close(frozen, cut, 0, 0, "detached values");
    }

    [Fact]
    public void InPlaceVersionChecks()
    {
        #region doc:in-place
        var a0 = Tensor.Randn([3], requiresGrad: true);
        var e = a0.Exp();                 // ExpBackward saves its result e
        e.Add_(1f);                       // changes e in place: its version goes from 0 to 1
        // e.Sum().Backward() now throws, naming ExpBackward: a tensor it saved was modified by an in-place operation.
        // a0.Add_(1f) throws outside NoGrad: a leaf that requires grad cannot be changed in place.
        using (Autograd.NoGrad()) a0.Add_(1f);   // allowed: this is how optimizers update parameters
        #endregion
        var ex = Assert.Throws<InvalidOperationException>(() => e.Sum().Backward());
        Assert.Contains("ExpBackward", ex.Message);
        Assert.Contains("in-place", ex.Message);
        var leaf = Assert.Throws<InvalidOperationException>(() => a0.Add_(1f));
        Assert.Contains("leaf", leaf.Message);
    }

    [Fact]
    public void HigherOrderGradients()
    {
        #region doc:autograd-grad
        var xg = Tensor.FromArray(new double[] { 2.0 }, 1).RequiresGrad_();
        var yg = xg.Pow(3).Sum();                                  // y = x³
        var dy = Autograd.Grad(yg, xg, createGraph: true);         // 3x² = 12, itself differentiable
        var d2y = Autograd.Grad(dy.Sum(), xg);                     // 6x = 12
        // Autograd.Grad returns the gradients instead of accumulating them into xg.Grad, which stays null.
        #endregion
        Assert.Equal(12.0, dy.ToDoubleArray()[0], 9);
        Assert.Equal(12.0, d2y.ToDoubleArray()[0], 9);
        Assert.Null(xg.Grad);
    }

    [Fact]
    public void TensorHooks()
    {
        #region doc:tensor-hooks
        var th = Tensor.Randn([3], requiresGrad: true);
        using var doubling = th.RegisterHook(g => g * 2f);          // returns a replacement gradient
        var seen = new List<float[]>();
        var spy = th.RegisterHook(g => seen.Add(g.ToArray()));     // only looks
        (th * 3f).Sum().Backward();                                 // th.Grad = 2 · 3 = 6 everywhere
        spy.Dispose();                                              // removes that hook
        #endregion
        Assert.Equal(new float[] { 6, 6, 6 }, th.Grad!.ToArray());
        Assert.Single(seen);
        th.Grad = null;
        (th * 3f).Sum().Backward();
        Assert.Single(seen);                                        // the disposed hook no longer runs
        Assert.Equal(new float[] { 6, 6, 6 }, th.Grad!.ToArray()); // the other one still does
    }

    [Fact]
    public void ModuleHooks()
    {
        Rng.ManualSeed(5);
        #pragma warning disable SG2009 // the guide shows PyTorch's run-time Sequential on purpose
        #region doc:module-hooks
        var net = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
        var log = new List<string>();
        using var pre = net[0].RegisterForwardPreHook((m, inputs) => log.Add($"pre: {inputs[0].Size(1)} features in"));
        using var post = net[1].RegisterForwardHook((m, inputs, output) => log.Add($"relu: mean {output.Mean().Item():F3}"));
        using var back = net[2].RegisterFullBackwardHook((m, gradInputs, gradOutputs) => log.Add($"fc2: |grad_output| {gradOutputs[0]!.Pow(2).Sum().Sqrt().Item():F3}"));
        net.Call(Tensor.Randn([5, 4])).Sum().Backward();
        // log: "pre: 4 features in", "relu: mean …", "fc2: |grad_output| 3.162" (√10: the gradient of a Sum is all ones)
        #endregion
        #pragma warning restore SG2009
        Assert.Equal(3, log.Count);
        Assert.Equal("pre: 4 features in", log[0]);
        Assert.StartsWith("relu: mean ", log[1]);
        Assert.Equal("fc2: |grad_output| 3.162", log[2]);
        pre.Dispose();
        net.Call(Tensor.Randn([5, 4]));
        Assert.Equal(4, log.Count);                   // the disposed pre-hook did not run; the forward hook did
        Assert.StartsWith("relu", log[3]);
    }

    [Fact]
    public void FourWaysToBuildANetwork()
    {
        var input = Tensor.Randn([2, 4]);
        #pragma warning disable SG2009 // the guide shows PyTorch's run-time Sequential on purpose
        #region doc:runtime-sequential
        var seq = new Sequential(new Linear(4, 16), new ReLU(), new Linear(16, 3));    // children "0", "1", "2"
        var named = new Sequential(("fc1", new Linear(4, 16)), ("relu", new ReLU()));  // nn.Sequential(OrderedDict(…))
        named.Add("fc2", new Linear(16, 3));                                           // add_module("fc2", …)
        var blocks = new ModuleList<Linear>(new Linear(8, 8), new Linear(8, 8));       // nn.ModuleList
        #endregion
        #pragma warning restore SG2009
        Assert.Equal(new[] { "0.weight", "0.bias", "2.weight", "2.bias" }, seq.NamedParameters().Select(p => p.Name));
        Assert.Equal(new[] { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }, named.NamedParameters().Select(p => p.Name));
        Assert.Equal(new[] { "0.weight", "0.bias", "1.weight", "1.bias" }, blocks.NamedParameters().Select(p => p.Name));
        #pragma warning disable SG2008 // the test checks the output shape; no backward is needed
        Assert.Equal(new[] { 2, 3 }, named.Forward(input).Shape);
        #pragma warning restore SG2008

        var classifier = new Classifier();
        Assert.Equal(new[] { "hidden.weight", "hidden.bias", "output.weight", "output.bias" }, classifier.NamedParameters().Select(p => p.Name));
        #pragma warning disable SG2008 // the test checks the output shape; no backward is needed
        Assert.Equal(new[] { 2, 3 }, classifier.Forward(input).Shape);
        #pragma warning restore SG2008

        var features = new Features();
        Assert.Equal(new[] { "fc1", "relu1", "fc2", "act2" }, features.NamedChildren().Select(c => c.Name));
        using (Autograd.NoGrad())
        {
            var children = features.Children().ToArray();
            var h = input;
            foreach (var child in children) h = child.Call(h);
            TensorAssert.Close(h, features.Forward(input), 0, 0, "[Sequential] Forward = children in declaration order");
        }

        var tower = new Tower();
        Assert.Equal(new[] { "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias" },
            tower.NamedParameters().Select(p => p.Name));
        // As the guide says, the foreach is unrolled at build time: the compiled program gives the eager result.
        var towerInput = Tensor.Randn([4, 8]);
        using (Autograd.NoGrad())
            TensorAssert.Close(tower.Forward(towerInput), tower.Compile().Forward(towerInput), 1e-5, 1e-6, "Tower compiled vs eager");
    }

    [Fact]
    public void ParameterNamesAndStateDicts()
    {
        #region doc:state-dict
        var model = new WithBody();
        var names = model.NamedParameters().Select(p => p.Name).ToArray();
        // body.fc1.weight, body.fc1.bias, body.fc2.weight, body.fc2.bias
        var state = model.StateDict();                       // parameters and buffers, in order, PyTorch's names
        var bnKeys = new BatchNorm1d(3).StateDict().Keys;    // weight, bias, running_mean, running_var, num_batches_tracked

        new WithBody().LoadStateDict(state);                 // strict: any missing/unexpected key or shape throws, listing all
        var report = new Classifier().LoadStateDict(state, strict: false);
        // report.MissingKeys: hidden.weight, …; report.UnexpectedKeys: body.fc1.weight, …
        #endregion
        Assert.Equal(new[] { "body.fc1.weight", "body.fc1.bias", "body.fc2.weight", "body.fc2.bias" }, names);
        Assert.Equal(names, state.Keys);
        Assert.Equal(new[] { "weight", "bias", "running_mean", "running_var", "num_batches_tracked" }, bnKeys);
        Assert.Equal(new[] { "hidden.weight", "hidden.bias", "output.weight", "output.bias" }, report.MissingKeys);
        Assert.Equal(names, report.UnexpectedKeys);
        var ex = Assert.ThrowsAny<ArgumentException>(() => new Classifier().LoadStateDict(state));
        Assert.Contains("hidden.weight", ex.Message);
        Assert.Contains("body.fc1.weight", ex.Message);
    }

    [Fact]
    public void Initialisation()
    {
        #pragma warning disable SG2009 // the guide shows PyTorch's run-time Sequential on purpose
        #region doc:init
        var layer = new Linear(64, 32);               // PyTorch's default: kaiming-uniform (a = √5), bias ±1/√fan_in
        Init.XavierUniform(layer.Weight);             // nn.init.xavier_uniform_ (in place, no autograd)
        Init.Zeros(layer.Bias!);
        var mlp = new Sequential(new Linear(8, 8), new ReLU(), new Linear(8, 1));
        mlp.Apply(m =>
        {
            if (m is Linear l) Init.KaimingNormal(l.Weight, nonlinearity: "relu");
        });
        #endregion
        #pragma warning restore SG2009
        Assert.All(layer.Bias!.ToArray(), b => Assert.Equal(0f, b));
        float bound = MathF.Sqrt(6f / (64 + 32));
        Assert.All(layer.Weight.ToArray(), v => Assert.InRange(v, -bound, bound));
        Assert.True(layer.Weight.IsLeaf && layer.Weight.RequiresGrad);
    }

    [Fact]
    public void LossFunctions()
    {
        #region doc:losses
        var logits = Tensor.Randn([4, 3], requiresGrad: true);
        var target = Tensor.FromArray(new long[] { 0, 2, 1, 2 }, 4);
        var ce = Losses.CrossEntropy(logits, target);                                   // F.cross_entropy
        var smoothed = Losses.CrossEntropy(logits, target, labelSmoothing: 0.1);
        var perSample = Losses.CrossEntropy(logits, target, reduction: Reduction.None); // shape [4]
        var criterion = new CrossEntropyLoss();                                         // nn.CrossEntropyLoss()
        var same = criterion.Forward(logits, target);
        #endregion
        // Naive reference: mean over rows of logsumexp(row) − row[target].
        var l = logits.ToArray();
        var tgt = target.ToLongArray();
        double sum = 0;
        var rows = new double[4];
        for (int i = 0; i < 4; i++)
        {
            double max = Math.Max(l[3 * i], Math.Max(l[3 * i + 1], l[3 * i + 2]));
            double lse = max + Math.Log(Math.Exp(l[3 * i] - max) + Math.Exp(l[3 * i + 1] - max) + Math.Exp(l[3 * i + 2] - max));
            rows[i] = lse - l[3 * i + tgt[i]];
            sum += rows[i];
        }
        Assert.Equal(sum / 4, ce.Item(), 1e-5);
        Assert.Equal(ce.Item(), same.Item());
        Assert.Equal(new[] { 4 }, perSample.Shape);
        TensorAssert.Close(rows, perSample.ToDoubleArray(), 1e-5, 1e-6, "per-sample loss");
        Assert.NotEqual(ce.Item(), smoothed.Item());
    }

    [Fact]
    public void OptimizersAndSchedulers()
    {
        #region doc:optimizers
        var clf = new Classifier();
        var opt = new Sgd(clf.Parameters(), lr: 0.1, momentum: 0.9, weightDecay: 1e-4);
        var schedule = new StepLR(opt, stepSize: 10, gamma: 0.5);
        for (int epoch = 0; epoch < 20; epoch++)
        {
            // for each batch: opt.ZeroGrad(); loss.Backward(); opt.Step();
            schedule.Step();
        }
        double lr = opt.ParamGroups[0].Lr;            // 0.1 · 0.5² = 0.025
        #endregion
        Assert.Equal(0.025, lr, 12);

        // One SGD step by hand: p ← p − lr · (grad + weightDecay · p) on the first step (the momentum buffer is the gradient).
        var p = Tensor.FromArray(new float[] { 1, -2 }, 2).RequiresGrad_();
        var sgd = new Sgd([p], lr: 0.1, momentum: 0.9, weightDecay: 1e-4);
        (p * p).Sum().Backward();
        sgd.Step();
        Assert.Equal(1 - 0.1f * (2 + 1e-4f), p.ToArray()[0], 1e-6f);
        Assert.Equal(-2 - 0.1f * (-4 - 2e-4f), p.ToArray()[1], 1e-6f);
    }

    [Fact]
    public void SaveAndLoad()
    {
        var ptPath = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch", "net3_state_dict.pt");
        var modelPath = Path.Combine(Path.GetTempPath(), "net3-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            #pragma warning disable SG2009 // the guide shows PyTorch's run-time Sequential on purpose
            #region doc:save-load-guide
            var net3 = new Sequential(new Linear(1, 10), new ReLU(), new Linear(10, 1));
            var fromPyTorch = StateDict.Load(ptPath);          // torch.save(model.state_dict(), "net3_state_dict.pt")
            net3.LoadStateDict(fromPyTorch);                   // keys 0.weight, 0.bias, 2.weight, 2.bias
            net3.Save(modelPath);                              // safetensors, with the architecture in its metadata
            var again = Module.Load<Sequential>(modelPath);    // rebuilt: Linear, ReLU, Linear, with the weights
            #endregion
            #pragma warning restore SG2009
            var fixture = SafeTensorsFile.Load("models.safetensors");
            using (Autograd.NoGrad())
            {
                TensorAssert.Close(fixture["net3.pred"], net3.Forward(fixture["net3.x"]), 1e-5, 1e-6, "PyTorch's predictions");
                TensorAssert.Close(net3.Forward(fixture["net3.x"]), again.Forward(fixture["net3.x"]), 0, 0, "reloaded");
            }
            Assert.Equal(3, again.Count);
            Assert.IsType<ReLU>(again[1]);
        }
        finally
        {
            File.Delete(modelPath);
        }
    }

    [Fact]
    public void DataLoaders()
    {
        #region doc:data
        var features = Tensor.Randn([100, 4]);
        var classes = Tensor.RandInt(0, 3, [100]);
        var loader = new DataLoader(new TensorDataset(features, classes), batchSize: 32, shuffle: true, seed: 0);
        var sizes = new List<int>();
        foreach (var (xb, yb) in loader)           // xb: [32, 4] (the last batch [4, 4]); yb: [32], Int64
            sizes.Add(xb.Size(0));
        // sizes: 32, 32, 32, 4; dropLast: true would drop the last one

        var computed = new DataLoader(new Doubling(10), batchSize: 5);   // any IDataset<Tensor[]>; items are stacked
        var (first, doubled) = computed.First();                        // [5, 1] and [5, 1]
        #endregion
        Assert.Equal(new[] { 32, 32, 32, 4 }, sizes);
        Assert.Equal(4, loader.Count);
        Assert.Equal(new float[] { 0, 0.1f, 0.2f, 0.3f, 0.4f }, first.ToArray());
        TensorAssert.Close(first * 2f, doubled, 1e-6, 0, "Doubling");
        Assert.Equal(new[] { 5, 1 }, first.Shape);
        // Every sample once per epoch.
        var seen = new List<float>();
        foreach (var (xb, _) in loader) seen.AddRange(xb.Select(1, 0).ToArray());
        Assert.Equal(features.Select(1, 0).ToArray().OrderBy(v => v), seen.OrderBy(v => v));
    }

    [Fact]
    public void TrainAndEval()
    {
        var batch = Tensor.Randn([8, 4]);
        #region doc:train-eval
        var clf = new Classifier();
        clf.Eval();                                   // Dropout off, BatchNorm on running statistics
        using (Autograd.NoGrad())
        {
            var first = clf.Forward(batch);
            var second = clf.Forward(batch);          // identical: nothing random in eval mode
        }
        clf.Train();                                  // back to training mode: Dropout zeroes 20 % of the hidden units
        #endregion
        Assert.True(clf.Training);
        clf.Eval();
        Assert.False(clf.Training);
        Assert.All(clf.Modules(), m => Assert.False(m.Training));
        using (Autograd.NoGrad())
            TensorAssert.Close(clf.Forward(batch), clf.Forward(batch), 0, 0, "eval forward");
    }

    [Fact]
    public void Compile()
    {
        Rng.ManualSeed(2);
        #region doc:compile-guide
        var mlp = new Mlp();
        var compiled = mlp.Compile();                 // Mlp.Compiled, written by the generator at build time
        var xs = Tensor.Randn([8, 784]);
        var eagerOut = mlp.Forward(xs);               // op by op: one tape node per Linear and ReLU
        var compiledOut = compiled.Forward(xs);       // the same values; one node on the tape
        // compiled.Forward(Tensor.Randn([8, 100])) throws, naming the declared shape [N, 784] and the actual one
        #endregion
        TensorAssert.Close(eagerOut, compiledOut, 1e-4, 1e-5, "compiled vs eager"); // float32 sums in another order
        Assert.NotNull(compiledOut.GradFn);
        Assert.All(compiledOut.GradFn!.NextFunctions, Assert.Null);  // its inputs are leaves: x and the four parameters
        Assert.NotNull(eagerOut.GradFn!.NextFunctions.FirstOrDefault(f => f is not null));
        var ex = Assert.ThrowsAny<ArgumentException>(() => compiled.Forward(Tensor.Randn([8, 100])));
        Assert.Contains("784", ex.Message);
    }

    [Fact]
    public void DecoderStackCompiles()
    {
        int l = 5, s = 7, n = 3;
        var tgt = Tensor.Randn([l, n, 64], rng: new Rng(1));
        var memory = Tensor.Randn([s, n, 64], rng: new Rng(2));
        #region doc:decoder-compile
        var layer = new TransformerDecoderLayer(64, 4, 128, dropout: 0.0, normFirst: true);   // batchFirst: false
        var decoder = new TransformerDecoder(layer, 2, new LayerNorm(64));
        var y = decoder.Compile().Forward(tgt, memory, tgtMask: Transformer.GenerateSquareSubsequentMask(l));
        #endregion
        var eager = decoder.Forward(tgt, memory, tgtMask: Transformer.GenerateSquareSubsequentMask(l));
        Assert.Equal([l, n, 64], y.Shape.ToArray());
        TensorAssert.Close(eager, y, 1e-4, 1e-5, "compiled decoder vs eager");
    }
}
