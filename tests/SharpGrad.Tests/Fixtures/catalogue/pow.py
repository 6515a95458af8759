#!/usr/bin/python3
"""PyTorch reference values for pow(tensor, tensor) (issue 12: Pow of two tensors compiled, one kernel and derivative with
eager): the output and both gradients, with PyTorch's special cases (d/dx is 0 where the exponent is 0; d/dy is 0 where
the base is 0 and the exponent is not negative) and broadcasting.

Run from anywhere with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/SharpGrad.Tests/Fixtures/catalogue/pow.py

It writes pow.safetensors next to itself: for each case NAME, NAME.x, NAME.y, NAME.out, NAME.seed_grad, NAME.grad_x and
NAME.grad_y, all float64 (CompiledFunctionalTests.PowOfTwoTensorsMatchesPyTorch). Deterministic (fixed seed, CPU, one thread).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reduction_cases import save, tensors, torch  # noqa: E402


def case(name, x, y):
    x = x.clone().double().requires_grad_(True)
    y = y.clone().double().requires_grad_(True)
    out = x.pow(y)
    seed = torch.randn(out.shape, dtype=torch.float64)
    out.backward(seed)
    for key, value in (("x", x), ("y", y), ("out", out), ("seed_grad", seed), ("grad_x", x.grad), ("grad_y", y.grad)):
        tensors[f"{name}.{key}"] = value.detach()


case("zero_base_and_exponent", torch.tensor([0.0, 0.0, 2.0, 0.5, 3.0, 0.0]), torch.tensor([2.0, 0.0, 0.0, -1.5, 0.5, 1.0]))
case("broadcast_exponent", torch.rand(3, 4) * 2 + 0.25, torch.randn(4))
case("broadcast_base", torch.rand(4) + 0.5, torch.randn(2, 3, 4))

save("pow.safetensors", "pow.py")
