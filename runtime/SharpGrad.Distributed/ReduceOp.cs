namespace SharpGrad.Distributed;

/// <summary>How <see cref="ProcessGroup.AllReduce"/> combines the ranks' values, element by element (PyTorch:
/// <c>torch.distributed.ReduceOp</c>).</summary>
public enum ReduceOp
{
    /// <summary>The sum (PyTorch: <c>ReduceOp.SUM</c>).</summary>
    Sum,
    /// <summary>The mean over the ranks: the sum divided by <see cref="ProcessGroup.Size"/>; floating-point tensors only
    /// (PyTorch: <c>ReduceOp.AVG</c>).</summary>
    Average,
    /// <summary>The product (PyTorch: <c>ReduceOp.PRODUCT</c>).</summary>
    Product,
    /// <summary>The maximum (PyTorch: <c>ReduceOp.MAX</c>); on Bool tensors a logical or.</summary>
    Max,
    /// <summary>The minimum (PyTorch: <c>ReduceOp.MIN</c>); on Bool tensors a logical and.</summary>
    Min,
}
