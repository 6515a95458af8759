"""What variance.py and extremes.py share: a deterministic torch (CPU, one thread, seed 12), the case recorder (NAME.x,
NAME.out, NAME.seed_grad, NAME.grad_x, float64) and the writer of the .safetensors next to these scripts."""
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


def save(file_name, script):
    _arch.save_safetensors(os.path.join(HERE, file_name), tensors,
                           {"generator": f"tests/SharpGrad.Tests/Fixtures/catalogue/{script}", "torch": torch.__version__})
    print(f"wrote {len(tensors)} tensors")
