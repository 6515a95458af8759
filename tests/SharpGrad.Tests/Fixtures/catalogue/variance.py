#!/usr/bin/python3
"""PyTorch reference values for Var and Std (issue 12: compiled Var/Std, one kernel with eager): Bessel's correction
(unbiased / correction=), dims (one, several, not adjacent, all) and keepdim.

Run from anywhere with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/SharpGrad.Tests/Fixtures/catalogue/variance.py

It writes variance.safetensors next to itself: for each case NAME, NAME.x, NAME.out, NAME.seed_grad and NAME.grad_x, all
float64; the options are in the case name and in VarianceTests.cs. Deterministic (fixed seed, CPU, one thread).
"""
import importlib.util
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)
torch.manual_seed(12)

_spec = importlib.util.spec_from_file_location("arch_generate", os.path.join(HERE, "..", "arch", "generate.py"))
_arch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_arch)

tensors = {}


def case(name, fn, x):
    x = x.clone().double().requires_grad_(True)
    out = fn(x)
    seed = torch.randn(out.shape, dtype=torch.float64)
    out.backward(seed)
    tensors[f"{name}.x"] = x.detach()
    tensors[f"{name}.grad_x"] = x.grad.detach()
    tensors[f"{name}.out"] = out.detach()
    tensors[f"{name}.seed_grad"] = seed


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float64) * 1.5 + 0.3


case("var_all", lambda x: x.var(), randn(3, 4))
case("var_dim1_biased_keepdim", lambda x: x.var(1, unbiased=False, keepdim=True), randn(2, 5, 3))
case("var_dims_0_2_correction_2", lambda x: torch.var(x, dim=(0, 2), correction=2), randn(3, 2, 4))
case("var_dims_1_2_keepdim", lambda x: x.var((1, 2), keepdim=True), randn(2, 3, 4))
case("std_last_correction_0", lambda x: torch.std(x, dim=-1, correction=0), randn(4, 6))
case("std_all_unbiased", lambda x: x.std(), randn(2, 3, 2))
case("std_dim0_keepdim", lambda x: x.std(0, keepdim=True), randn(5, 3))

_arch.save_safetensors(os.path.join(HERE, "variance.safetensors"), tensors,
                       {"generator": "tests/SharpGrad.Tests/Fixtures/catalogue/variance.py", "torch": torch.__version__})
print(f"wrote {len(tensors)} tensors")
