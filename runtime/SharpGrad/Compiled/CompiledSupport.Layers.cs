using SharpGrad.Kernels;
using SharpGrad.Layers;

namespace SharpGrad;

// Glue between a compiled program's buffers and the layers' state: binds a layer's parameters and options to the
// arrays the kernels take, then calls the same kernels eager code calls. No arithmetic of its own.
public static partial class CompiledSupport
{
    /// <summary>A Linear layer (PyTorch: <c>F.linear</c>): y = x · weightᵀ + bias by one GEMM, the epilogue fused (bias, ReLU or a residual add).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void LinearForward(float[] x, Tensor weight, Tensor? bias, float[] y, int n, LinearShape shape,
        GemmActivation activation = GemmActivation.None, float[]? residual = null)
    {
        int rows = n * shape.RowsPerItem, inF = shape.InFeatures, outF = shape.OutFeatures;
        var epilogue = new GemmEpilogue(bias is null ? null : Dense(bias), residual: residual, residualLd: residual is null ? 0 : outF, activation: activation);
        var w = Dense(weight);
        // One sample (batch-1 inference): W's packed copy while its version is unchanged (Gemm.Gemv.Packed.cs).
        if (rows == 1 && Gemm.TryLinearRowPacked(weight, x, 0, y, 0, epilogue.ToEpi(), allowParallel: true)) return;
        // An input of mostly exact zeros (MNIST's pixels; after a ReLU, mnist's fc2 input ~25 % nonzero): only its nonzeros'
        // terms (Gemm.ZeroSkip.cs). Below SkipZerosMinMacs only when the dense product is one FMA chain per element, which
        // the skipping chain equals bit for bit (Gemm.DenseLinearForwardIsOneChain: eager's dense forward gives the same bits).
        bool small = Gemm.IsSmallSkipZerosProduct(rows, outF, inF) && Gemm.DenseLinearForwardIsOneChain(rows, inF, outF);
        if (Gemm.TryLinearSkipZeros(x, 0, w, 0, y, 0, rows, inF, outF, epilogue.ToEpi(), allowParallel: true,
                minMacs: small ? Gemm.SmallSkipZerosMinMacs : Gemm.SkipZerosMinMacs)) return;
        Gemm.Sgemm(false, true, rows, outF, inF, 1f, x, 0, inF, w, 0, inF, 0f, y, 0, outF, epilogue);
    }

    /// <summary>
    /// The gradients of <see cref="LinearForward"/>, added to: <paramref name="gx"/> += gy · weight, <paramref name="gWeight"/>
    /// += gyᵀ · x, <paramref name="gBias"/> += Σ_rows gy; any may be null. <paramref name="overwriteWeight"/> and
    /// <paramref name="overwriteBias"/> write the parameters' gradients instead of adding to them (a fresh gradient the
    /// entry did not clear: <see cref="BindGrad(Tensor, ref Tensor?, out bool)"/>). <paramref name="overwriteInput"/>: gx = gy · weight
    /// instead of += (the generated program's first writer of gx, which it does not clear).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void LinearBackward(float[] x, Tensor weight, float[] gy, float[]? gx, float[]? gWeight, float[]? gBias, int n, LinearShape shape,
        bool overwriteWeight = false, bool overwriteBias = false, bool overwriteInput = false)
        => LinearBackward(x, Dense(weight), gy, gx, gWeight, gBias, n, shape, overwriteWeight, overwriteBias, overwriteInput);

    /// <summary><see cref="LinearBackward(float[], Tensor, float[], float[], float[], float[], int, LinearShape, bool, bool, bool)"/> on the weight's values (also <see cref="FunctionalLinearBackward"/>'s).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void LinearBackward(float[] x, float[] w, float[] gy, float[]? gx, float[]? gWeight, float[]? gBias, int n, LinearShape shape,
        bool overwriteWeight, bool overwriteBias, bool overwriteInput)
    {
        int rows = n * shape.RowsPerItem, inF = shape.InFeatures, outF = shape.OutFeatures;
        // Exact zeros of gy (after a ReLU) or of x (MNIST's pixels) are skipped when they pay (Gemm.ZeroSkip.cs); a product
        // below SkipZerosMinMacs (the MLP's fc2) only when gy is sparse enough (Gemm.DeadUnits.cs, SmallSkipZerosMaxDensity).
        bool smallGx = gx is not null && Gemm.SmallGradSkipsZeros(inputGrad: true, rows, inF, outF);
        bool smallGw = gWeight is not null && Gemm.SmallGradSkipsZeros(inputGrad: false, rows, inF, outF);
        long gNonZero = smallGx || smallGw ? Gemm.CountNonZero(gy, 0, rows, outF, outF) : -1;
        var grads = new LinearGrads(x, w, gy, gx, gWeight, gBias, rows, inF, outF, overwriteWeight, overwriteBias, overwriteInput, smallGx, smallGw, gNonZero);
        if (gx is not null && gWeight is not null && PairsLinearGrads(rows, inF, outF))
        {
            // Both products in one loop of two items, one per core (each runs its whole product as on one thread)
            Parallelism.For(2, grads);
            return;
        }
        grads.InputGrad();
        grads.WeightAndBiasGrads();
    }

    /// <summary>
    /// The fewest multiply-adds (rows·inF·outF) of a Linear's backward whose input and weight gradients run as one loop of
    /// two items (<see cref="PairsLinearGrads"/>): below it the hand-off costs about what the second core saves (fc3 of the
    /// MLP, 82 K).
    /// </summary>
    private const long LinearGradPairMinMacs = 1_000_000;

    /// <summary>
    /// The most multiply-adds of a Linear's backward whose two gradients run as one loop of two items: the MLP's and
    /// mnist's fc2 (64×256→128, 2.1 M each) took three loops or none before (the input gradient split in four, the dead-units
    /// or skipping weight gradient below the split bounds on one core, the bias sum after it); above it each product splits
    /// over the cores by itself (docs/performance.md, "The MLP step and mnist, session 22").
    /// </summary>
    private const long LinearGradPairMaxMacs = 4_000_000;

    /// <summary>Whether a Linear's input and weight gradients run side by side, one per core (several threads, not inside a loop's item).</summary>
    private static bool PairsLinearGrads(int rows, int inF, int outF)
    {
        long macs = (long)rows * inF * outF;
        return Parallelism.MaxThreads > 1 && !WorkerPool.InsideItem && macs >= LinearGradPairMinMacs && macs <= LinearGradPairMaxMacs;
    }

    /// <summary>
    /// The gradients of one Linear's backward: item 0 the input gradient, item 1 the weight gradient and the bias sum (as an
    /// item of <see cref="Parallelism.For{TBody}(int, TBody)"/>, or both in order on one thread). Each product is the same
    /// call as on one thread (inside an item its own split runs serially, over all columns), so the bits do not depend on the
    /// thread count.
    /// </summary>
    private readonly struct LinearGrads(float[] x, float[] w, float[] gy, float[]? gx, float[]? gWeight, float[]? gBias, int rows, int inF, int outF,
        bool overwriteWeight, bool overwriteBias, bool overwriteInput, bool smallGx, bool smallGw, long gNonZero) : IParallelBody
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int index)
        {
            if (index == 0) InputGrad();
            else WeightAndBiasGrads();
        }

        /// <summary>gx (+)= gy · w (nothing when gx is null): written with β = 0 when overwriteInput (the sums the β = 1 path adds to a cleared gx).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public void InputGrad()
        {
            if (gx is not null && !(smallGx
                    ? Gemm.TrySgemmSkipZeros(false, rows, inF, outF, gy, 0, outF, w, 0, inF, gx, 0, inF, accumulate: !overwriteInput, allowParallel: true, Gemm.SmallSkipZerosMaxDensity, gNonZero)
                    : Gemm.TryLinearInputGradSkipZeros(gy, 0, w, 0, gx, 0, rows, inF, outF, accumulate: !overwriteInput, allowParallel: true)))
            {
                Gemm.Sgemm(false, false, rows, inF, outF, 1f, gy, 0, outF, w, 0, inF, overwriteInput ? 0f : 1f, gx, 0, inF);
            }
        }

        /// <summary>gW (+)= gyᵀ · x and gBias (+)= Σ_rows gy (each when not null).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public void WeightAndBiasGrads()
        {
            // Units dead for the whole batch (a ReLU's all-zero columns of gy): only the live rows of a fresh gradient (Gemm.DeadUnits.cs).
            if (gWeight is not null && !(smallGw
                    ? Gemm.TrySgemmSkipZeros(true, outF, inF, rows, gy, 0, outF, x, 0, inF, gWeight, 0, inF, accumulate: !overwriteWeight, allowParallel: true, Gemm.SmallSkipZerosMaxDensity, gNonZero)
                    : Gemm.TryLinearWeightGradSkipZeros(gy, 0, x, 0, gWeight, rows, inF, outF, accumulate: !overwriteWeight, allowParallel: true))
                && !(overwriteWeight && Gemm.TryLinearWeightGradSkipDeadUnits(gy, 0, x, 0, gWeight, rows, inF, outF)))
            {
                Gemm.Sgemm(true, false, outF, inF, rows, 1f, gy, 0, outF, x, 0, inF, overwriteWeight ? 0f : 1f, gWeight, 0, inF);
            }
            if (gBias is not null) ReduceKernel.Sum(gy, gBias, 1, rows, outF, 1f, accumulate: !overwriteBias);
        }
    }

    /// <summary>A batched matrix product per item (PyTorch: <c>torch.matmul</c> of [n, m, k] and [n, k, q]).</summary>
    public static void MatMulForward(float[] a, float[] b, float[] y, int n, MatMulShape shape)
    {
        int m = shape.M, k = shape.K, q = shape.N;
        for (int i = 0; i < n; i++) Gemm.Sgemm(false, false, m, q, k, 1f, a, i * m * k, k, b, i * k * q, q, 0f, y, i * m * q, q);
    }

    /// <summary>The gradients of <see cref="MatMulForward"/>, added to: ga += gy · bᵀ, gb += aᵀ · gy per item; either may be null.</summary>
    public static void MatMulBackward(float[] a, float[] b, float[] gy, float[]? ga, float[]? gb, int n, MatMulShape shape)
    {
        int m = shape.M, k = shape.K, q = shape.N;
        for (int i = 0; i < n; i++)
        {
            if (ga is not null) Gemm.Sgemm(false, true, m, k, q, 1f, gy, i * m * q, q, b, i * k * q, q, 1f, ga, i * m * k, k);
            if (gb is not null) Gemm.Sgemm(true, false, k, q, m, 1f, a, i * m * k, k, gy, i * m * q, q, 1f, gb, i * k * q, q);
        }
    }

    /// <summary>
    /// The elements of a Bool mask argument of a compiled <c>MaskedFill</c> (PyTorch: <c>masked_fill</c>), checked against
    /// the shape the program was built for (its <c>[Shape]</c>); a UInt8 mask is converted.
    /// </summary>
    public static ReadOnlySpan<bool> Mask(Tensor? mask, int[] shape, string where)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (mask is null) throw new ArgumentNullException(nameof(mask), $"Compiled `{where}`: the mask is null. Pass a Bool tensor of shape {ShapeUtil.Format(shape)}.");
        if (mask.DType is not (DType.Bool or DType.UInt8))
        {
            throw new ArgumentException($"Compiled `{where}`: the mask must be a Bool tensor, but got {mask.DType} (shape {ShapeUtil.Format(mask._shape)}). Build it with a comparison such as Tensor.Ones(t, t).Triu(1).Gt(0).");
        }
        if (!mask._shape.AsSpan().SequenceEqual(shape))
        {
            throw new ArgumentException($"Compiled `{where}`: the mask has shape {ShapeUtil.Format(mask._shape)}, but the compiled program was built for {ShapeUtil.Format(shape)} (its [Shape]). Pass a mask of that shape, or use the eager Forward for other sizes.");
        }
        if (mask.DType == DType.Bool && mask.IsContiguous) return mask.Span<bool>();
        var copy = Tensor.Empty(shape, DType.Bool);
        Tensor.CopyConvert(mask, copy);
        return copy.Span<bool>();
    }

    /// <summary>The float32 data of a parameter as an array starting at element 0 (shared when it already is, else a copy).</summary>
    private static float[] ZeroOffset(Tensor tensor)
    {
        var data = FloatData(tensor.Contiguous());
        return tensor.IsContiguous && tensor.Offset == 0 ? data : FloatData(tensor.Contiguous().Clone());
    }

    /// <summary>A 2-d (or 1-d) convolution (PyTorch: <c>F.conv2d</c>), the bias added and, when <paramref name="relu"/>, ReLU applied by the kernel.</summary>
    public static void ConvForward(float[] x, Tensor weight, Tensor? bias, float[] y, int n, ConvShape shape, bool relu = false)
        => Conv.Forward(shape.For(n), x, ZeroOffset(weight), bias is null ? null : ZeroOffset(bias), y, relu);

    /// <summary>
    /// The gradients of <see cref="ConvForward"/>, added to <paramref name="gx"/>, <paramref name="gWeight"/> and
    /// <paramref name="gBias"/> (any may be null) through the scratch arrays the kernel overwrites.
    /// </summary>
    public static void ConvBackward(float[] x, Tensor weight, float[] gy, float[]? gx, float[]? gWeight, float[]? gBias, int n, ConvShape shape,
        float[] scratchX, float[] scratchWeight, float[]? scratchBias)
        => FunctionalConvBackward(x, ZeroOffset(weight), gy, gx, gWeight, gBias, n, shape, scratchX, scratchWeight, scratchBias);

    /// <summary>
    /// A transposed convolution (PyTorch: <c>F.conv_transpose2d</c>; 1-d as H = 1); <paramref name="shape"/> is the adjoint
    /// convolution's (its input is this op's output [C_out, H, W], its output this op's input [C_in, h, w]).
    /// </summary>
    public static void ConvTransposeForward(float[] x, Tensor weight, Tensor? bias, float[] y, int n, ConvShape shape)
        => FunctionalConvTransposeForward(x, ZeroOffset(weight), bias is null ? null : ZeroOffset(bias), y, n, shape);

    /// <summary>The gradients of <see cref="ConvTransposeForward"/>, added to <paramref name="gx"/>, <paramref name="gWeight"/>, <paramref name="gBias"/> through scratch arrays.</summary>
    public static void ConvTransposeBackward(float[] x, Tensor weight, float[] gy, float[]? gx, float[]? gWeight, float[]? gBias, int n, ConvShape shape,
        float[] scratchX, float[] scratchWeight, float[]? scratchBias)
        => FunctionalConvTransposeBackward(x, ZeroOffset(weight), gy, gx, gWeight, gBias, n, shape, scratchX, scratchWeight, scratchBias);

    /// <summary>
    /// <c>Functional.ConvTranspose1d/2d</c> (PyTorch: <c>F.conv_transpose1d</c>/<c>F.conv_transpose2d</c>) with the weight's and
    /// the bias's values (the module's own parameters, or a layer's), as <see cref="ConvTransposeForward"/>.
    /// </summary>
    public static void FunctionalConvTransposeForward(float[] x, float[] w, float[]? b, float[] y, int n, ConvShape shape)
        => Conv.TransposeForward(shape.For(n), x, w, b, y);

    /// <summary>The gradients of <see cref="FunctionalConvTransposeForward"/>, added to <paramref name="gx"/>, <paramref name="gWeight"/>, <paramref name="gBias"/> (each may be null) through scratch arrays.</summary>
    public static void FunctionalConvTransposeBackward(float[] x, float[] w, float[] gy, float[]? gx, float[]? gWeight, float[]? gBias, int n, ConvShape shape,
        float[] scratchX, float[] scratchWeight, float[]? scratchBias)
    {
        var g = shape.For(n);
        Conv.TransposeBackward(g, x, w, gy, gx is null ? null : scratchX, gWeight is null ? null : scratchWeight, gBias is null ? null : scratchBias);
        if (gx is not null) AddInto(scratchX, gx, n * shape.OutChannels * shape.OutHeight * shape.OutWidth);
        if (gWeight is not null) AddInto(scratchWeight, gWeight, shape.WeightCount);
        if (gBias is not null) AddInto(scratchBias!, gBias, shape.InChannels);
    }

    /// <summary>2-d max pooling (PyTorch: <c>F.max_pool2d</c>); <paramref name="indices"/> receives each maximum's position in its plane.</summary>
    public static void MaxPoolForward(float[] x, float[] y, long[] indices, int n, PoolShape shape)
        => Pooling.MaxForward(shape.For(n), x, y, indices);

    /// <summary>
    /// The gradient of <see cref="MaxPoolForward"/>, added to <paramref name="gx"/> (null: nothing) by the scatter itself
    /// (<paramref name="scratch"/> is no longer used: scattering into a cleared scratch and adding it cost two more passes).
    /// </summary>
    public static void MaxPoolBackward(float[] gy, long[] indices, float[]? gx, int n, PoolShape shape, float[] scratch)
    {
        _ = scratch;
        if (gx is null) return;
        Pooling.MaxBackward(shape.For(n), gy, indices, gx, accumulate: true);
    }

    /// <summary>2-d adaptive max pooling (PyTorch: <c>F.adaptive_max_pool2d</c>); <paramref name="indices"/> receives each maximum's position in its plane.</summary>
    public static void AdaptiveMaxPoolForward(float[] x, float[] y, long[] indices, int n, PoolShape shape)
        => Pooling.AdaptiveMaxForward(n * shape.Channels, shape.Height, shape.Width, shape.OutHeight, shape.OutWidth, x, y, indices);

    /// <summary>Resampling (PyTorch: <c>F.interpolate</c>, <c>nn.Upsample</c>) of n·C planes.</summary>
    public static void ResampleForward(float[] x, float[] y, int n, ResampleShape shape)
    {
        var (rows, cols) = shape.Taps();
        int planes = n * shape.Channels;
        Resample.Forward<float>(planes, shape.Height, shape.Width, rows, cols, shape.Mode == (int)ResampleMode.Linear,
            x.AsSpan(0, planes * shape.Height * shape.Width), y.AsSpan(0, planes * shape.OutHeight * shape.OutWidth));
    }

    /// <summary>The gradient of <see cref="ResampleForward"/> (the resampling's adjoint), added to <paramref name="gx"/> through <paramref name="scratch"/>.</summary>
    public static void ResampleBackward(float[] gy, float[]? gx, int n, ResampleShape shape, float[] scratch)
    {
        if (gx is null) return;
        var (rows, cols) = shape.Taps();
        int planes = n * shape.Channels, count = planes * shape.Height * shape.Width;
        Resample.Backward<float>(planes, shape.Height, shape.Width, rows, cols, shape.Mode == (int)ResampleMode.Linear,
            gy.AsSpan(0, planes * shape.OutHeight * shape.OutWidth), scratch.AsSpan(0, count));
        AddInto(scratch, gx, count);
    }

    /// <summary>
    /// Dropout2d (PyTorch: <c>F.dropout2d</c>): in training (p &gt; 0) one mask value per channel of <paramref name="length"/>
    /// elements, drawn from the layer's generator as eager draws it; the identity otherwise. Returns whether a mask was applied.
    /// </summary>
    public static bool ChannelDropoutForward(Module layer, float[] x, float[] y, float[] mask, int count, int length)
    {
        if (layer is not Dropout2d drop) throw new ArgumentException($"Compiled Dropout2d: expected a Dropout2d layer, but got {layer?.GetType().Name ?? "null"}.");
        if (!drop.Training || drop.P == 0)
        {
            Array.Copy(x, y, count);
            return false;
        }
        DropoutKernel.Mask(mask.AsSpan(0, count / length), drop.P, drop.Rng);
        for (int j = 0; j < count; j++) y[j] = x[j] * mask[j / length];
        return true;
    }

    /// <summary>The gradient of <see cref="ChannelDropoutForward"/> through the same mask, added to <paramref name="gx"/>.</summary>
    public static void ChannelDropoutBackward(float[] gy, float[]? gx, float[] mask, int count, int length, bool active)
    {
        if (gx is null) return;
        if (active) for (int j = 0; j < count; j++) gx[j] += gy[j] * mask[j / length];
        else AddInto(gy, gx, count);
    }

    /// <summary>The gather map of one image of a <see cref="PadForward"/> (built once, when the program sizes its buffers).</summary>
    public static int[] PadSources(PadShape shape) => shape.Sources();

    /// <summary>Zero padding of the last two dims (PyTorch: <c>nn.ZeroPad2d</c>, <c>F.pad</c> constant 0) through eager's gather kernel, image by image.</summary>
    public static void PadForward(float[] x, float[] y, int n, PadShape shape, int[] sources)
    {
        int inCount = shape.Channels * shape.Height * shape.Width, outCount = shape.OutCount;
        for (int s = 0; s < n; s++) PadKernel.Forward<float>(sources, 0f, x.AsSpan(s * inCount, inCount), y.AsSpan(s * outCount, outCount));
    }

    /// <summary>The gradient of <see cref="PadForward"/> (the gather's scatter), added to <paramref name="gx"/> through <paramref name="scratch"/>.</summary>
    public static void PadBackward(float[] gy, float[]? gx, int n, PadShape shape, int[] sources, float[] scratch)
    {
        if (gx is null) return;
        int inCount = shape.Channels * shape.Height * shape.Width, outCount = shape.OutCount;
        for (int s = 0; s < n; s++) PadKernel.Backward<float>(sources, gy.AsSpan(s * outCount, outCount), scratch.AsSpan(s * inCount, inCount));
        AddInto(scratch, gx, n * inCount);
    }

    /// <summary>2-d average pooling (PyTorch: <c>F.avg_pool2d</c>) with PyTorch's divisor rules; <paramref name="divisorOverride"/> 0 = none.</summary>
    public static void AvgPoolForward(float[] x, float[] y, int n, PoolShape shape, int divisorOverride = 0)
        => Pooling.AvgForward(shape.For(n), shape.CountIncludePad, divisorOverride > 0 ? divisorOverride : null, x, y);

    /// <summary>The gradient of <see cref="AvgPoolForward"/>, added to <paramref name="gx"/> (null: nothing).</summary>
    public static void AvgPoolBackward(float[] gy, float[]? gx, int n, PoolShape shape, int divisorOverride = 0)
    {
        if (gx is null) return;
        Pooling.AvgBackward(shape.For(n), shape.CountIncludePad, divisorOverride > 0 ? divisorOverride : null, gy, gx, accumulate: true);
    }

    /// <summary>2-d adaptive average pooling (PyTorch: <c>F.adaptive_avg_pool2d</c>) to the shape's output size.</summary>
    public static void AdaptivePoolForward(float[] x, float[] y, int n, PoolShape shape)
        => Pooling.AdaptiveAvgForward(n * shape.Channels, shape.Height, shape.Width, shape.OutHeight, shape.OutWidth, x, y);

    /// <summary>The gradient of <see cref="AdaptivePoolForward"/>, added to <paramref name="gx"/> (null: nothing).</summary>
    public static void AdaptivePoolBackward(float[] gy, float[]? gx, int n, PoolShape shape)
    {
        if (gx is null) return;
        Pooling.AdaptiveAvgBackward(n * shape.Channels, shape.Height, shape.Width, shape.OutHeight, shape.OutWidth, gy, gx, accumulate: true);
    }

    private static BatchNormBase AsBatchNorm(Module layer, int c)
    {
        if (layer is not BatchNormBase bn)
        {
            throw new ArgumentException($"Compiled BatchNorm: expected a BatchNorm1d or BatchNorm2d layer, but got {layer?.GetType().Name ?? "null"}.");
        }
        if (bn.NumFeatures != c)
        {
            throw new ArgumentException($"BatchNorm: the input has {c} channels, but the layer was built for num_features = {bn.NumFeatures}.");
        }
        return bn;
    }

    private static Span<float> Float32Span(Tensor? t, string op, string what)
    {
        if (t is null) return [];
        if (t.DType != DType.Float32)
        {
            throw new ArgumentException($"{op}: compiled code runs in float32, but {what} is {t.DType}. Use the eager Forward, or convert the layer with .To(DType.Float32).");
        }
        return FloatData(t).AsSpan(t.Offset, t.NumElements);
    }

    /// <summary>
    /// A BatchNorm1d/BatchNorm2d layer's forward (PyTorch: its <c>forward</c>) over x viewed as [n, c, l]: the layer's
    /// step (num_batches_tracked, cumulative momentum) as its eager Forward takes it, then the normalisation kernel.
    /// Returns whether batch statistics were used (what the backward needs).
    /// </summary>
    public static bool BatchNormForward(Module layer, float[] x, float[] y, int n, int c, int l, float[] saveMean, float[] saveInvstd)
    {
        var bn = AsBatchNorm(layer, c);
        var step = BatchNormState.Step(bn.Training, bn.TrackRunningStats, bn.Momentum, bn.NumBatchesTracked, bn.RunningMean is not null);
        return BatchNormCore(x, y, n, c, l, Float32Span(bn.Weight, "BatchNorm", "the weight"), Float32Span(bn.Bias, "BatchNorm", "the bias"),
            step.PassStats ? bn.RunningMean : null, step.PassStats ? bn.RunningVar : null, step.Training, step.Momentum, bn.Eps, saveMean, saveInvstd);
    }

    /// <summary>
    /// <c>Functional.BatchNorm(x, runningMean, runningVar, weight, bias, training, momentum, eps)</c> (PyTorch:
    /// <c>F.batch_norm</c>) over x viewed as [n, c, l], with the weight's and the bias's values (or none) and the running
    /// statistics themselves (or none), updated in place in training as eager updates them. Returns whether batch
    /// statistics were used.
    /// </summary>
    public static bool FunctionalBatchNormForward(float[] x, Tensor? runningMean, Tensor? runningVar, float[]? weight, float[]? bias, float[] y,
        int n, int c, int l, bool training, double momentum, double eps, float[] saveMean, float[] saveInvstd)
    {
        if ((runningMean is null) != (runningVar is null)) throw new ArgumentException("BatchNorm: pass both runningMean and runningVar, or neither.");
        CheckRunningStat(runningMean, "BatchNorm", "runningMean", c);
        CheckRunningStat(runningVar, "BatchNorm", "runningVar", c);
        return BatchNormCore(x, y, n, c, l, weight is null ? [] : weight.AsSpan(0, c), bias is null ? [] : bias.AsSpan(0, c), runningMean, runningVar,
            training, momentum, eps, saveMean, saveInvstd);
    }

    /// <summary>Throws unless a running statistic the compiled program updates in place is a contiguous float32 [c] tensor.</summary>
    private static void CheckRunningStat(Tensor? stat, string op, string name, int c)
    {
        if (stat is null) return;
        if (stat.Rank != 1 || stat._shape[0] != c)
        {
            throw new ArgumentException($"{op}: {name} must have shape [{c}] (the channel dimension, dim 1, of the input), but got {ShapeUtil.Format(stat._shape)}.");
        }
        if (!stat.IsContiguous)
        {
            throw new ArgumentException($"{op}: compiled code updates {name} in place and needs it contiguous; pass a contiguous tensor (a [Buffer] is), or use the eager Forward.");
        }
    }

    /// <summary>
    /// What the BatchNorm layers and <c>Functional.BatchNorm</c> share: batch statistics in training or without running
    /// statistics (eager's error for one value per channel), the running statistics updated in place, the kernel.
    /// </summary>
    private static bool BatchNormCore(float[] x, float[] y, int n, int c, int l, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Tensor? rm, Tensor? rv,
        bool training, double momentum, double eps, float[] saveMean, float[] saveInvstd)
    {
        bool useBatchStats = training || rm is null;
        if (useBatchStats && n * l <= 1)
        {
            throw new ArgumentException($"BatchNorm: expected more than 1 value per channel when training, but got input of shape {(l == 1 ? $"[{n}, {c}]" : $"[{n}, {c}, {l}]")}.");
        }
        int count = n * c * l;
        NormKernel.BatchNormForward<float>(x.AsSpan(0, count), y.AsSpan(0, count), n, c, l, weight, bias, Float32Span(rm, "BatchNorm", "running_mean"),
            Float32Span(rv, "BatchNorm", "running_var"), useBatchStats, momentum, eps, saveMean.AsSpan(0, c), saveInvstd.AsSpan(0, c));
        if (useBatchStats && rm is not null)
        {
            rm.Storage.Version++;
            rv!.Storage.Version++;
        }
        return useBatchStats;
    }

    /// <summary>The gradients of <see cref="BatchNormForward"/>, added to <paramref name="gx"/>, <paramref name="gWeight"/>, <paramref name="gBias"/> (any may be null).</summary>
    public static void BatchNormBackward(Module layer, float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd,
        float[]? gWeight, float[]? gBias, int n, int c, int l, bool useBatchStats)
    {
        var bn = AsBatchNorm(layer, c);
        useBatchStats |= bn.RunningMean is null;   // without running statistics every call normalises with the batch's
        BatchNormBackwardCore(x, gy, gx, saveMean, saveInvstd, Float32Span(bn.Weight, "BatchNorm", "the weight"), bn.Weight is null ? null : gWeight,
            bn.Bias is null ? null : gBias, n, c, l, useBatchStats);
    }

    /// <summary>The gradients of <see cref="FunctionalBatchNormForward"/>, added to <paramref name="gx"/>, <paramref name="gWeight"/>, <paramref name="gBias"/> (any may be null).</summary>
    public static void FunctionalBatchNormBackward(float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd, float[]? weight,
        float[]? gWeight, float[]? gBias, int n, int c, int l, bool useBatchStats)
        => BatchNormBackwardCore(x, gy, gx, saveMean, saveInvstd, weight is null ? [] : weight.AsSpan(0, c), gWeight, gBias, n, c, l, useBatchStats);

    private static void BatchNormBackwardCore(float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd, ReadOnlySpan<float> weight,
        float[]? gWeight, float[]? gBias, int n, int c, int l, bool useBatchStats)
    {
        int count = n * c * l;
        NormKernel.BatchNormBackward<float>(x.AsSpan(0, count), gy.AsSpan(0, count), gx is null ? [] : gx.AsSpan(0, count), saveMean.AsSpan(0, c),
            saveInvstd.AsSpan(0, c), weight, gWeight is null ? [] : gWeight.AsSpan(0, c), gBias is null ? [] : gBias.AsSpan(0, c), n, c, l, useBatchStats);
    }

    private static LayerNorm AsLayerNorm(Module layer, int cols)
    {
        if (layer is not LayerNorm ln)
        {
            throw new ArgumentException($"Compiled LayerNorm: expected a LayerNorm layer, but got {layer?.GetType().Name ?? "null"}.");
        }
        int expected = ShapeUtil.Count(ln.NormalizedShape);
        if (expected != cols)
        {
            throw new ArgumentException($"LayerNorm: normalized_shape {ShapeUtil.Format(ln.NormalizedShape)} covers {expected} elements, but each row has {cols}.");
        }
        return ln;
    }

    /// <summary>A LayerNorm layer's forward (PyTorch: <c>F.layer_norm</c>) over <paramref name="rows"/> rows of <paramref name="cols"/>.</summary>
    public static void LayerNormForward(Module layer, float[] x, float[] y, int rows, int cols, float[] saveMean, float[] saveInvstd)
    {
        var ln = AsLayerNorm(layer, cols);
        NormKernel.LayerNormForward<float>(x.AsSpan(0, rows * cols), y.AsSpan(0, rows * cols), rows, cols, Float32Span(ln.Weight, "LayerNorm", "the weight"),
            Float32Span(ln.Bias, "LayerNorm", "the bias"), ln.Eps, saveMean.AsSpan(0, rows), saveInvstd.AsSpan(0, rows));
    }

    /// <summary>The gradients of <see cref="LayerNormForward"/>, added to <paramref name="gx"/>, <paramref name="gWeight"/>, <paramref name="gBias"/> (any may be null).</summary>
    public static void LayerNormBackward(Module layer, float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd,
        float[]? gWeight, float[]? gBias, int rows, int cols)
    {
        var ln = AsLayerNorm(layer, cols);
        NormKernel.LayerNormBackward<float>(x.AsSpan(0, rows * cols), gy.AsSpan(0, rows * cols), gx is null ? [] : gx.AsSpan(0, rows * cols),
            saveMean.AsSpan(0, rows), saveInvstd.AsSpan(0, rows), Float32Span(ln.Weight, "LayerNorm", "the weight"),
            ln.Weight is null || gWeight is null ? [] : gWeight.AsSpan(0, cols), ln.Bias is null || gBias is null ? [] : gBias.AsSpan(0, cols), rows, cols);
    }

    /// <summary>The affine parameters and eps of a compiled GroupNorm or InstanceNorm1d/2d (instance norm: groups = channels).</summary>
    private static (Tensor? Weight, Tensor? Bias, double Eps) GroupNormState(Module layer) => layer switch
    {
        GroupNorm gn => (gn.Weight, gn.Bias, gn.Eps),
        InstanceNormBase inn => (inn.Weight, inn.Bias, inn.Eps),
        _ => throw new ArgumentException($"Compiled GroupNorm: expected a GroupNorm or InstanceNorm layer, but got {layer?.GetType().Name ?? "null"}."),
    };

    /// <summary>
    /// Group normalisation (PyTorch: <c>F.group_norm</c>; instance norm is groups = channels) of [n, channels, length] data;
    /// the per-(sample, group) mean and 1/std are kept for the backward.
    /// </summary>
    public static void GroupNormForward(Module layer, float[] x, float[] y, int n, int channels, int length, int groups, float[] saveMean, float[] saveInvstd)
    {
        var (weight, bias, eps) = GroupNormState(layer);
        int count = n * channels * length;
        GroupNormKernel.Forward<float>(x.AsSpan(0, count), y.AsSpan(0, count), n, channels, length, groups, Float32Span(weight, "GroupNorm", "the weight"),
            Float32Span(bias, "GroupNorm", "the bias"), eps, saveMean.AsSpan(0, n * groups), saveInvstd.AsSpan(0, n * groups), []);
    }

    /// <summary>The gradients of <see cref="GroupNormForward"/>, added to <paramref name="gx"/>, <paramref name="gWeight"/>, <paramref name="gBias"/> (any may be null).</summary>
    public static void GroupNormBackward(Module layer, float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd, float[]? gWeight, float[]? gBias,
        int n, int channels, int length, int groups)
    {
        var (weight, bias, _) = GroupNormState(layer);
        int count = n * channels * length;
        GroupNormKernel.Backward<float>(x.AsSpan(0, count), gy.AsSpan(0, count), gx is null ? [] : gx.AsSpan(0, count), saveMean.AsSpan(0, n * groups),
            saveInvstd.AsSpan(0, n * groups), Float32Span(weight, "GroupNorm", "the weight"), weight is null || gWeight is null ? [] : gWeight.AsSpan(0, channels),
            bias is null || gBias is null ? [] : gBias.AsSpan(0, channels), n, channels, length, groups);
    }

    /// <summary>
    /// An InstanceNorm1d/2d layer with track_running_stats=True (PyTorch: its <c>forward</c>) over x viewed as [n, c, l]: in
    /// training each instance's statistics, the running statistics updated from them in place as eager updates them; in
    /// evaluation the running statistics (BatchNorm's evaluation kernel). Returns whether the instance statistics were used.
    /// </summary>
    public static bool InstanceNormForward(Module layer, float[] x, float[] y, int n, int c, int l, float[] saveMean, float[] saveInvstd, double[] variance)
    {
        var inn = AsInstanceNorm(layer, c);
        return InstanceNormCore(x, y, n, c, l, Float32Span(inn.Weight, "InstanceNorm", "the weight"), Float32Span(inn.Bias, "InstanceNorm", "the bias"),
            inn.RunningMean, inn.RunningVar, inn.Training || !inn.TrackRunningStats, inn.Momentum, inn.Eps, saveMean, saveInvstd, variance);
    }

    /// <summary>
    /// <c>Functional.InstanceNorm(x, runningMean, runningVar, weight, bias, useInputStats, momentum, eps)</c> (PyTorch:
    /// <c>F.instance_norm</c>) with the running statistics themselves (or none), updated in place with input statistics,
    /// and the weight's and the bias's values (or none). Returns whether the instance statistics were used.
    /// </summary>
    public static bool FunctionalInstanceNormForward(float[] x, Tensor? runningMean, Tensor? runningVar, float[]? weight, float[]? bias, float[] y,
        int n, int c, int l, bool useInputStats, double momentum, double eps, float[] saveMean, float[] saveInvstd, double[] variance)
    {
        if ((runningMean is null) != (runningVar is null)) throw new ArgumentException("InstanceNorm: pass both runningMean and runningVar, or neither.");
        CheckRunningStat(runningMean, "InstanceNorm", "runningMean", c);
        CheckRunningStat(runningVar, "InstanceNorm", "runningVar", c);
        return InstanceNormCore(x, y, n, c, l, weight is null ? [] : weight.AsSpan(0, c), bias is null ? [] : bias.AsSpan(0, c), runningMean, runningVar,
            useInputStats, momentum, eps, saveMean, saveInvstd, variance);
    }

    private static InstanceNormBase AsInstanceNorm(Module layer, int c)
    {
        if (layer is not InstanceNormBase inn)
        {
            throw new ArgumentException($"Compiled InstanceNorm: expected an InstanceNorm1d or InstanceNorm2d layer, but got {layer?.GetType().Name ?? "null"}.");
        }
        if (inn.NumFeatures != c && (inn.Affine || inn.TrackRunningStats))
        {
            throw new ArgumentException($"{layer.GetType().Name}: expected input's size at dim 1 to match num_features ({inn.NumFeatures}), but got {c}.");
        }
        return inn;
    }

    /// <summary>
    /// What the InstanceNorm layers and <c>Functional.InstanceNorm</c> share (eager's <c>Functional.InstanceNorm</c>): the
    /// GroupNorm kernel with a group per channel and the running statistics' update (<c>GroupNormKernel.UpdateInstanceRunningStats</c>)
    /// with input statistics; BatchNorm's evaluation kernel with the running statistics otherwise.
    /// </summary>
    private static bool InstanceNormCore(float[] x, float[] y, int n, int c, int l, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Tensor? rm, Tensor? rv,
        bool useInputStats, double momentum, double eps, float[] saveMean, float[] saveInvstd, double[] variance)
    {
        if (!useInputStats)
        {
            if (rm is null) throw new ArgumentException("InstanceNorm: useInputStats = false needs runningMean and runningVar.");
            BatchNormCore(x, y, n, c, l, weight, bias, rm, rv, training: false, momentum, eps, saveMean, saveInvstd);
            return false;
        }
        if (l <= 1)
        {
            throw new ArgumentException($"InstanceNorm: expected more than 1 spatial element per channel when using input statistics, but got input of shape [{n}, {c}, {l}].");
        }
        int count = n * c * l, stats = n * c;
        GroupNormKernel.Forward<float>(x.AsSpan(0, count), y.AsSpan(0, count), n, c, l, c, weight, bias, eps, saveMean.AsSpan(0, stats), saveInvstd.AsSpan(0, stats),
            rm is null ? [] : variance.AsSpan(0, stats));
        if (rm is not null)
        {
            GroupNormKernel.UpdateInstanceRunningStats<float>(saveMean.AsSpan(0, stats), variance.AsSpan(0, stats), n, c, l, momentum,
                Float32Span(rm, "InstanceNorm", "running_mean"), Float32Span(rv, "InstanceNorm", "running_var"));
            rm.Storage.Version++;
            rv!.Storage.Version++;
        }
        return true;
    }

    /// <summary>The gradients of <see cref="InstanceNormForward"/>, added to <paramref name="gx"/>, <paramref name="gWeight"/>, <paramref name="gBias"/> (any may be null).</summary>
    public static void InstanceNormBackward(Module layer, float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd, float[]? gWeight, float[]? gBias,
        int n, int c, int l, bool inputStats)
    {
        var inn = AsInstanceNorm(layer, c);
        InstanceNormBackwardCore(x, gy, gx, saveMean, saveInvstd, Float32Span(inn.Weight, "InstanceNorm", "the weight"), inn.Weight is null ? null : gWeight,
            inn.Bias is null ? null : gBias, n, c, l, inputStats);
    }

    /// <summary>The gradients of <see cref="FunctionalInstanceNormForward"/>, added to <paramref name="gx"/>, <paramref name="gWeight"/>, <paramref name="gBias"/> (any may be null).</summary>
    public static void FunctionalInstanceNormBackward(float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd, float[]? weight,
        float[]? gWeight, float[]? gBias, int n, int c, int l, bool inputStats)
        => InstanceNormBackwardCore(x, gy, gx, saveMean, saveInvstd, weight is null ? [] : weight.AsSpan(0, c), gWeight, gBias, n, c, l, inputStats);

    private static void InstanceNormBackwardCore(float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd, ReadOnlySpan<float> weight,
        float[]? gWeight, float[]? gBias, int n, int c, int l, bool inputStats)
    {
        if (!inputStats)
        {
            BatchNormBackwardCore(x, gy, gx, saveMean, saveInvstd, weight, gWeight, gBias, n, c, l, useBatchStats: false);
            return;
        }
        int count = n * c * l;
        GroupNormKernel.Backward<float>(x.AsSpan(0, count), gy.AsSpan(0, count), gx is null ? [] : gx.AsSpan(0, count), saveMean.AsSpan(0, n * c),
            saveInvstd.AsSpan(0, n * c), weight, gWeight is null ? [] : gWeight.AsSpan(0, c), gBias is null ? [] : gBias.AsSpan(0, c), n, c, l, c);
    }

    private static RMSNorm AsRmsNorm(Module layer) => layer as RMSNorm
        ?? throw new ArgumentException($"Compiled RMSNorm: expected an RMSNorm layer, but got {layer?.GetType().Name ?? "null"}.");

    /// <summary>RMS normalisation (PyTorch 2.4: <c>F.rms_norm</c>) of rows of <paramref name="cols"/>; a null eps is float32's machine epsilon, as eager.</summary>
    public static void RmsNormForward(Module layer, float[] x, float[] y, int rows, int cols, float[] saveInvrms)
    {
        var rms = AsRmsNorm(layer);
        RmsNormKernel.Forward<float>(x.AsSpan(0, rows * cols), y.AsSpan(0, rows * cols), rows, cols, Float32Span(rms.Weight, "RMSNorm", "the weight"),
            rms.Eps ?? MathF.BitIncrement(1f) - 1f, saveInvrms.AsSpan(0, rows));
    }

    /// <summary>The gradients of <see cref="RmsNormForward"/>, added to <paramref name="gx"/> and <paramref name="gWeight"/> (either may be null).</summary>
    public static void RmsNormBackward(Module layer, float[] x, float[] gy, float[]? gx, float[] saveInvrms, float[]? gWeight, int rows, int cols)
    {
        var rms = AsRmsNorm(layer);
        RmsNormKernel.Backward<float>(x.AsSpan(0, rows * cols), gy.AsSpan(0, rows * cols), gx is null ? [] : gx.AsSpan(0, rows * cols), saveInvrms.AsSpan(0, rows),
            Float32Span(rms.Weight, "RMSNorm", "the weight"), rms.Weight is null || gWeight is null ? [] : gWeight.AsSpan(0, cols), rows, cols);
    }

    private static Embedding AsEmbedding(Module layer, Tensor indices, int count, int dim)
    {
        ArgumentNullException.ThrowIfNull(indices);
        if (layer is not Embedding emb)
        {
            throw new ArgumentException($"Compiled Embedding: expected an Embedding layer, but got {layer?.GetType().Name ?? "null"}.");
        }
        if (indices.DType is not (DType.Int64 or DType.Int32))
        {
            throw new ArgumentException($"Embedding: indices must be Int64 (or Int32), but got a {indices.DType} tensor of shape {ShapeUtil.Format(indices._shape)}. Convert with .To(DType.Int64).");
        }
        if (indices.NumElements != count || emb.EmbeddingDim != dim)
        {
            throw new ArgumentException($"Compiled Embedding: expected {count} indices of an embedding_dim {dim} table, but got indices of shape {ShapeUtil.Format(indices._shape)} for a table of shape {ShapeUtil.Format(emb.Weight._shape)}.");
        }
        return emb;
    }

    /// <summary>An Embedding layer's lookup (PyTorch: <c>F.embedding</c>) of <paramref name="count"/> indices (any strides).</summary>
    public static void EmbeddingForward(Module layer, Tensor indices, float[] y, int count, int dim)
    {
        var emb = AsEmbedding(layer, indices, count, dim);
        var idx = new Indices(indices);
        EmbeddingKernel.CheckRange(idx, emb.NumEmbeddings, emb.Weight._shape);
        EmbeddingKernel.Gather<float>(Float32Span(emb.Weight.Contiguous(), "Embedding", "the weight"), idx, dim, y.AsSpan(0, count * dim));
    }

    /// <summary>The gradient of <see cref="EmbeddingForward"/> into the table's gradient (null: nothing), except the padding row.</summary>
    public static void EmbeddingBackward(Module layer, Tensor indices, float[] gy, float[]? gWeight, int count, int dim)
    {
        if (gWeight is null) return;
        var emb = AsEmbedding(layer, indices, count, dim);
        var idx = new Indices(indices);
        EmbeddingKernel.CheckRange(idx, emb.NumEmbeddings, emb.Weight._shape);
        EmbeddingKernel.ScatterAdd<float>(gy.AsSpan(0, count * dim), idx, dim, emb.PaddingIdx ?? -1, gWeight.AsSpan(0, emb.NumEmbeddings * dim));
    }

    /// <summary>y = x.Permute(perm).Contiguous() for a dense x of <paramref name="xShape"/> (PyTorch: <c>permute</c> + <c>contiguous</c>).</summary>
    public static void PermuteForward(float[] x, int[] xShape, int[] perm, float[] y)
    {
        int rank = xShape.Length;
        Span<int> buffer = stackalloc int[3 * Math.Max(rank, 1)];
        Span<int> shape = buffer[..rank], xs = buffer.Slice(rank, rank), ys = buffer.Slice(2 * rank, rank);
        PermutedStrides(xShape, perm, shape, xs, ys);
        Elementwise.Copy<float>(shape, x, 0, xs, y, 0, ys);
    }

    /// <summary>The gradient of <see cref="PermuteForward"/>: <paramref name="gx"/> += the inverse permutation of <paramref name="gy"/> (null: nothing).</summary>
    public static void PermuteBackward(float[] gy, int[] xShape, int[] perm, float[]? gx)
    {
        if (gx is null) return;
        int rank = xShape.Length;
        Span<int> buffer = stackalloc int[3 * Math.Max(rank, 1)];
        Span<int> shape = buffer[..rank], xs = buffer.Slice(rank, rank), ys = buffer.Slice(2 * rank, rank);
        PermutedStrides(xShape, perm, shape, xs, ys);
        AddOp.Forward<float>(shape, gx, 0, xs, gy, 0, ys, gx, 0, xs);
    }

    /// <summary>The permuted shape, x's strides seen in that order, and the permuted result's contiguous strides.</summary>
    private static void PermutedStrides(int[] xShape, int[] perm, Span<int> shape, Span<int> xStrides, Span<int> yStrides)
    {
        int rank = xShape.Length;
        long seen = 0;
        foreach (int p in perm)
        {
            if (perm.Length != rank || p < 0 || p >= rank || (seen & (1L << p)) != 0)
            {
                throw new ArgumentException($"Permute: [{string.Join(", ", perm)}] is not a permutation of the {rank} dimensions of shape {ShapeUtil.Format(xShape)}.");
            }
            seen |= 1L << p;
        }
        Span<int> contiguous = stackalloc int[Math.Max(rank, 1)];
        int acc = 1;
        for (int d = rank - 1; d >= 0; d--)
        {
            contiguous[d] = acc;
            acc *= xShape[d];
        }
        for (int i = 0; i < rank; i++)
        {
            shape[i] = xShape[perm[i]];
            xStrides[i] = contiguous[perm[i]];
        }
        acc = 1;
        for (int d = rank - 1; d >= 0; d--)
        {
            yStrides[d] = acc;
            acc *= shape[d];
        }
    }
}
