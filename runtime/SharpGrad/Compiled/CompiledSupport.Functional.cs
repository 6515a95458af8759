using SharpGrad.Kernels;

namespace SharpGrad;

// Glue for the compiled Functional forms of the layers whose weights are values of the program (the module's own
// parameters): Functional.Linear(x, weight, bias). The same GEMM kernel as every product.
public static partial class CompiledSupport
{
    /// <summary>y = x · wᵀ (+ b) over <paramref name="n"/> × RowsPerItem rows: x [rows, in], w [out, in], b [out] or null.</summary>
    public static void FunctionalLinearForward(float[] x, float[] w, float[]? b, float[] y, int n, LinearShape shape)
    {
        int rows = n * shape.RowsPerItem, inF = shape.InFeatures, outF = shape.OutFeatures;
        Gemm.Sgemm(false, true, rows, outF, inF, 1f, x, 0, inF, w, 0, inF, 0f, y, 0, outF);
        if (b is null) return;
        for (int r = 0; r < rows; r++)
        {
            var row = new System.Span<float>(y, r * outF, outF);
            for (int j = 0; j < outF; j++) row[j] += b[j];
        }
    }

    /// <summary>The gradients of <see cref="FunctionalLinearForward"/>, added to: gx += gy · w, gw += gyᵀ · x, gb += gy summed over rows; each may be null.</summary>
    public static void FunctionalLinearBackward(float[] x, float[] w, float[] gy, float[]? gx, float[]? gw, float[]? gb, int n, LinearShape shape)
    {
        int rows = n * shape.RowsPerItem, inF = shape.InFeatures, outF = shape.OutFeatures;
        if (gx is not null) Gemm.Sgemm(false, false, rows, inF, outF, 1f, gy, 0, outF, w, 0, inF, 1f, gx, 0, inF);
        if (gw is not null) Gemm.Sgemm(true, false, outF, inF, rows, 1f, gy, 0, outF, x, 0, inF, 1f, gw, 0, inF);
        if (gb is null) return;
        for (int r = 0; r < rows; r++)
        {
            var row = new System.ReadOnlySpan<float>(gy, r * outF, outF);
            for (int j = 0; j < outF; j++) gb[j] += row[j];
        }
    }
}
