#!/usr/bin/python3
"""PyTorch reference values for Var and Std (issue 12: compiled Var/Std, one kernel with eager): Bessel's correction
(unbiased / correction=), dims (one, several, not adjacent, all) and keepdim.

Run from anywhere with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/SharpGrad.Tests/Fixtures/catalogue/variance.py

It writes variance.safetensors next to itself: for each case NAME, NAME.x, NAME.out, NAME.seed_grad and NAME.grad_x, all
float64; the options are in the case name and in VarianceTests.cs. Deterministic (fixed seed, CPU, one thread).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reduction_cases import case, randn, save, torch  # noqa: E402

case("var_all", lambda x: x.var(), randn(3, 4))
case("var_dim1_biased_keepdim", lambda x: x.var(1, unbiased=False, keepdim=True), randn(2, 5, 3))
case("var_dims_0_2_correction_2", lambda x: torch.var(x, dim=(0, 2), correction=2), randn(3, 2, 4))
case("var_dims_1_2_keepdim", lambda x: x.var((1, 2), keepdim=True), randn(2, 3, 4))
case("std_last_correction_0", lambda x: torch.std(x, dim=-1, correction=0), randn(4, 6))
case("std_all_unbiased", lambda x: x.std(), randn(2, 3, 2))
case("std_dim0_keepdim", lambda x: x.std(0, keepdim=True), randn(5, 3))

save("variance.safetensors", "variance.py")
