#!/usr/bin/python3
"""PyTorch reference values for the training utilities, the composite layers and the model zoo (issue 13).

Run from anywhere with Debian's PyTorch 1.13 / torchvision 0.14:

    /usr/bin/python3 tests/SharpGrad.Tests/Fixtures/arch/generate.py            # every section
    /usr/bin/python3 tests/SharpGrad.Tests/Fixtures/arch/generate.py layers     # one section: training, layers, zoo

It writes, next to itself: training.safetensors, layers.safetensors, zoo/<model>.pt + zoo/<model>.safetensors and
manifest.json (the options of every case). The output is deterministic (fixed seeds, CPU, one thread).
See README.md in this folder for what each file holds.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)

_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.bool: "BOOL"}


def save_safetensors(path, tensors, metadata=None):
    """A minimal safetensors writer (the `safetensors` package is not in Debian 12)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in _DTYPES:
            raise TypeError(f"{name}: unsupported dtype {t.dtype}")
        data = t.numpy().tobytes() if t.dtype != torch.bool else t.to(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Out:
    """Collects the tensors of one .safetensors file and the manifest entries of its cases."""

    def __init__(self, name):
        self.name, self.tensors, self.cases = name, {}, []

    def put(self, key, t):
        assert key not in self.tensors, key
        self.tensors[key] = t.detach().clone()

    def case(self, **entry):
        self.cases.append(entry)

    def write(self, manifest):
        save_safetensors(os.path.join(HERE, self.name), self.tensors, {"generated_by": "generate.py"})
        manifest[self.name] = self.cases


# --------------------------------------------------------------------------------------------------------------------
# training utilities: optimizers, LBFGS, schedulers, gradient clipping, random_split lengths, CTC loss
# --------------------------------------------------------------------------------------------------------------------

def training(manifest):
    out = Out("training.safetensors")
    torch.manual_seed(1234)

    # --- element-wise optimizers: the same gradients fed for 10 steps, parameters recorded after each step
    steps = 10
    p0 = [torch.randn(3, 4), torch.randn(5)]
    for i, p in enumerate(p0):
        out.put(f"opt.p{i}", p)
    grads = [[torch.randn_like(p) for p in p0] for _ in range(steps)]
    for k in range(steps):
        for i in range(len(p0)):
            out.put(f"opt.grad{k}.p{i}", grads[k][i])
    configs = [
        ("adadelta", "Adadelta", {}),
        ("adadelta_options", "Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1, "maximize": True}),
        ("adamax", "Adamax", {}),
        ("adamax_options", "Adamax", {"lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.05, "maximize": True}),
        ("nadam", "NAdam", {}),
        ("nadam_options", "NAdam", {"lr": 0.01, "betas": [0.85, 0.995], "eps": 1e-7, "weight_decay": 0.05, "momentum_decay": 0.01}),
        ("radam", "RAdam", {}),
        ("radam_options", "RAdam", {"lr": 0.01, "betas": [0.8, 0.9], "eps": 1e-6, "weight_decay": 0.05}),
    ]
    for name, cls, kw in configs:
        for dtype in (torch.float32, torch.float64):
            ps = [p.clone().to(dtype).requires_grad_() for p in p0]
            args = dict(kw)
            if "betas" in args:
                args["betas"] = tuple(args["betas"])
            opt = getattr(torch.optim, cls)(ps, **args)
            for k in range(steps):
                for p, g in zip(ps, grads[k]):
                    p.grad = g.clone().to(dtype)
                opt.step()
                for i, p in enumerate(ps):
                    out.put(f"opt.{name}.{'f64' if dtype == torch.float64 else 'f32'}.after{k}.p{i}", p)
        out.case(case=name, kind="optimizer", optimizer=cls, kwargs=kw, steps=steps, params=len(p0))

    # --- LBFGS on two smooth problems; parameters after each step(closure) and the loss it returned
    lbfgs_cases = [
        ("lbfgs_logistic", "logistic", {"lr": 1, "max_iter": 20}, 3),
        ("lbfgs_logistic_history3", "logistic", {"lr": 0.8, "max_iter": 15, "history_size": 3}, 3),
        ("lbfgs_logistic_wolfe", "logistic", {"max_iter": 20, "line_search_fn": "strong_wolfe"}, 2),
        ("lbfgs_rosenbrock_wolfe", "rosenbrock", {"max_iter": 25, "history_size": 10, "line_search_fn": "strong_wolfe"}, 3),
        ("lbfgs_rosenbrock_maxeval", "rosenbrock", {"lr": 0.5, "max_iter": 10, "max_eval": 6}, 4),
    ]
    X = torch.randn(24, 5, dtype=torch.float64)
    y = (torch.rand(24, dtype=torch.float64) > 0.5).to(torch.float64) * 2 - 1
    out.put("lbfgs.X", X)
    out.put("lbfgs.y", y)

    def objective(kind, w, dtype):
        if kind == "logistic":
            # mean(softplus(-y * Xw)) + 0.01 * |w|^2
            z = -(y.to(dtype) * (X.to(dtype) @ w))
            return F.softplus(z).mean() + 0.01 * (w * w).sum()
        # Rosenbrock in 4 dims: sum 100 (w[i+1] - w[i]^2)^2 + (1 - w[i])^2
        a, b = w[:-1], w[1:]
        return (100 * (b - a * a) ** 2 + (1 - a) ** 2).sum()

    for name, kind, kw, outer in lbfgs_cases:
        for dtype in (torch.float64, torch.float32):
            w = (torch.zeros(5) if kind == "logistic" else torch.tensor([-1.2, 1.0, -0.5, 0.8])).to(dtype).requires_grad_()
            opt = torch.optim.LBFGS([w], **kw)

            def closure():
                opt.zero_grad()
                loss = objective(kind, w, dtype)
                loss.backward()
                return loss

            tag = "f64" if dtype == torch.float64 else "f32"
            for k in range(outer):
                loss = opt.step(closure)
                out.put(f"lbfgs.{name}.{tag}.loss{k}", loss.reshape([]))
                out.put(f"lbfgs.{name}.{tag}.after{k}", w)
            st = opt.state[w]
            out.put(f"lbfgs.{name}.{tag}.func_evals", torch.tensor(st["func_evals"], dtype=torch.int64))
            out.put(f"lbfgs.{name}.{tag}.n_iter", torch.tensor(st["n_iter"], dtype=torch.int64))
        out.case(case=name, kind="lbfgs", problem=kind, kwargs=kw, steps=outer)

    # --- LR schedulers: the learning rate of each group before each of n steps (epoch 0 .. n-1)
    def sgd(lrs):
        return torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=lrs[0])

    def record(name, opt, sched, n, step=None, extra=None):
        lrs = []
        for e in range(n):
            lrs.append([g["lr"] for g in opt.param_groups])
            if step is None:
                opt.step()
                sched.step()
            else:
                step(e)
        out.put(f"sched.{name}", torch.tensor(lrs, dtype=torch.float64))
        out.case(case=name, kind="scheduler", epochs=n, **(extra or {}))

    opt = sgd([0.1, 0.02])
    record("lambda", opt, torch.optim.lr_scheduler.LambdaLR(opt, [lambda e: 0.95 ** e, lambda e: 1.0 / (1 + e // 3)]), 12,
           extra={"note": "group 0: 0.95**epoch; group 1: 1 / (1 + epoch // 3)"})
    opt = sgd([0.1])
    record("linear_warmup", opt, torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=4), 8,
           extra={"start_factor": 0.25, "end_factor": 1.0, "total_iters": 4})
    opt = sgd([0.1, 0.05])
    record("linear_decay", opt, torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=6), 10,
           extra={"start_factor": 1.0, "end_factor": 0.1, "total_iters": 6})
    opt = sgd([0.1])
    s1 = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    s2 = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    record("sequential_warmup_exp", opt, torch.optim.lr_scheduler.SequentialLR(opt, [s1, s2], milestones=[3]), 10,
           extra={"note": "LinearLR(start_factor=0.1, total_iters=3), ExponentialLR(gamma=0.9); milestones [3]"})
    opt = sgd([0.2])
    s1 = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
    s2 = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.01)
    s3 = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    record("sequential_three", opt, torch.optim.lr_scheduler.SequentialLR(opt, [s1, s2, s3], milestones=[2, 6]), 12,
           extra={"note": "LinearLR(0.5, total_iters=2), CosineAnnealingLR(T_max=4, eta_min=0.01), StepLR(2, 0.5); milestones [2, 6]"})
    opt = sgd([0.1, 0.01])
    record("warm_restarts", opt, torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.001), 25,
           extra={"T_0": 3, "T_mult": 2, "eta_min": 0.001})
    opt = sgd([0.1])
    record("warm_restarts_tmult1", opt, torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4), 10,
           extra={"T_0": 4, "T_mult": 1, "eta_min": 0.0})
    opt = sgd([0.1])
    wr = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=3, eta_min=0.0)
    record("warm_restarts_fractional", opt, wr, 30, step=lambda e: wr.step((e + 1) * 0.4),
           extra={"T_0": 2, "T_mult": 3, "eta_min": 0.0, "note": "step(epoch) with epoch = 0.4, 0.8, ..."})
    opt = sgd([0.1])
    wr1 = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=1, eta_min=0.01)
    record("warm_restarts_fractional_tmult1", opt, wr1, 20, step=lambda e: wr1.step((e + 1) * 0.7),
           extra={"T_0": 3, "T_mult": 1, "eta_min": 0.01, "note": "step(epoch) with epoch = 0.7, 1.4, ..."})

    metrics = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.89, 0.899, 0.9, 0.95, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.5, 0.5, 0.5, 0.5]
    out.put("plateau.metrics", torch.tensor(metrics, dtype=torch.float64))
    plateau = [
        ("plateau_min_rel", [0.1, 0.05], {"patience": 2}),
        ("plateau_min_abs_cooldown", [0.1], {"patience": 1, "threshold": 0.05, "threshold_mode": "abs", "cooldown": 2, "factor": 0.5}),
        ("plateau_max_rel_minlr", [0.1, 0.02], {"mode": "max", "patience": 0, "factor": 0.3, "min_lr": [0.01, 0.005]}),
        ("plateau_eps", [1e-7], {"patience": 0, "factor": 0.5, "eps": 1e-7}),
    ]
    for name, lrs, kw in plateau:
        opt = sgd(lrs)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
        record(name, opt, sched, len(metrics), step=lambda e: sched.step(metrics[e]), extra={"kwargs": kw})

    # --- clip_grad_norm_ / clip_grad_value_
    grads = [torch.randn(4, 3) * 2, torch.randn(7), torch.randn(2, 2, 2) * 0.1]
    for i, g in enumerate(grads):
        out.put(f"clip.grad{i}", g)
    for norm_type, key in [(2.0, "2"), (1.0, "1"), (float("inf"), "inf"), (3.5, "3.5"), (0.5, "0.5")]:
        for max_norm in (0.5, 100.0):
            ps = [torch.zeros_like(g, requires_grad=True) for g in grads]
            for p, g in zip(ps, grads):
                p.grad = g.clone()
            total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
            name = f"norm_{key}_max{max_norm:g}"
            out.put(f"clip.{name}.total", total)
            for i, p in enumerate(ps):
                out.put(f"clip.{name}.grad{i}", p.grad)
            out.case(case=name, kind="clip_grad_norm", norm_type=key, max_norm=max_norm)
    bad = [grads[0].clone(), grads[1].clone()]
    bad[1][3] = float("inf")
    ps = [torch.zeros_like(g, requires_grad=True) for g in bad]
    for p, g in zip(ps, bad):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, 1.0)
    out.put("clip.nonfinite.total", total)
    for i, p in enumerate(ps):
        out.put(f"clip.nonfinite.in{i}", bad[i])
        out.put(f"clip.nonfinite.grad{i}", p.grad)
    out.case(case="nonfinite", kind="clip_grad_norm", norm_type="2", max_norm=1.0, note="grad1[3] = inf; error_if_nonfinite=False")
    ps = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_value_(ps, 0.3)
    for i, p in enumerate(ps):
        out.put(f"clip.value0.3.grad{i}", p.grad)
    out.case(case="value0.3", kind="clip_grad_value", clip_value=0.3)

    # --- random_split: the lengths PyTorch derives from fractions
    for n, fracs in [(10, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]), (7, [0.1, 0.2, 0.7]), (5, [0.34, 0.33, 0.33]), (100, [0.8, 0.1, 0.1]),
                     (3, [0.5, 0.25, 0.25]), (9, [1.0])]:
        subsets = torch.utils.data.random_split(range(n), fracs, generator=torch.Generator().manual_seed(0))
        out.case(case=f"split_{n}_{len(fracs)}", kind="random_split", n=n, fractions=fracs, lengths=[len(s) for s in subsets])

    # --- CTC loss: outputs and gradients (of the log-probabilities, and of logits through log_softmax)
    def ctc_case(name, T, N, C, targets, input_lengths, target_lengths, blank=0, zero_infinity=False, unbatched=False):
        logits = torch.randn(T, C) if unbatched else torch.randn(T, N, C)
        out.put(f"ctc.{name}.logits", logits)
        out.put(f"ctc.{name}.targets", targets)
        out.put(f"ctc.{name}.input_lengths", torch.tensor(input_lengths, dtype=torch.int64))
        out.put(f"ctc.{name}.target_lengths", torch.tensor(target_lengths, dtype=torch.int64))
        for reduction in ("mean", "sum", "none"):
            lp = logits.log_softmax(-1).detach().requires_grad_()
            lg = logits.clone().requires_grad_()
            il = torch.tensor(input_lengths) if not unbatched else torch.tensor(input_lengths[0])
            tl = torch.tensor(target_lengths) if not unbatched else torch.tensor(target_lengths[0])
            loss = F.ctc_loss(lp, targets, il, tl, blank=blank, reduction=reduction, zero_infinity=zero_infinity)
            seed = torch.ones_like(loss) if reduction != "none" else torch.linspace(-1, 1, loss.numel()).reshape(loss.shape)
            loss.backward(seed)
            loss2 = F.ctc_loss(lg.log_softmax(-1), targets, il, tl, blank=blank, reduction=reduction, zero_infinity=zero_infinity)
            loss2.backward(seed)
            out.put(f"ctc.{name}.{reduction}.out", loss)
            out.put(f"ctc.{name}.{reduction}.seed", seed)
            out.put(f"ctc.{name}.{reduction}.grad_log_probs", lp.grad)
            out.put(f"ctc.{name}.{reduction}.grad_logits", lg.grad)
        out.case(case=name, kind="ctc", blank=blank, zero_infinity=zero_infinity, unbatched=unbatched,
                 targets="concatenated" if targets.dim() == 1 and not unbatched else "padded")

    ctc_case("padded", 12, 3, 6, torch.tensor([[1, 2, 2, 3], [4, 1, 0, 0], [5, 5, 3, 0]]), [12, 10, 8], [4, 2, 3])
    ctc_case("concatenated_blank_last", 10, 3, 5, torch.tensor([0, 1, 1, 2, 3, 3, 0]), [10, 9, 7], [3, 1, 3], blank=4)
    ctc_case("impossible", 4, 2, 4, torch.tensor([[1, 1, 1], [2, 3, 0]]), [4, 4], [3, 2])
    ctc_case("impossible_zero_inf", 4, 2, 4, torch.tensor([[1, 1, 1], [2, 3, 0]]), [4, 4], [3, 2], zero_infinity=True)
    ctc_case("empty_target", 5, 2, 3, torch.tensor([[1, 2], [0, 0]]), [5, 3], [2, 0])
    ctc_case("unbatched", 8, 1, 5, torch.tensor([1, 3, 3, 2]), [8], [4], unbatched=True)
    out.write(manifest)


# --------------------------------------------------------------------------------------------------------------------

def main():
    sections = {"training": training}
    chosen = sys.argv[1:] or list(sections)
    path = os.path.join(HERE, "manifest.json")
    manifest = json.load(open(path)) if os.path.exists(path) else {}
    manifest["generated_by"] = f"generate.py with torch {torch.__version__}"
    for name in chosen:
        sections[name](manifest)
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
