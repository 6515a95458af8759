#!/usr/bin/python3
"""PyTorch reference values for the ops added by catalogue rows and kernels alone (issue 11): PReLU, Softshrink,
Hardshrink and GLU, functional and layer forms.

Run from anywhere with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/SharpGrad.Tests/Fixtures/catalogue/generate.py

It writes, next to itself, nn_modules.txt (the class names of torch.nn's modules, one a line: CatalogueTests checks
that every catalogue op PyTorch has a layer for has one here too) and proof_ops.safetensors: for each case NAME, NAME.x (and NAME.weight for PReLU), NAME.out,
NAME.seed_grad and NAME.grad_x (NAME.grad_weight), all float64; the options of each case are in the case name and in
ProofOpTests.cs. Deterministic (fixed seed, CPU, one thread).
"""
import importlib.util
import inspect
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)
torch.manual_seed(11)

# One safetensors writer for the repository's fixture scripts: the one in ../arch/generate.py.
_spec = importlib.util.spec_from_file_location("arch_generate", os.path.join(HERE, "..", "arch", "generate.py"))
_arch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_arch)

tensors = {}


def case(name, fn, **inputs):
    leaves = {k: v.clone().double().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**leaves)
    seed = torch.randn(out.shape, dtype=torch.float64)
    out.backward(seed)
    for k, v in leaves.items():
        tensors[f"{name}.{k}"] = v.detach()
        tensors[f"{name}.grad_{k}"] = v.grad.detach()
    tensors[f"{name}.out"] = out.detach()
    tensors[f"{name}.seed_grad"] = seed


def randn(*shape, scale=1.0):
    return torch.randn(*shape, dtype=torch.float64) * scale


case("softshrink_default", lambda x: F.softshrink(x), x=randn(4, 5))
case("softshrink_lambd_1_2", lambda x: F.softshrink(x, 1.2), x=randn(3, 7, scale=2.0))
case("hardshrink_default", lambda x: F.hardshrink(x), x=randn(4, 5))
case("hardshrink_lambd_0_3", lambda x: F.hardshrink(x, 0.3), x=randn(2, 3, 4))
case("glu_last", lambda x: F.glu(x), x=randn(3, 8))
case("glu_dim1", lambda x: F.glu(x, 1), x=randn(2, 6, 3))
case("prelu_one", lambda x, weight: F.prelu(x, weight), x=randn(4, 5), weight=torch.tensor([0.25], dtype=torch.float64))
case("prelu_channels", lambda x, weight: F.prelu(x, weight), x=randn(2, 3, 4, 4), weight=randn(3))

_arch.save_safetensors(os.path.join(HERE, "proof_ops.safetensors"), tensors,
                       {"generator": "tests/SharpGrad.Tests/Fixtures/catalogue/generate.py", "torch": torch.__version__})
modules = sorted(n for n, c in vars(torch.nn).items() if inspect.isclass(c) and issubclass(c, torch.nn.Module))
with open(os.path.join(HERE, "nn_modules.txt"), "w") as f:
    f.write("".join(m + "\n" for m in modules))
print(f"wrote {len(tensors)} tensors and {len(modules)} torch.nn module names")
