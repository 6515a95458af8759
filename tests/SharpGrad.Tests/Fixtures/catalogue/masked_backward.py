#!/usr/bin/python3
"""PyTorch reference gradients of the pointwise ops whose backward selects rather than multiplies (ReLU's
threshold_backward, hardtanh_backward, clamp_backward, the shrinks', hardsigmoid_backward, sign's zeros) and of three
whose backward multiplies (LeakyReLU, also with slope 0, and Abs), under an upstream gradient holding NaN, +inf, -inf
and negative values: where the derivative is 0, PyTorch's select writes +0 and the product writes NaN (NaN·0, inf·0).

Run from anywhere with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/SharpGrad.Tests/Fixtures/catalogue/masked_backward.py

It writes masked_backward.safetensors next to itself: for each case NAME, NAME.x, NAME.out, NAME.seed_grad and
NAME.grad_x, all float64 (MaskedBackwardTests). Deterministic (fixed seed, CPU, one thread).
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reduction_cases import randn, save, tensors, torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# 37 elements: two 16-float vectors and a scalar tail on AVX-512, four 8-float vectors and a tail on AVX2. The inputs
# include each op's break points (0, ±0.5, ±3, the clamp's bounds) and the upstream gradient a NaN, ±inf and negative
# values at elements on both sides of them.
base = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0, -3.0, 3.0, 6.0, 7.0, -0.4, 0.6, -1e-3, 1e-3, 0.25, -0.25],
                    dtype=torch.float64)
x = torch.cat([base, randn(22)])
seed = torch.randn(37, dtype=torch.float64)
specials = [math.nan, math.inf, -math.inf, -1.5]
for i in range(37):
    if i % 3 == 2:
        seed[i] = specials[(i // 3) % len(specials)]


def case(name, fn):
    xi = x.clone().requires_grad_(True)
    out = fn(xi)
    out.backward(seed)
    tensors[f"{name}.x"] = x.clone()
    tensors[f"{name}.grad_x"] = xi.grad.detach()
    tensors[f"{name}.out"] = out.detach()
    tensors[f"{name}.seed_grad"] = seed.clone()


case("relu", torch.relu)
case("relu6", F.relu6)
case("hardtanh", lambda t: F.hardtanh(t, -0.5, 0.7))
case("softshrink", lambda t: F.softshrink(t, 0.5))
case("hardshrink", lambda t: F.hardshrink(t, 0.5))
case("hardsigmoid", F.hardsigmoid)
case("clamp", lambda t: t.clamp(-0.4, 0.6))
case("sign", torch.sign)
case("leaky_relu", lambda t: F.leaky_relu(t, 0.1))
case("leaky_relu_zero_slope", lambda t: F.leaky_relu(t, 0.0))
case("abs", torch.abs)

save("masked_backward.safetensors", "masked_backward.py")
