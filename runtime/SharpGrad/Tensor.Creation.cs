namespace SharpGrad;

public partial class Tensor
{
    /// <summary>Creates a Float32 tensor holding a copy of <paramref name="data"/> (PyTorch: <c>torch.tensor(data).view(shape)</c>).
    /// Without a shape it is one-dimensional.</summary>
    public static Tensor FromArray(float[] data, params int[] shape) => FromArrayCore(data, shape);

    /// <summary>Creates a Float64 tensor holding a copy of <paramref name="data"/>.</summary>
    public static Tensor FromArray(double[] data, params int[] shape) => FromArrayCore(data, shape);

    /// <summary>Creates an Int64 tensor holding a copy of <paramref name="data"/> (labels, indices).</summary>
    public static Tensor FromArray(long[] data, params int[] shape) => FromArrayCore(data, shape);

    /// <summary>Creates an Int32 tensor holding a copy of <paramref name="data"/>.</summary>
    public static Tensor FromArray(int[] data, params int[] shape) => FromArrayCore(data, shape);

    /// <summary>Creates a Bool tensor holding a copy of <paramref name="data"/>.</summary>
    public static Tensor FromArray(bool[] data, params int[] shape) => FromArrayCore(data, shape);

    /// <summary>Creates a UInt8 tensor holding a copy of <paramref name="data"/>.</summary>
    public static Tensor FromArray(byte[] data, params int[] shape) => FromArrayCore(data, shape);

    private static Tensor FromArrayCore<T>(T[] data, int[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        shape = shape is null || shape.Length == 0 ? [data.Length] : ResolveShape(shape, data.Length, "FromArray");
        return new Tensor(new Storage<T>((T[])data.Clone()), shape);
    }

    /// <summary>Wraps an array without copying; the tensor owns it from now on.</summary>
    internal static Tensor Wrap<T>(T[] data, params int[] shape) where T : unmanaged => new(new Storage<T>(data), shape);

    /// <summary>A 0-dimensional Float32 tensor (PyTorch: <c>torch.tensor(value)</c>).</summary>
    public static Tensor Scalar(float value, bool requiresGrad = false) => Wrap(new[] { value }, []).RequiresGrad_(requiresGrad);

    /// <summary>A 0-dimensional Float64 tensor.</summary>
    public static Tensor Scalar(double value, bool requiresGrad = false) => Wrap(new[] { value }, []).RequiresGrad_(requiresGrad);

    /// <summary>A 0-dimensional tensor of the given dtype.</summary>
    public static Tensor Scalar(double value, DType dtype) => Full([], value, dtype);

    /// <summary>An uninitialised (zero-filled) tensor (PyTorch: <c>torch.empty</c>).</summary>
    public static Tensor Empty(int[] shape, DType dtype = DType.Float32, bool requiresGrad = false)
        => new Tensor(Storage.Allocate(dtype, ShapeUtil.Count(ShapeUtil.Validate(shape))), (int[])shape.Clone()).RequiresGrad_(requiresGrad);

    /// <summary>A Float32 tensor of zeros (PyTorch: <c>torch.zeros</c>).</summary>
    public static Tensor Zeros(params int[] shape) => Empty(shape);

    /// <summary>A tensor of zeros with options.</summary>
    public static Tensor Zeros(int[] shape, DType dtype = DType.Float32, bool requiresGrad = false) => Empty(shape, dtype, requiresGrad);

    /// <summary>A Float32 tensor of ones (PyTorch: <c>torch.ones</c>).</summary>
    public static Tensor Ones(params int[] shape) => Full(shape, 1.0);

    /// <summary>A tensor of ones with options.</summary>
    public static Tensor Ones(int[] shape, DType dtype = DType.Float32, bool requiresGrad = false) => Full(shape, 1.0, dtype, requiresGrad);

    /// <summary>A tensor filled with <paramref name="value"/> (PyTorch: <c>torch.full</c>).</summary>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        var t = Empty(shape, dtype);
        if (value != 0) t.FillUnchecked(value);
        return t.RequiresGrad_(requiresGrad);
    }

    /// <summary>Zeros with the shape and dtype of <paramref name="other"/> (PyTorch: <c>torch.zeros_like</c>).</summary>
    public static Tensor ZerosLike(Tensor other) => Empty(other._shape, other.DType);

    /// <summary>Ones with the shape and dtype of <paramref name="other"/> (PyTorch: <c>torch.ones_like</c>).</summary>
    public static Tensor OnesLike(Tensor other) => Full(other._shape, 1.0, other.DType);

    /// <summary>A tensor like <paramref name="other"/> filled with <paramref name="value"/> (PyTorch: <c>torch.full_like</c>).</summary>
    public static Tensor FullLike(Tensor other, double value) => Full(other._shape, value, other.DType);

    /// <summary>Uniform samples in [0, 1) (PyTorch: <c>torch.rand</c>).</summary>
    public static Tensor Rand(params int[] shape) => Rand(shape, DType.Float32);

    /// <summary>Uniform samples in [0, 1) with options.</summary>
    public static Tensor Rand(int[] shape, DType dtype = DType.Float32, bool requiresGrad = false, Rng? rng = null)
    {
        rng ??= Rng.Default;
        var t = Empty(shape, dtype);
        switch (t.Storage)
        {
            case Storage<float> s: for (int i = 0; i < s.Data.Length; i++) s.Data[i] = rng.NextFloat(); break;
            case Storage<double> s: for (int i = 0; i < s.Data.Length; i++) s.Data[i] = rng.NextDouble(); break;
            default: throw new ArgumentException($"Rand needs a floating-point dtype, got {dtype}.");
        }
        return t.RequiresGrad_(requiresGrad);
    }

    /// <summary>Standard normal samples (PyTorch: <c>torch.randn</c>).</summary>
    public static Tensor Randn(params int[] shape) => Randn(shape, DType.Float32);

    /// <summary>Standard normal samples with options.</summary>
    public static Tensor Randn(int[] shape, DType dtype = DType.Float32, bool requiresGrad = false, Rng? rng = null)
    {
        rng ??= Rng.Default;
        var t = Empty(shape, dtype);
        switch (t.Storage)
        {
            case Storage<float> s: for (int i = 0; i < s.Data.Length; i++) s.Data[i] = (float)rng.NextNormal(); break;
            case Storage<double> s: for (int i = 0; i < s.Data.Length; i++) s.Data[i] = rng.NextNormal(); break;
            default: throw new ArgumentException($"Randn needs a floating-point dtype, got {dtype}.");
        }
        return t.RequiresGrad_(requiresGrad);
    }

    /// <summary>Random integers in [<paramref name="low"/>, <paramref name="high"/>) as Int64 (PyTorch: <c>torch.randint</c>).</summary>
    public static Tensor RandInt(long low, long high, int[] shape, Rng? rng = null)
    {
        if (high <= low) throw new ArgumentException($"RandInt needs low < high, got low={low}, high={high}.");
        rng ??= Rng.Default;
        var t = Empty(shape, DType.Int64);
        var d = t.Data<long>();
        ulong range = (ulong)(high - low);
        for (int i = 0; i < d.Length; i++) d[i] = low + (long)(rng.NextUInt64() % range);
        return t;
    }

    /// <summary>A random permutation of 0..n-1 as Int64 (PyTorch: <c>torch.randperm</c>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static Tensor RandPerm(int n, Rng? rng = null)
    {
        var p = (rng ?? Rng.Default).Permutation(n);
        var d = new long[n];
        for (int i = 0; i < n; i++) d[i] = p[i];
        return Wrap(d, n);
    }

    /// <summary>0, 1, …, end-1 as Int64 (PyTorch: <c>torch.arange(end)</c>).</summary>
    public static Tensor Arange(long end) => Arange(0, end, 1);

    /// <summary>start, start+step, … below end as Int64 (PyTorch: <c>torch.arange</c> with integer arguments).</summary>
    public static Tensor Arange(long start, long end, long step = 1)
    {
        if (step == 0) throw new ArgumentException("Arange: step must not be zero.");
        long n = Math.Max(0, (end - start + step - Math.Sign(step)) / step);
        var d = new long[checked((int)n)];
        for (int i = 0; i < d.Length; i++) d[i] = start + i * step;
        return Wrap(d, d.Length);
    }

    /// <summary>start, start+step, … below end as Float32 (or <paramref name="dtype"/>) (PyTorch: <c>torch.arange</c> with float arguments).</summary>
    public static Tensor Arange(double start, double end, double step = 1.0, DType dtype = DType.Float32)
    {
        if (step == 0) throw new ArgumentException("Arange: step must not be zero.");
        int n = (int)Math.Max(0, Math.Ceiling((end - start) / step));
        var d = new double[n];
        for (int i = 0; i < n; i++) d[i] = start + i * step;
        return Wrap(d, n).To(dtype);
    }

    /// <summary><paramref name="steps"/> evenly spaced values from start to end inclusive (PyTorch: <c>torch.linspace</c>).</summary>
    public static Tensor Linspace(double start, double end, int steps, DType dtype = DType.Float32)
    {
        if (steps < 0) throw new ArgumentException($"Linspace: steps must be non-negative, got {steps}.");
        var d = new double[steps];
        double step = steps > 1 ? (end - start) / (steps - 1) : 0;
        for (int i = 0; i < steps; i++) d[i] = i < steps / 2 ? start + i * step : end - (steps - 1 - i) * step;
        return Wrap(d, steps).To(dtype);
    }

    /// <summary>An identity matrix of n rows and m (default n) columns (PyTorch: <c>torch.eye</c>).</summary>
    public static Tensor Eye(int n, int? m = null, DType dtype = DType.Float32)
    {
        int cols = m ?? n;
        var t = Empty([n, cols], dtype);
        for (int i = 0; i < Math.Min(n, cols); i++) t.SetFromDouble(i * cols + i, 1.0);
        return t;
    }

    internal void SetFromDouble(int storageIndex, double value)
    {
        switch (Storage)
        {
            case Storage<float> s: s.Data[storageIndex] = (float)value; break;
            case Storage<double> s: s.Data[storageIndex] = value; break;
            case Storage<long> s: s.Data[storageIndex] = (long)value; break;
            case Storage<int> s: s.Data[storageIndex] = (int)value; break;
            case Storage<bool> s: s.Data[storageIndex] = value != 0; break;
            case Storage<byte> s: s.Data[storageIndex] = (byte)value; break;
        }
    }

    /// <summary>Resolves one -1 in a shape against an element count, with a clear error on mismatch.</summary>
    internal static int[] ResolveShape(int[] shape, int count, string op)
    {
        int infer = -1;
        long known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"{op}: only one dimension can be -1, but shape {ShapeUtil.Format(shape)} has more.");
                infer = i;
            }
            else if (shape[i] < 0) throw new ArgumentException($"{op}: invalid size {shape[i]} in shape {ShapeUtil.Format(shape)}.");
            else known = Math.Min(known * shape[i], (long)int.MaxValue + 1); // (capped: it is only compared with an int count)
        }
        var result = (int[])shape.Clone();
        if (infer >= 0)
        {
            if (known == 0)
            {
                throw new ArgumentException(count == 0
                    ? $"{op}: cannot reshape a tensor of 0 elements into shape {ShapeUtil.Format(shape)}: the -1 dimension could be any size (ambiguous). Give every size explicitly."
                    : $"{op}: shape {ShapeUtil.Format(shape)} is invalid for input of size {count}: its other sizes multiply to 0, so no size for -1 fits.");
            }
            if (count % known != 0)
            {
                throw new ArgumentException($"{op}: shape {ShapeUtil.Format(shape)} is invalid for input of size {count}: {count} is not divisible by {known}.");
            }
            result[infer] = (int)(count / known);
        }
        else if (known != count)
        {
            throw new ArgumentException($"{op}: shape {ShapeUtil.Format(shape)} holds {known} elements, but the input has {count}. The element counts must match.");
        }
        return result;
    }
}
