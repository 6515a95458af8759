using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.ViewOfTransposedAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2005Tests
{
    [Fact]
    public Task Fires_on_flattening_a_transpose()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn(2, 3, 4);
            var y = {|#0:x.Transpose(1, 2).View(-1)|};
            """),
            VerifyCS.Diagnostic("SG2005").WithLocation(0).WithArguments("-1", "x.Transpose(1, 2)", "Transpose(1, 2)", "[2, 4, 3]"));

    [Fact]
    public Task Fires_through_a_local_and_on_Permute_and_T()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Zeros(2, 3) * 2f;
            var p = x.Permute(1, 0);
            var a = {|SG2005:p.View(6)|};
            var b = {|SG2005:Tensor.Ones(2, 3).T().View(6)|};
            """));

    [Fact]
    public Task Silent_with_Reshape_or_Contiguous()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn(2, 3, 4);
            var a = x.Transpose(1, 2).Reshape(-1);
            var b = x.Transpose(1, 2).Contiguous().View(-1);
            """));

    [Fact]
    public Task Silent_when_the_view_is_compatible_with_the_strides()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn(2, 3, 4);
            var split = x.Transpose(0, 1).View(3, 2, 2, 2);
            var same = x.Transpose(1, 2).View(2, 4, 3);
            var ones = Tensor.Randn(1, 5).Transpose(0, 1).View(5);
            var noop = x.Transpose(1, 1).View(-1);
            """));

    [Fact]
    public Task Silent_when_shape_or_contiguity_is_not_known()
        => VerifyCS.Analyzer("""
            using SharpGrad;
            class C
            {
                void M([Shape(2, 3)] Tensor x, Tensor y, int n)
                {
                    var a = x.Transpose(0, 1).View(6);
                    var b = y.Transpose(0, 1).View(-1);
                    var c = Tensor.Randn(n, 3).Transpose(0, 1).View(-1);
                }
            }
            """);

    [Fact]
    public Task Fix_uses_Reshape()
        => VerifyCS.Fix<ReshapeInsteadOfViewFix>(
            Method("""
                var x = Tensor.Randn(2, 3, 4);
                var y = {|SG2005:x.Transpose(1, 2).View(-1)|};
                """),
            Method("""
                var x = Tensor.Randn(2, 3, 4);
                var y = x.Transpose(1, 2).Reshape(-1);
                """));

    [Fact]
    public Task Fix_uses_Contiguous_then_View()
        => VerifyCS.Fix<ReshapeInsteadOfViewFix>(
            Method("""
                var x = Tensor.Randn(2, 3, 4);
                var y = {|SG2005:x.Transpose(1, 2).View(-1)|};
                """),
            Method("""
                var x = Tensor.Randn(2, 3, 4);
                var y = x.Transpose(1, 2).Contiguous().View(-1);
                """),
            codeActionIndex: 1);
}
