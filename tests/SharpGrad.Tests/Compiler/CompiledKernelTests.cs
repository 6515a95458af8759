using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// The float[] entry points compiled code calls besides the shared kernels (<see cref="CompiledSupport"/>'s glue for
/// layers with state, pooling geometry, permutation, losses against a target tensor, dropout masks, hooks), each against
/// the eager op and its autograd gradient on random float32 data. (The ops both modes compute with one kernel are
/// checked model by model in <c>CatalogueTests</c>.) Gradient outputs accumulate, so every gradient array starts filled with
/// ones and must end as ones + the eager gradient. Tolerance 1e-5 relative (1e-4 where float32 sums of many terms in a
/// different order, or statistics, are involved — said at each use).
/// </summary>
[Collection(AllocationCollection.Name)]
public class CompiledKernelTests
{
    private static Tensor Randn(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float32, rng: new Rng(seed));

    private static float[] Ones(int n)
    {
        var a = new float[n];
        Array.Fill(a, 1f);
        return a;
    }

    private static float[] PlusOne(Tensor? grad, int n)
    {
        var g = grad is null ? new float[n] : grad.ToArray();
        Assert.Equal(n, g.Length);
        for (int i = 0; i < n; i++) g[i] += 1f;
        return g;
    }

    private static void Close(float[] expected, float[] actual, string what, double rtol = 1e-5, double atol = 1e-6)
        => TensorAssert.Close(expected, actual, rtol, atol, what);

    // ------------------------------------------------------------------ broadcasting

    [Fact]
    public void BinaryRejectsShapesThatDoNotBroadcast()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            SharpGrad.Kernels.Broadcast.Forward<SharpGrad.Kernels.AddOp>(new float[6], [2, 3], new float[4], [4], new float[6], [2, 3]));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[4]", ex.Message);
    }

    // ------------------------------------------------------------------ permute

    [Theory]
    [InlineData(new[] { 2, 3, 4 }, new[] { 2, 0, 1 })]
    [InlineData(new[] { 3, 1, 5 }, new[] { 1, 2, 0 })]
    [InlineData(new[] { 17 }, new[] { 0 })]
    [InlineData(new[] { 2, 3, 4, 5 }, new[] { 0, 2, 3, 1 })]
    [InlineData(new[] { 7, 9 }, new[] { 1, 0 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 0, 1, 2 })]
    public void PermuteMatchesEager(int[] shape, int[] perm)
    {
        var x = Randn(3, shape).RequiresGrad_();
        var y = x.Permute(perm).Contiguous();
        var seed = Randn(4, y.Shape);
        (y * seed).Sum().Backward();

        var cy = new float[x.NumElements];
        CompiledSupport.PermuteForward(x.ToArray(), shape, perm, cy);
        Close(y.ToArray(), cy, "permute forward", rtol: 0, atol: 0);
        var gx = Ones(x.NumElements);
        CompiledSupport.PermuteBackward(seed.ToArray(), shape, perm, gx);
        Close(PlusOne(x.Grad, gx.Length), gx, "permute gradient");
    }

    // ------------------------------------------------------------------ BatchNorm

    private static void CopyState(Module from, Module to)
    {
        using (Autograd.NoGrad())
        {
            var src = from.NamedParameters().Concat(from.NamedBuffers()).ToDictionary(p => p.Name, p => p.Value);
            foreach (var (name, t) in to.NamedParameters().Concat(to.NamedBuffers())) t.Copy_(src[name]);
        }
    }

    private static BatchNormBase MakeBn(bool twoD, int c, double? momentum, bool affine, bool track)
        => twoD ? new BatchNorm2d(c, momentum: momentum, affine: affine, trackRunningStats: track)
                : new BatchNorm1d(c, momentum: momentum, affine: affine, trackRunningStats: track);

    [Theory]
    [InlineData(false, 8, 3, 1, 0.1, true, true, true)]     // BatchNorm1d [N, C], training
    [InlineData(false, 8, 3, 1, 0.1, true, true, false)]    // BatchNorm1d [N, C], eval
    [InlineData(true, 4, 3, 5, 0.1, true, true, true)]      // BatchNorm2d [N, C, H, W], training
    [InlineData(true, 4, 3, 5, 0.1, true, true, false)]     // BatchNorm2d, eval
    [InlineData(true, 2, 17, 6, -1.0, true, true, true)]    // momentum null: cumulative average
    [InlineData(true, 3, 2, 4, 0.3, false, true, true)]     // no affine
    [InlineData(false, 5, 63, 1, 0.1, true, false, true)]   // no running stats, training
    [InlineData(false, 5, 3, 1, 0.1, true, false, false)]   // no running stats, eval: batch statistics
    public void BatchNormMatchesEager(bool twoD, int n, int c, int hw, double momentum, bool affine, bool track, bool training)
    {
        double? mom = momentum < 0 ? null : momentum;
        var eager = MakeBn(twoD, c, mom, affine, track);
        var compiled = MakeBn(twoD, c, mom, affine, track);
        if (affine)
        {
            using (Autograd.NoGrad())
            {
                eager.Weight!.Copy_(Randn(50, c) * 0.5f + 1f);
                eager.Bias!.Copy_(Randn(51, c));
            }
        }
        int[] shape = twoD ? [n, c, hw / 2 + 1, 2 - hw % 2] : [n, c];
        int l = twoD ? shape[2] * shape[3] : 1;
        int count = n * c * l;
        // A few training steps so the running statistics are not the initial 0 / 1.
        for (int step = 0; step < 2; step++)
        {
            using (Autograd.NoGrad()) eager.Forward(Randn(60 + step, shape) * 2f + 0.5f);
        }
        CopyState(eager, compiled);
        eager.Train(training);
        compiled.Train(training);

        var xv = (Randn(70, shape) * 1.5f + 0.3f).ToArray();
        var x = Tensor.FromArray((float[])xv.Clone(), shape).RequiresGrad_();
        var y = eager.Forward(x);
        var seed = Randn(71, shape);
        y.Backward(seed);

        var cy = new float[count];
        var mean = new float[c];
        var invstd = new float[c];
        CompiledSupport.BatchNormForward(compiled, xv, cy, n, c, l, mean, invstd);
        // 1e-4: batch statistics are float32 sums in another order.
        Close(y.ToArray(), cy, "batchnorm forward", rtol: 1e-4, atol: 1e-5);
        foreach (var (name, expected) in eager.NamedBuffers())
        {
            var actual = compiled.NamedBuffers().Single(b => b.Name == name).Value;
            TensorAssert.Close(expected, actual, 1e-5, 1e-6, $"buffer {name}");
        }

        var gx = Ones(count);
        var gw = affine ? Ones(c) : null;
        var gb = affine ? Ones(c) : null;
        CompiledSupport.BatchNormBackward(compiled, xv, seed.ToArray(), gx, mean, invstd, gw, gb, n, c, l, training);
        Close(PlusOne(x.Grad, count), gx, "batchnorm grad input", rtol: 1e-4, atol: 1e-4);
        if (affine)
        {
            Close(PlusOne(eager.Weight!.Grad, c), gw!, "batchnorm grad weight", rtol: 1e-4, atol: 1e-5);
            Close(PlusOne(eager.Bias!.Grad, c), gb!, "batchnorm grad bias", rtol: 1e-4, atol: 1e-5);
        }
    }

    [Fact]
    public void BatchNormRejectsOneValuePerChannelInTraining()
    {
        var bn = new BatchNorm1d(3);
        var eagerMessage = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(1, 3))).Message;
        var ex = Assert.Throws<ArgumentException>(() => CompiledSupport.BatchNormForward(new BatchNorm1d(3), new float[3], new float[3], 1, 3, 1, new float[3], new float[3]));
        Assert.Equal(eagerMessage, ex.Message);
    }

    // ------------------------------------------------------------------ LayerNorm

    [Theory]
    [InlineData(new[] { 3, 17 }, 1, true, true)]
    [InlineData(new[] { 1, 63 }, 1, true, false)]
    [InlineData(new[] { 2, 3, 4 }, 2, true, true)]
    [InlineData(new[] { 5, 3 }, 1, false, false)]
    public void LayerNormMatchesEager(int[] shape, int normDims, bool affine, bool bias)
    {
        var ns = shape[^normDims..];
        var layer = new LayerNorm(ns, elementwiseAffine: affine, bias: bias);
        if (affine)
        {
            using (Autograd.NoGrad())
            {
                layer.Weight!.Copy_(Randn(80, ns) * 0.5f + 1f);
                layer.Bias?.Copy_(Randn(81, ns));
            }
        }
        int cols = ns.Aggregate(1, (p, d) => p * d), count = shape.Aggregate(1, (p, d) => p * d), rows = count / cols;
        var xv = (Randn(82, shape) * 2f + 1f).ToArray();
        var x = Tensor.FromArray((float[])xv.Clone(), shape).RequiresGrad_();
        var y = layer.Forward(x);
        var seed = Randn(83, shape);
        y.Backward(seed);

        var cy = new float[count];
        var mean = new float[rows];
        var invstd = new float[rows];
        CompiledSupport.LayerNormForward(layer, xv, cy, rows, cols, mean, invstd);
        Close(y.ToArray(), cy, "layernorm forward", rtol: 1e-4, atol: 1e-5);
        var gx = Ones(count);
        var gw = affine ? Ones(cols) : null;
        var gb = bias && affine ? Ones(cols) : null;
        CompiledSupport.LayerNormBackward(layer, xv, seed.ToArray(), gx, mean, invstd, gw, gb, rows, cols);
        Close(PlusOne(x.Grad, count), gx, "layernorm grad input", rtol: 1e-4, atol: 1e-4);
        if (gw is not null) Close(PlusOne(layer.Weight!.Grad, cols), gw, "layernorm grad weight", rtol: 1e-4, atol: 1e-5);
        if (gb is not null) Close(PlusOne(layer.Bias!.Grad, cols), gb, "layernorm grad bias", rtol: 1e-4, atol: 1e-5);
    }

    // ------------------------------------------------------------------ Embedding

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(false, 2)]
    [InlineData(true, 4)]
    public void EmbeddingMatchesEager(bool transposedIndices, int? paddingIdx)
    {
        var layer = new Embedding(6, 5, paddingIdx, rng: new Rng(1));
        var raw = Tensor.FromArray(new long[] { 0, 2, 4, 5, 2, 1, 4, 4, 3, 0, 2, 5 }, 3, 4);
        var indices = transposedIndices ? raw.Transpose(0, 1) : raw;
        Assert.Equal(!transposedIndices, indices.IsContiguous);
        int count = indices.NumElements, dim = 5;
        var y = layer.Forward(indices);
        var seed = Randn(90, y.Shape);
        y.Backward(seed);

        var cy = new float[count * dim];
        CompiledSupport.EmbeddingForward(layer, indices, cy, count, dim);
        Close(y.ToArray(), cy, "embedding forward", rtol: 0, atol: 0);
        var gw = Ones(6 * dim);
        CompiledSupport.EmbeddingBackward(layer, indices, seed.ToArray(), gw, count, dim);
        Close(PlusOne(layer.Weight.Grad, 6 * dim), gw, "embedding grad weight");
        if (paddingIdx is int p)
        {
            for (int k = 0; k < dim; k++) Assert.Equal(1f, gw[p * dim + k]);
        }
    }

    [Fact]
    public void EmbeddingOutOfRangeThrowsEagersError()
    {
        var layer = new Embedding(4, 3);
        var indices = Tensor.FromArray(new long[] { 1, 7 }, 2);
        var eagerMessage = Assert.Throws<ArgumentException>(() => layer.Forward(indices)).Message;
        var ex = Assert.Throws<ArgumentException>(() => CompiledSupport.EmbeddingForward(layer, indices, new float[6], 2, 3));
        Assert.Equal(eagerMessage, ex.Message);
    }

    // ------------------------------------------------------------------ Dropout

    [Theory]
    [InlineData(0.5, 63)]
    [InlineData(0.2, 17)]
    [InlineData(0.9, 1)]
    [InlineData(0.0, 3)]
    [InlineData(1.0, 3)]
    public void DropoutMaskEqualsEagerMaskForTheSameRng(double p, int n)
    {
        var eagerRng = new Rng(42);
        var compiledRng = new Rng(42);
        var referenceRng = new Rng(42);
        var eagerMask = Functional.Dropout(Tensor.Ones(n), p, training: true, rng: eagerRng).ToArray();
        var mask = new float[n];
        SharpGrad.Kernels.DropoutKernel.Mask(mask, n, p, compiledRng);
        Assert.Equal(eagerMask, mask);
        // Independent reference: one uniform float per element, kept (scaled by 1/(1-p)) when >= p; none drawn for p = 0 or 1.
        for (int i = 0; i < n; i++)
        {
            float expected = p == 0 ? 1f : p == 1 ? 0f : referenceRng.NextFloat() >= p ? (float)(1 / (1 - p)) : 0f;
            Assert.Equal(expected, mask[i]);
        }
        // The streams stay in step afterwards.
        ulong next = referenceRng.NextUInt64();
        Assert.Equal(next, eagerRng.NextUInt64());
        Assert.Equal(next, compiledRng.NextUInt64());
    }

    // ------------------------------------------------------------------ losses

    [Theory]
    [InlineData(1, Reduction.Mean, -100L, false)]
    [InlineData(3, Reduction.Sum, -100L, false)]
    [InlineData(17, Reduction.Mean, 2L, false)]
    [InlineData(63, Reduction.Mean, -100L, true)]
    [InlineData(17, Reduction.Sum, 1L, true)]
    public void CrossEntropyAndNllMatchEager(int n, Reduction reduction, long ignoreIndex, bool stridedTarget)
    {
        const int classes = 5;
        var rng = new Rng(n);
        var tv = new long[n];
        for (int i = 0; i < n; i++) tv[i] = rng.NextInt(classes);
        if (n > 1) tv[1] = ignoreIndex; // one ignored target
        Tensor target;
        if (stridedTarget)
        {
            var wide = new long[2 * n];
            for (int i = 0; i < n; i++) wide[2 * i] = tv[i];
            target = Tensor.FromArray(wide, n, 2).Select(1, 0);
            Assert.False(target.IsContiguous);
        }
        else target = Tensor.FromArray(tv, n);

        var xv = (Randn(n + 100, n, classes) * 2f).ToArray();
        var x = Tensor.FromArray((float[])xv.Clone(), n, classes).RequiresGrad_();
        var loss = Losses.CrossEntropy(x, target, ignoreIndex: ignoreIndex, reduction: reduction);
        loss.Backward(Tensor.Scalar(0.7f));

        var probs = new float[n * classes];
        float cl = SharpGrad.Kernels.ClassIndexLoss.Forward(xv, target, probs, n, classes, reduction, ignoreIndex, logSoftmax: true);
        Close([loss.Item()], [cl], "cross-entropy loss");
        TensorAssert.Close(Functional.LogSoftmax(Tensor.FromArray(xv, n, classes), 1).ToArray(), probs, 1e-5, 1e-6, "log-probabilities");
        var gx = Ones(n * classes);
        SharpGrad.Kernels.ClassIndexLoss.Backward(probs, target, 0.7f, gx, n, classes, reduction, ignoreIndex, logSoftmax: true);
        Close(PlusOne(x.Grad, n * classes), gx, "cross-entropy gradient");

        var logp = Functional.LogSoftmax(Tensor.FromArray(xv, n, classes), 1).Detach().RequiresGrad_();
        var nll = Losses.Nll(logp, target, ignoreIndex: ignoreIndex, reduction: reduction);
        nll.Backward(Tensor.Scalar(0.7f));
        var lp = logp.ToArray();
        float cn = SharpGrad.Kernels.ClassIndexLoss.Forward(lp, target, new float[n * classes], n, classes, reduction, ignoreIndex, logSoftmax: false);
        Close([nll.Item()], [cn], "nll loss");
        var gl = Ones(n * classes);
        SharpGrad.Kernels.ClassIndexLoss.Backward(lp, target, 0.7f, gl, n, classes, reduction, ignoreIndex, logSoftmax: false);
        Close(PlusOne(logp.Grad, n * classes), gl, "nll gradient");
    }

    [Fact]
    public void CrossEntropyValidatesTargetsLikeEager()
    {
        var x = Randn(1, 3, 4);
        var xv = x.ToArray();
        var outOfRange = Tensor.FromArray(new long[] { 0, 4, 1 }, 3);
        var eager = Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(x, outOfRange)).Message;
        var compiled = Assert.Throws<ArgumentException>(() => SharpGrad.Kernels.ClassIndexLoss.Forward(xv, outOfRange, new float[12], 3, 4, Reduction.Mean, -100, logSoftmax: true));
        Assert.Equal(eager, compiled.Message);

        var wrongLength = Tensor.FromArray(new long[] { 0, 1 }, 2);
        eager = Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(x, wrongLength)).Message;
        compiled = Assert.Throws<ArgumentException>(() => SharpGrad.Kernels.ClassIndexLoss.Forward(xv, wrongLength, new float[12], 3, 4, Reduction.Mean, -100, logSoftmax: true));
        Assert.Equal(eager, compiled.Message);
    }

    [Theory]
    [InlineData(1, Reduction.Mean, false)]
    [InlineData(17, Reduction.Sum, false)]
    [InlineData(63, Reduction.Mean, true)]
    public void RegressionLossesMatchEager(int n, Reduction reduction, bool stridedTarget)
    {
        const int f = 3;
        var xv = (Randn(n, n, f) * 2f).ToArray();
        // A non-contiguous target: the transpose of a [f, n] tensor; values in [0, 1] so they also serve BCE.
        var tData = Tensor.Rand([f, n], rng: new Rng(n + 1));
        var target = stridedTarget ? tData.Transpose(0, 1) : tData.Transpose(0, 1).Contiguous();
        var cases = new (string Name, Func<Tensor, Tensor> Eager, Func<float> Fwd, Action<float[]> Bwd)[]
        {
            ("mse", x => Losses.Mse(x, target, reduction), () => SharpGrad.Kernels.ElementwiseLoss.Forward<SharpGrad.Kernels.MseLossOp>(xv, target, n * f, reduction),
                g => SharpGrad.Kernels.ElementwiseLoss.Backward<SharpGrad.Kernels.MseLossOp>(xv, target, 0.7f, g, n * f, reduction)),
            ("l1", x => Losses.L1(x, target, reduction), () => SharpGrad.Kernels.ElementwiseLoss.Forward<SharpGrad.Kernels.L1LossOp>(xv, target, n * f, reduction),
                g => SharpGrad.Kernels.ElementwiseLoss.Backward<SharpGrad.Kernels.L1LossOp>(xv, target, 0.7f, g, n * f, reduction)),
            ("bce", x => Losses.BinaryCrossEntropyWithLogits(x, target, reduction: reduction), () => SharpGrad.Kernels.ElementwiseLoss.Forward<SharpGrad.Kernels.BceWithLogitsLossOp>(xv, target, n * f, reduction),
                g => SharpGrad.Kernels.ElementwiseLoss.Backward<SharpGrad.Kernels.BceWithLogitsLossOp>(xv, target, 0.7f, g, n * f, reduction)),
        };
        foreach (var (name, eagerLoss, fwd, bwd) in cases)
        {
            var x = Tensor.FromArray((float[])xv.Clone(), n, f).RequiresGrad_();
            var loss = eagerLoss(x);
            loss.Backward(Tensor.Scalar(0.7f));
            // 1e-4: the loss is a float32 sum in eager and a double sum here.
            Close([loss.Item()], [fwd()], $"{name} loss", rtol: 1e-4, atol: 1e-6);
            var gx = Ones(n * f);
            bwd(gx);
            Close(PlusOne(x.Grad, n * f), gx, $"{name} gradient");
        }
    }

    // ------------------------------------------------------------------ pooling

    [Theory]
    [InlineData(2, 3, 7, 6, 3, 2, 2, 2, 1, 1, false, true, 0)]
    [InlineData(1, 2, 5, 5, 2, 2, 2, 2, 0, 0, true, true, 0)]
    [InlineData(2, 1, 6, 7, 3, 3, 2, 2, 1, 1, true, false, 0)]
    [InlineData(1, 3, 4, 4, 2, 2, 1, 1, 0, 1, false, true, 3)]
    [InlineData(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, false, true, 0)]
    public void AvgPool2dMatchesEager(int n, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, bool ceil, bool includePad, int divisor)
    {
        var x = Randn(h * w, n, c, h, w).RequiresGrad_();
        var y = Functional.AvgPool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil, includePad, divisor == 0 ? null : divisor);
        var seed = Randn(7, y.Shape);
        y.Backward(seed);
        int ho = y.Shape[2], wo = y.Shape[3];

        var cy = new float[y.NumElements];
        var geometry = new SharpGrad.Kernels.PoolShape(c, h, w, ho, wo, kh, kw, sh, sw, ph, pw, 1, 1, ceil, includePad);
        CompiledSupport.AvgPoolForward(x.ToArray(), cy, n, geometry, divisor);
        Close(y.ToArray(), cy, "avgpool forward");
        var gx = Ones(x.NumElements);
        CompiledSupport.AvgPoolBackward(seed.ToArray(), gx, n, geometry, divisor);
        Close(PlusOne(x.Grad, gx.Length), gx, "avgpool gradient");
    }

    [Theory]
    [InlineData(2, 3, 7, 5, 3, 2)]
    [InlineData(1, 1, 4, 4, 1, 1)]
    [InlineData(1, 2, 5, 3, 5, 3)]
    public void AdaptiveAvgPool2dMatchesEager(int n, int c, int h, int w, int ho, int wo)
    {
        var x = Randn(h + w, n, c, h, w).RequiresGrad_();
        var y = Functional.AdaptiveAvgPool2d(x, (ho, wo));
        var seed = Randn(8, y.Shape);
        y.Backward(seed);
        var cy = new float[y.NumElements];
        var geometry = new SharpGrad.Kernels.PoolShape(c, h, w, ho, wo);
        CompiledSupport.AdaptivePoolForward(x.ToArray(), cy, n, geometry);
        Close(y.ToArray(), cy, "adaptive forward");
        var gx = Ones(x.NumElements);
        CompiledSupport.AdaptivePoolBackward(seed.ToArray(), gx, n, geometry);
        Close(PlusOne(x.Grad, gx.Length), gx, "adaptive gradient");
    }

    // ------------------------------------------------------------------ hooks

    [Fact]
    public void HookWrappersRunTheHooksRegisteredThroughThePublicApi()
    {
        var m = new ReLU();
        Assert.False(CompiledSupport.HasForwardHooks(m));
        Assert.False(CompiledSupport.HasBackwardHooks(m));

        var calls = new List<string>();
        var x = Tensor.FromArray(new float[] { -1, 2 }, 2);
        var observe = m.RegisterForwardPreHook((mod, xs) => { calls.Add("pre-observe"); });
        Assert.True(CompiledSupport.HasForwardHooks(m));
        Assert.False(CompiledSupport.HasBackwardHooks(m));
        Assert.Null(CompiledSupport.RunForwardPreHooks(m, [x]));
        Assert.Equal(new[] { "pre-observe" }, calls);

        using var replacePre = m.RegisterForwardPreHook((mod, xs) => { calls.Add("pre-replace"); return [xs[0] * 3f]; });
        Tensor[]? seenByThird = null;
        using var third = m.RegisterForwardPreHook((mod, xs) => { seenByThird = xs; return null; });
        var replacedInputs = CompiledSupport.RunForwardPreHooks(m, [x]);
        Assert.NotNull(replacedInputs);
        Assert.Equal(new float[] { -3, 6 }, replacedInputs![0].ToArray());
        Assert.Same(replacedInputs, seenByThird);

        var y = Functional.Relu(replacedInputs[0]);
        Assert.Null(CompiledSupport.RunForwardHooks(m, replacedInputs, y));
        using var post = m.RegisterForwardHook((mod, xs, output) => output + 1f);
        var replacedOutput = CompiledSupport.RunForwardHooks(m, replacedInputs, y);
        Assert.Equal(new float[] { 1, 7 }, replacedOutput!.ToArray());

        observe.Remove();
        Assert.True(CompiledSupport.HasForwardHooks(m));

        var gi = new Tensor?[] { Tensor.FromArray(new float[] { 1, 1 }, 2) };
        var go = new Tensor?[] { Tensor.FromArray(new float[] { 2, 2 }, 2) };
        Assert.Null(CompiledSupport.RunBackwardHooks(m, gi, go));
        Tensor?[]? seenGradOut = null;
        using var b1 = m.RegisterFullBackwardHook((mod, gIn, gOut) => [gIn[0]! * 10f]);
        Assert.True(CompiledSupport.HasBackwardHooks(m));
        Tensor? seenBySecond = null;
        using var b2 = m.RegisterFullBackwardHook((mod, gIn, gOut) => { seenBySecond = gIn[0]; seenGradOut = gOut; });
        var replacedGrads = CompiledSupport.RunBackwardHooks(m, gi, go);
        Assert.Equal(new float[] { 10, 10 }, replacedGrads![0]!.ToArray());
        Assert.Equal(new float[] { 10, 10 }, seenBySecond!.ToArray());
        Assert.Same(go, seenGradOut);
        Assert.Equal(new float[] { 1, 1 }, gi[0]!.ToArray()); // the caller's array is not modified

        b1.Remove();
        b2.Remove();
        Assert.False(CompiledSupport.HasBackwardHooks(m));
    }

    [Fact]
    public void BackwardHookReturningTheWrongCountThrows()
    {
        var m = new ReLU();
        using var h = m.RegisterFullBackwardHook((mod, gIn, gOut) => [null, null]);
        var ex = Assert.Throws<InvalidOperationException>(() => CompiledSupport.RunBackwardHooks(m, [Tensor.Ones(2)], [Tensor.Ones(2)]));
        Assert.Contains("returned 2 gradients", ex.Message);
    }

    // ------------------------------------------------------------------ allocation

    [Fact]
    public void SteadyStateCallsAllocateNothing()
    {
        const int n = 64, classes = 10, c = 4, l = 9;
        var logits = Randn(1, n, classes).ToArray();
        var rng = new Rng(3);
        var tv = new long[n];
        for (int i = 0; i < n; i++) tv[i] = rng.NextInt(classes);
        var target = Tensor.FromArray(tv, n);
        var probs = new float[n * classes];
        var g = new float[n * classes];
        var x = Randn(2, n * classes).ToArray();
        var y = new float[n * classes];
        int[] shape = [n, classes];
        int[] rowShape = [classes];
        var bn = new BatchNorm2d(c);
        var bx = Randn(4, 8 * c * l).ToArray();
        var by = new float[bx.Length];
        var bgx = new float[bx.Length];
        var mean = new float[c];
        var invstd = new float[c];
        var gw = new float[c];
        var gb = new float[c];
        var rowB = Randn(5, classes).ToArray();
        var gRow = new float[classes];
        var input = Tensor.FromArray(logits, n, classes);
        int[] inputDims = [-1, classes];

        void Step()
        {
            float loss = SharpGrad.Kernels.ClassIndexLoss.Forward(logits, target, probs, n, classes, Reduction.Mean, -100, logSoftmax: true);
            SharpGrad.Kernels.ClassIndexLoss.Backward(probs, target, loss, g, n, classes, Reduction.Mean, -100, logSoftmax: true);
            SharpGrad.Kernels.Pointwise.Forward<SharpGrad.Kernels.GeluOp>(x, y, n * classes);
            SharpGrad.Kernels.Pointwise.Backward<SharpGrad.Kernels.GeluOp>(x, y, g, g, n * classes);
            SharpGrad.Kernels.Pointwise.Forward<SharpGrad.Kernels.HardtanhOp>(x, y, n * classes, -0.1, 0.9);
            SharpGrad.Kernels.Pointwise.Backward<SharpGrad.Kernels.HardtanhOp>(x, y, g, g, n * classes, -0.1, 0.9);
            SharpGrad.Kernels.Broadcast.Forward<SharpGrad.Kernels.MulOp>(x, shape, logits, shape, y, shape);
            SharpGrad.Kernels.Broadcast.Backward<SharpGrad.Kernels.MulOp>(x, shape, logits, shape, g, shape, g, probs);
            SharpGrad.Kernels.Broadcast.Forward<SharpGrad.Kernels.AddOp>(x, shape, rowB, rowShape, y, shape);
            SharpGrad.Kernels.Broadcast.Backward<SharpGrad.Kernels.AddOp>(x, shape, rowB, rowShape, g, shape, y, gRow);
            SharpGrad.Kernels.SoftmaxKernel.Forward(x, y, n, classes, 1, log: true);
            SharpGrad.Kernels.SoftmaxKernel.Backward(y, g, probs, n, classes, 1, log: true);
            SharpGrad.Kernels.GluKernel.Forward(x, y, n, classes / 2, 1);
            SharpGrad.Kernels.GluKernel.Backward(x, g, probs, n, classes / 2, 1);
            CompiledSupport.BatchNormForward(bn, bx, by, 8, c, l, mean, invstd);
            CompiledSupport.BatchNormBackward(bn, bx, by, bgx, mean, invstd, gw, gb, 8, c, l, useBatchStats: true);
            CompiledSupport.CheckInput(input, "x", inputDims, "[N, 10]", "Net.Compiled.Forward");
        }

        for (int i = 0; i < 5; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
