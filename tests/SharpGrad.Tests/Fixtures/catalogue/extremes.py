#!/usr/bin/python3
"""PyTorch reference values for max() and min() of all elements (issue 12: compiled Max()/Min(), one backward kernel with
eager): the gradient is split evenly among the elements equal to the result (ties), as torch 1.13's max()/min().

Run from anywhere with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/SharpGrad.Tests/Fixtures/catalogue/extremes.py

It writes extremes.safetensors next to itself: for each case NAME, NAME.x, NAME.out, NAME.seed_grad and NAME.grad_x, all
float64 (CompiledReductionTests.MaxAndMinOfAllElementsMatchPyTorch). Deterministic (fixed seed, CPU, one thread).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reduction_cases import case, randn, save, torch  # noqa: E402

case("max_three_ties", lambda x: x.max(), torch.tensor([[1.0, 3.0, 3.0], [0.0, 3.0, 2.0]]))
case("min_two_ties", lambda x: x.min(), torch.tensor([[-1.0, 4.0], [2.0, -1.0], [0.5, 7.0]]))
case("max_single", lambda x: x.max(), randn(2, 3, 4))
case("min_single", lambda x: x.min(), randn(5, 3))
case("max_all_equal", lambda x: x.max(), torch.full((2, 2), 0.25))
case("min_relu_zeros", lambda x: x.relu().min(), randn(3, 4))

save("extremes.safetensors", "extremes.py")
