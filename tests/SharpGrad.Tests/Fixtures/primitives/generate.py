#!/usr/bin/python3
"""PyTorch reference values for issue 13's primitive layers: Upsample/interpolate, pad/ZeroPad2d, GroupNorm,
InstanceNorm1d/2d, RMSNorm, MaxPool1d, AvgPool1d, AdaptiveMaxPool2d, ConvTranspose1d.

Run with Debian 12's PyTorch 1.13 (CPU, one thread, fixed seed; the output is deterministic):

    /usr/bin/python3 tests/SharpGrad.Tests/Fixtures/primitives/generate.py

It writes primitives.safetensors and manifest.json next to itself (README.md says what they hold). The safetensors
writer is the one of ../arch/generate.py.

RMSNorm is not in PyTorch 1.13: its reference here is PyTorch 2.4's torch.nn.functional.rms_norm written with torch ops
(x * rsqrt(mean(x^2 over the normalized dims) + eps) * weight, eps=None meaning torch.finfo(x.dtype).eps).
"""
import importlib.util
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)

_spec = importlib.util.spec_from_file_location("arch_generate", os.path.join(HERE, "..", "arch", "generate.py"))
_arch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_arch)
save_safetensors = _arch.save_safetensors


class RMSNorm(nn.Module):
    """PyTorch 2.4's nn.RMSNorm (normalized_shape, eps=None, elementwise_affine=True), from its documented formula."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(self.normalized_shape)) if elementwise_affine else None

    def forward(self, x):
        dims = tuple(range(-len(self.normalized_shape), 0))
        eps = torch.finfo(x.dtype).eps if self.eps is None else self.eps
        y = x * torch.rsqrt(torch.mean(x.pow(2), dim=dims, keepdim=True) + eps)
        return y * self.weight if self.weight is not None else y


def main():
    torch.manual_seed(2024)
    tensors, cases = {}, []

    def put(key, t):
        assert key not in tensors, key
        tensors[key] = t.detach().clone()

    def record(case, x, kind, module=None, fn=None, layer=None, function=None, unbatched_ok=True, eval_x=None):
        """One case: input CASE.in.x, state dict CASE.param.NAME (perturbed), output CASE.out, seed CASE.seed, gradients
        CASE.grad_in.x and CASE.grad.NAME, buffers after the forward CASE.after.NAME; with eval_x, CASE.in.x_eval and
        CASE.out_eval from the module in eval mode after the training forward."""
        if module is not None:
            with torch.no_grad():
                for p in module.parameters():
                    p.add_(torch.randn_like(p) * 0.1)
            for name, t in module.state_dict().items():
                put(f"{case}.param.{name}", t)
        put(f"{case}.in.x", x)
        leaf = x.clone().requires_grad_()
        out = module(leaf) if module is not None else fn(leaf)
        seed = torch.randn_like(out)
        put(f"{case}.out", out)
        put(f"{case}.seed", seed)
        (out * seed).sum().backward()
        put(f"{case}.grad_in.x", leaf.grad)
        if module is not None:
            for name, p in module.named_parameters():
                put(f"{case}.grad.{name}", p.grad)
            for name, b in module.named_buffers():
                put(f"{case}.after.{name}", b)
        if eval_x is not None:
            module.eval()
            put(f"{case}.in.x_eval", eval_x)
            put(f"{case}.out_eval", module(eval_x))
        entry = {"case": case, "kind": kind}
        if layer is not None:
            entry["layer"] = layer
        if function is not None:
            entry["function"] = function
        entry["eval"] = eval_x is not None
        cases.append(entry)

    def layer_case(case, cls, kwargs, x, ctor=None, eval_x=None):
        module = (ctor or getattr(nn, cls))(**{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()})
        record(case, x, "layer", module=module, layer={"kind": cls, "args": kwargs}, eval_x=eval_x)

    def function_case(case, name, kwargs, x):
        fn = getattr(F, name)
        record(case, x, "function", fn=lambda t: fn(t, **kwargs), function={"name": name, "args": kwargs})

    r = torch.randn

    # --- Upsample / interpolate
    layer_case("upsample_nearest_x2", "Upsample", {"scale_factor": 2}, r(2, 3, 5, 4))
    layer_case("upsample_nearest_size", "Upsample", {"size": [7, 9]}, r(2, 3, 5, 4))
    layer_case("upsample_nearest_scale_1_7", "Upsample", {"scale_factor": 1.7}, r(1, 2, 5, 6))
    layer_case("upsample_nearest_1d", "Upsample", {"scale_factor": 2.5}, r(2, 3, 5))
    layer_case("upsample_bilinear_x2", "Upsample", {"scale_factor": 2, "mode": "bilinear"}, r(2, 3, 5, 4))
    layer_case("upsample_bilinear_align_size", "Upsample", {"size": [7, 6], "mode": "bilinear", "align_corners": True}, r(2, 3, 5, 4))
    layer_case("upsample_bilinear_scale_pair", "Upsample", {"scale_factor": [1.5, 2.3], "mode": "bilinear", "align_corners": False}, r(1, 2, 5, 3))
    layer_case("upsample_bilinear_recompute", "Upsample", {"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True}, r(1, 2, 5, 3))
    layer_case("upsample_linear_down", "Upsample", {"size": 4, "mode": "linear"}, r(2, 3, 7))
    layer_case("upsample_linear_align", "Upsample", {"size": 11, "mode": "linear", "align_corners": True}, r(2, 3, 7))
    function_case("interpolate_bilinear_down", "interpolate", {"size": [4, 3], "mode": "bilinear"}, r(1, 2, 9, 7))
    function_case("interpolate_nearest_down", "interpolate", {"size": [4, 3], "mode": "nearest"}, r(1, 2, 9, 7))
    function_case("interpolate_nearest_exact", "interpolate", {"size": [7, 3], "mode": "nearest-exact"}, r(1, 2, 5, 4))

    # --- pad / ZeroPad2d
    function_case("pad_constant_2d", "pad", {"pad": [1, 2, 0, 3], "value": 0.5}, r(2, 3, 4, 5))
    function_case("pad_constant_negative", "pad", {"pad": [-1, 2, 1, -2]}, r(2, 3, 4, 5))
    function_case("pad_constant_1d", "pad", {"pad": [2, 1]}, r(2, 3, 5))
    function_case("pad_constant_3d", "pad", {"pad": [1, 1, 2, 0, 1, 1]}, r(2, 3, 4, 5))
    function_case("pad_reflect_1d", "pad", {"pad": [2, 3], "mode": "reflect"}, r(2, 3, 5))
    function_case("pad_reflect_2d", "pad", {"pad": [1, 2, 3, 1], "mode": "reflect"}, r(2, 3, 4, 5))
    function_case("pad_replicate_2d", "pad", {"pad": [2, 1, 1, 3], "mode": "replicate"}, r(2, 3, 4, 5))
    function_case("pad_replicate_1d_2d_input", "pad", {"pad": [3, 1], "mode": "replicate"}, r(3, 5))
    function_case("pad_circular_2d", "pad", {"pad": [1, 2, 2, 1], "mode": "circular"}, r(1, 2, 4, 5))
    layer_case("zeropad2d", "ZeroPad2d", {"padding": [1, 2, 0, 1]}, r(2, 3, 4, 5))
    layer_case("zeropad2d_int", "ZeroPad2d", {"padding": 2}, r(3, 4, 3))

    # --- GroupNorm, InstanceNorm, RMSNorm
    layer_case("groupnorm_3d", "GroupNorm", {"num_groups": 3, "num_channels": 6}, r(2, 6, 5))
    layer_case("groupnorm_4d", "GroupNorm", {"num_groups": 2, "num_channels": 6}, r(3, 6, 4, 3))
    layer_case("groupnorm_noaffine", "GroupNorm", {"num_groups": 1, "num_channels": 4, "eps": 1e-3, "affine": False}, r(2, 4, 3, 3) * 3 + 1)
    layer_case("instancenorm1d", "InstanceNorm1d", {"num_features": 3}, r(2, 3, 7))
    layer_case("instancenorm2d_affine", "InstanceNorm2d", {"num_features": 4, "affine": True}, r(2, 4, 5, 3))
    layer_case("instancenorm2d_track", "InstanceNorm2d", {"num_features": 3, "momentum": 0.2, "track_running_stats": True},
               r(4, 3, 4, 5) * 2 + 0.5, eval_x=r(2, 3, 3, 4))
    layer_case("instancenorm1d_unbatched", "InstanceNorm1d", {"num_features": 3, "affine": True}, r(3, 6))
    layer_case("rmsnorm", "RMSNorm", {"normalized_shape": [6]}, r(2, 4, 6), ctor=RMSNorm)
    layer_case("rmsnorm_2d_eps", "RMSNorm", {"normalized_shape": [3, 5], "eps": 1e-4}, r(2, 3, 5), ctor=RMSNorm)
    layer_case("rmsnorm_noaffine", "RMSNorm", {"normalized_shape": 5, "elementwise_affine": False}, r(3, 5) * 0.01, ctor=RMSNorm)

    # --- 1-d pooling, adaptive max pooling, ConvTranspose1d
    layer_case("maxpool1d", "MaxPool1d", {"kernel_size": 3, "stride": 2, "padding": 1}, r(2, 3, 10))
    layer_case("maxpool1d_dilation_ceil", "MaxPool1d", {"kernel_size": 2, "stride": 2, "dilation": 2, "ceil_mode": True}, r(2, 2, 9))
    layer_case("maxpool1d_unbatched", "MaxPool1d", {"kernel_size": 3}, r(3, 7))
    layer_case("avgpool1d", "AvgPool1d", {"kernel_size": 3, "stride": 2, "padding": 1}, r(2, 3, 10))
    layer_case("avgpool1d_ceil_exclude_pad", "AvgPool1d", {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True, "count_include_pad": False},
               r(2, 2, 11))
    layer_case("adaptivemaxpool2d", "AdaptiveMaxPool2d", {"output_size": [3, 4]}, r(2, 3, 7, 9))
    layer_case("adaptivemaxpool2d_unbatched", "AdaptiveMaxPool2d", {"output_size": 2}, r(3, 5, 5))
    layer_case("convtranspose1d", "ConvTranspose1d",
               {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1, "groups": 2}, r(2, 4, 7))
    layer_case("convtranspose1d_dilation_nobias", "ConvTranspose1d",
               {"in_channels": 3, "out_channels": 2, "kernel_size": 4, "stride": 3, "padding": 2, "dilation": 2, "bias": False}, r(2, 3, 5))

    # indices of the max poolings (return_indices=True)
    x = tensors["maxpool1d.in.x"]
    put("maxpool1d.indices", F.max_pool1d(x, 3, 2, 1, return_indices=True)[1])
    x = tensors["adaptivemaxpool2d.in.x"]
    put("adaptivemaxpool2d.indices", F.adaptive_max_pool2d(x, (3, 4), return_indices=True)[1])

    save_safetensors(os.path.join(HERE, "primitives.safetensors"), tensors, {"generated_by": "generate.py"})
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump({"primitives.safetensors": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
