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
# composite layers: MultiheadAttention, scaled_dot_product_attention, Transformer layers and stacks, RNN/LSTM/GRU and
# their cells, Unflatten. Per case: the state dict (CASE.param.NAME), the inputs (CASE.in.NAME), the outputs
# (CASE.out.NAME), the seed gradients fed to backward (CASE.seed.NAME), and the gradients of the float inputs
# (CASE.grad_in.NAME) and of every parameter (CASE.grad.NAME).
# --------------------------------------------------------------------------------------------------------------------

def layers(manifest):
    out = Out("layers.safetensors")
    torch.manual_seed(4321)

    def record(case, module, inputs, call, **config):
        if module is not None:
            with torch.no_grad():
                # perturb every parameter so that equal initial values (zero biases, the deep-copied layers of a stack,
                # LayerNorm's ones) can't hide a mixed-up name
                for p in module.parameters():
                    p.add_(torch.randn_like(p) * 0.1)
            for name, t in module.state_dict().items():
                out.put(f"{case}.param.{name}", t)
        leaves = {}
        for name, t in inputs.items():
            out.put(f"{case}.in.{name}", t)
            leaves[name] = t.clone().requires_grad_() if t.is_floating_point() else t
        outputs = call(module, leaves)
        total = 0
        for name, o in outputs.items():
            seed = torch.randn_like(o)
            out.put(f"{case}.out.{name}", o)
            out.put(f"{case}.seed.{name}", seed)
            total = total + (o * seed).sum()
        total.backward()
        for name, t in leaves.items():
            if t.is_floating_point():
                out.put(f"{case}.grad_in.{name}", t.grad)
        if module is not None:
            for name, p in module.named_parameters():
                out.put(f"{case}.grad.{name}", p.grad)
        names = [n for n, _ in module.named_parameters()] if module is not None else []
        out.case(case=case, kind=config.pop("kind"), inputs=list(inputs), outputs=list(outputs), parameter_names=names, **config)

    # --- MultiheadAttention
    E, H, L, S, N = 8, 2, 5, 6, 3
    mha = nn.MultiheadAttention(E, H)
    x = torch.randn(L, N, E)
    record("mha_self", mha, {"x": x},
           lambda m, a: dict(zip(["out", "weights"], m(a["x"], a["x"], a["x"]))),
           kind="mha", embed_dim=E, num_heads=H, self_attention=True)
    mha = nn.MultiheadAttention(E, H, batch_first=True)
    kpm = torch.zeros(N, S, dtype=torch.bool)
    kpm[0, -2:] = True
    kpm[2, -1] = True
    attn_mask = torch.rand(L, S) > 0.8
    attn_mask[:, 0] = False
    record("mha_cross_bool_masks", mha, {"q": torch.randn(N, L, E), "kv": torch.randn(N, S, E), "attn_mask": attn_mask, "key_padding_mask": kpm},
           lambda m, a: dict(zip(["out", "weights"], m(a["q"], a["kv"], a["kv"], key_padding_mask=a["key_padding_mask"], attn_mask=a["attn_mask"],
                                                     average_attn_weights=False))),
           kind="mha", embed_dim=E, num_heads=H, batch_first=True, key_is_value=True, average_attn_weights=False)
    mha = nn.MultiheadAttention(E, H)
    record("mha_float_mask", mha, {"q": torch.randn(L, N, E), "k": torch.randn(S, N, E), "v": torch.randn(S, N, E),
                                   "attn_mask": torch.randn(N * H, L, S), "key_padding_mask": kpm},
           lambda m, a: {"out": m(a["q"], a["k"], a["v"], key_padding_mask=a["key_padding_mask"], attn_mask=a["attn_mask"], need_weights=False)[0]},
           kind="mha", embed_dim=E, num_heads=H, need_weights=False)
    mha = nn.MultiheadAttention(E, 4, bias=False, kdim=5, vdim=7)
    record("mha_kdim_vdim_unbatched", mha, {"q": torch.randn(L, E), "k": torch.randn(S, 5), "v": torch.randn(S, 7)},
           lambda m, a: dict(zip(["out", "weights"], m(a["q"], a["k"], a["v"]))),
           kind="mha", embed_dim=E, num_heads=4, bias=False, kdim=5, vdim=7)

    # --- scaled dot-product attention: PyTorch 2's documented formula (1.13 has no F.scaled_dot_product_attention)
    def sdpa(q, k, v, mask=None, causal=False, scale=None):
        scale = 1 / math.sqrt(q.size(-1)) if scale is None else scale
        bias = torch.zeros(q.size(-2), k.size(-2))
        if causal:
            bias = bias.masked_fill(~torch.ones(q.size(-2), k.size(-2), dtype=torch.bool).tril(0), float("-inf"))
        if mask is not None:
            bias = bias.masked_fill(mask.logical_not(), float("-inf")) if mask.dtype == torch.bool else bias + mask
        return torch.softmax(q @ k.transpose(-2, -1) * scale + bias, dim=-1) @ v

    q, k, v = torch.randn(2, 3, L, 4), torch.randn(2, 3, S, 4), torch.randn(2, 3, S, 5)
    record("sdpa_plain", None, {"q": q, "k": k, "v": v}, lambda m, a: {"out": sdpa(a["q"], a["k"], a["v"])}, kind="sdpa")
    allowed = torch.rand(L, S) > 0.3
    allowed[:, 0] = True
    record("sdpa_bool_mask", None, {"q": q, "k": k, "v": v, "attn_mask": allowed},
           lambda m, a: {"out": sdpa(a["q"], a["k"], a["v"], a["attn_mask"])}, kind="sdpa")
    record("sdpa_float_mask", None, {"q": q, "k": k, "v": v, "attn_mask": torch.randn(3, L, S)},
           lambda m, a: {"out": sdpa(a["q"], a["k"], a["v"], a["attn_mask"])}, kind="sdpa")
    record("sdpa_causal_scale", None, {"q": torch.randn(2, L, 4), "k": torch.randn(2, L, 4), "v": torch.randn(2, L, 3)},
           lambda m, a: {"out": sdpa(a["q"], a["k"], a["v"], causal=True, scale=0.3)}, kind="sdpa", is_causal=True, scale=0.3)

    # --- Transformer layers and stacks (dropout 0: SharpGrad's random stream is not PyTorch's)
    D, NH, FF = 8, 2, 16
    causal = torch.triu(torch.full((L, L), float("-inf")), diagonal=1)
    kpm_src = torch.zeros(N, L, dtype=torch.bool)
    kpm_src[1, -2:] = True
    layer = nn.TransformerEncoderLayer(D, NH, FF, dropout=0.0)
    record("enc_layer_post", layer, {"src": torch.randn(L, N, D), "src_mask": causal, "src_key_padding_mask": kpm_src},
           lambda m, a: {"out": m(a["src"], src_mask=a["src_mask"], src_key_padding_mask=a["src_key_padding_mask"])},
           kind="transformer", cls="TransformerEncoderLayer", d_model=D, nhead=NH, dim_feedforward=FF, activation="relu", norm_first=False, batch_first=False)
    layer = nn.TransformerEncoderLayer(D, NH, FF, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
    record("enc_layer_pre_gelu_bf", layer, {"src": torch.randn(N, L, D), "src_key_padding_mask": kpm_src},
           lambda m, a: {"out": m(a["src"], src_key_padding_mask=a["src_key_padding_mask"])},
           kind="transformer", cls="TransformerEncoderLayer", d_model=D, nhead=NH, dim_feedforward=FF, activation="gelu", norm_first=True, batch_first=True)
    tgt_causal = torch.ones(L, L, dtype=torch.bool).triu(1)
    kpm_mem = torch.zeros(N, S, dtype=torch.bool)
    kpm_mem[0, -3:] = True
    layer = nn.TransformerDecoderLayer(D, NH, FF, dropout=0.0)
    record("dec_layer_post", layer, {"tgt": torch.randn(L, N, D), "memory": torch.randn(S, N, D), "tgt_mask": tgt_causal, "memory_key_padding_mask": kpm_mem},
           lambda m, a: {"out": m(a["tgt"], a["memory"], tgt_mask=a["tgt_mask"], memory_key_padding_mask=a["memory_key_padding_mask"])},
           kind="transformer", cls="TransformerDecoderLayer", d_model=D, nhead=NH, dim_feedforward=FF, activation="relu", norm_first=False, batch_first=False)
    layer = nn.TransformerDecoderLayer(D, NH, FF, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
    record("dec_layer_pre_gelu_bf", layer, {"tgt": torch.randn(N, L, D), "memory": torch.randn(N, S, D), "tgt_key_padding_mask": kpm_src,
                                             "memory_mask": torch.randn(L, S)},
           lambda m, a: {"out": m(a["tgt"], a["memory"], memory_mask=a["memory_mask"], tgt_key_padding_mask=a["tgt_key_padding_mask"])},
           kind="transformer", cls="TransformerDecoderLayer", d_model=D, nhead=NH, dim_feedforward=FF, activation="gelu", norm_first=True, batch_first=True)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, NH, FF, dropout=0.0, batch_first=True), 2, norm=nn.LayerNorm(D),
                                enable_nested_tensor=False)
    record("encoder_stack", enc, {"src": torch.randn(N, L, D), "src_key_padding_mask": kpm_src},
           lambda m, a: {"out": m(a["src"], src_key_padding_mask=a["src_key_padding_mask"])},
           kind="transformer", cls="TransformerEncoder", d_model=D, nhead=NH, dim_feedforward=FF, num_layers=2, final_norm=True, batch_first=True)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, NH, FF, dropout=0.0), 2)
    record("decoder_stack", dec, {"tgt": torch.randn(L, N, D), "memory": torch.randn(S, N, D), "tgt_mask": causal},
           lambda m, a: {"out": m(a["tgt"], a["memory"], tgt_mask=a["tgt_mask"])},
           kind="transformer", cls="TransformerDecoder", d_model=D, nhead=NH, dim_feedforward=FF, num_layers=2, final_norm=False, batch_first=False)
    full = nn.Transformer(D, NH, 1, 2, FF, dropout=0.0, batch_first=True)
    record("transformer_full", full, {"src": torch.randn(N, S, D), "tgt": torch.randn(N, L, D), "tgt_mask": causal, "src_key_padding_mask": kpm_mem},
           lambda m, a: {"out": m(a["src"], a["tgt"], tgt_mask=a["tgt_mask"], src_key_padding_mask=a["src_key_padding_mask"])},
           kind="transformer", cls="Transformer", d_model=D, nhead=NH, dim_feedforward=FF, num_encoder_layers=1, num_decoder_layers=2, batch_first=True)

    # --- recurrent layers
    I, Hd, T = 4, 5, 6
    rnn = nn.RNN(I, Hd, num_layers=2)
    record("rnn_tanh_2l_h0", rnn, {"x": torch.randn(T, N, I), "h0": torch.randn(2, N, Hd)},
           lambda m, a: dict(zip(["out", "hn"], m(a["x"], a["h0"]))),
           kind="recurrent", cls="RNN", input_size=I, hidden_size=Hd, num_layers=2, nonlinearity="tanh", bias=True, batch_first=False, bidirectional=False)
    rnn = nn.RNN(I, Hd, nonlinearity="relu", bias=False, batch_first=True, bidirectional=True)
    record("rnn_relu_bi_bf_nobias", rnn, {"x": torch.randn(N, T, I)},
           lambda m, a: dict(zip(["out", "hn"], m(a["x"]))),
           kind="recurrent", cls="RNN", input_size=I, hidden_size=Hd, num_layers=1, nonlinearity="relu", bias=False, batch_first=True, bidirectional=True)
    lstm = nn.LSTM(I, Hd, num_layers=2, bidirectional=True)
    def lstm_call(m, a):
        o, (h, c) = m(a["x"], (a["h0"], a["c0"])) if "h0" in a else m(a["x"])
        return {"out": o, "hn": h, "cn": c}
    record("lstm_2l_bi_h0c0", lstm, {"x": torch.randn(T, N, I), "h0": torch.randn(4, N, Hd), "c0": torch.randn(4, N, Hd)}, lstm_call,
           kind="recurrent", cls="LSTM", input_size=I, hidden_size=Hd, num_layers=2, bias=True, batch_first=False, bidirectional=True)
    lstm = nn.LSTM(I, Hd, batch_first=True)
    record("lstm_bf", lstm, {"x": torch.randn(N, T, I)}, lstm_call,
           kind="recurrent", cls="LSTM", input_size=I, hidden_size=Hd, num_layers=1, bias=True, batch_first=True, bidirectional=False)
    lstm = nn.LSTM(I, Hd, num_layers=2)
    record("lstm_unbatched", lstm, {"x": torch.randn(T, I), "h0": torch.randn(2, Hd), "c0": torch.randn(2, Hd)}, lstm_call,
           kind="recurrent", cls="LSTM", input_size=I, hidden_size=Hd, num_layers=2, bias=True, batch_first=False, bidirectional=False)
    gru = nn.GRU(I, Hd, num_layers=2, batch_first=True, bidirectional=True)
    record("gru_2l_bi_bf_h0", gru, {"x": torch.randn(N, T, I), "h0": torch.randn(4, N, Hd)},
           lambda m, a: dict(zip(["out", "hn"], m(a["x"], a["h0"]))),
           kind="recurrent", cls="GRU", input_size=I, hidden_size=Hd, num_layers=2, bias=True, batch_first=True, bidirectional=True)
    gru = nn.GRU(I, Hd, bias=False)
    record("gru_nobias", gru, {"x": torch.randn(T, N, I)},
           lambda m, a: dict(zip(["out", "hn"], m(a["x"]))),
           kind="recurrent", cls="GRU", input_size=I, hidden_size=Hd, num_layers=1, bias=False, batch_first=False, bidirectional=False)

    # --- cells
    record("rnncell_relu", nn.RNNCell(I, Hd, nonlinearity="relu"), {"x": torch.randn(N, I), "h": torch.randn(N, Hd)},
           lambda m, a: {"h1": m(a["x"], a["h"])}, kind="cell", cls="RNNCell", input_size=I, hidden_size=Hd, nonlinearity="relu")
    record("lstmcell", nn.LSTMCell(I, Hd), {"x": torch.randn(N, I), "h": torch.randn(N, Hd), "c": torch.randn(N, Hd)},
           lambda m, a: dict(zip(["h1", "c1"], m(a["x"], (a["h"], a["c"])))), kind="cell", cls="LSTMCell", input_size=I, hidden_size=Hd)
    record("lstmcell_unbatched_zero_state", nn.LSTMCell(I, Hd), {"x": torch.randn(I)},
           lambda m, a: dict(zip(["h1", "c1"], m(a["x"]))), kind="cell", cls="LSTMCell", input_size=I, hidden_size=Hd)
    record("grucell", nn.GRUCell(I, Hd, bias=False), {"x": torch.randn(N, I), "h": torch.randn(N, Hd)},
           lambda m, a: {"h1": m(a["x"], a["h"])}, kind="cell", cls="GRUCell", input_size=I, hidden_size=Hd, bias=False)

    record("unflatten", nn.Unflatten(1, (3, 4)), {"x": torch.randn(2, 12, 5)}, lambda m, a: {"out": m(a["x"])},
           kind="unflatten", dim=1, unflattened_size=[3, 4])

    # --- the recurrent layers' fused sequence path with every option at once (own seed: the cases above keep their values)
    torch.manual_seed(97)
    I, Hd, T, N = 4, 5, 9, 3
    lstm = nn.LSTM(I, Hd, num_layers=2, batch_first=True, bidirectional=True)
    record("lstm_2l_bi_bf_h0c0", lstm, {"x": torch.randn(N, T, I), "h0": torch.randn(4, N, Hd), "c0": torch.randn(4, N, Hd)}, lstm_call,
           kind="recurrent", cls="LSTM", input_size=I, hidden_size=Hd, num_layers=2, bias=True, batch_first=True, bidirectional=True)
    lstm = nn.LSTM(I, Hd, num_layers=2, bias=False, bidirectional=True)
    record("lstm_2l_bi_nobias_unbatched", lstm, {"x": torch.randn(T, I)}, lstm_call,
           kind="recurrent", cls="LSTM", input_size=I, hidden_size=Hd, num_layers=2, bias=False, batch_first=False, bidirectional=True)
    rnn = nn.RNN(I, Hd, num_layers=2, batch_first=True, bidirectional=True)
    record("rnn_tanh_2l_bi_bf_h0", rnn, {"x": torch.randn(N, T, I), "h0": torch.randn(4, N, Hd)},
           lambda m, a: dict(zip(["out", "hn"], m(a["x"], a["h0"]))),
           kind="recurrent", cls="RNN", input_size=I, hidden_size=Hd, num_layers=2, nonlinearity="tanh", bias=True, batch_first=True, bidirectional=True)
    gru = nn.GRU(I, Hd, num_layers=2, bidirectional=True)
    record("gru_2l_bi_unbatched_h0", gru, {"x": torch.randn(T, I), "h0": torch.randn(4, Hd)},
           lambda m, a: dict(zip(["out", "hn"], m(a["x"], a["h0"]))),
           kind="recurrent", cls="GRU", input_size=I, hidden_size=Hd, num_layers=2, bias=True, batch_first=False, bidirectional=True)

    # --- compiled decoder layers and stacks: batch 1, other sequence lengths, all four masks at once (own seed: the cases
    # above keep their values)
    torch.manual_seed(131)
    D, NH, FF, L, S = 8, 2, 16, 4, 9
    layer = nn.TransformerDecoderLayer(D, NH, FF, dropout=0.0)
    tgt_kpm = torch.zeros(1, L, dtype=torch.bool)
    tgt_kpm[0, -1] = True
    mem_kpm = torch.zeros(1, S, dtype=torch.bool)
    mem_kpm[0, -3:] = True
    record("dec_layer_post_b1_all_masks", layer,
           {"tgt": torch.randn(L, 1, D), "memory": torch.randn(S, 1, D), "tgt_mask": torch.ones(L, L, dtype=torch.bool).triu(1),
            "memory_mask": torch.randn(NH, L, S), "tgt_key_padding_mask": tgt_kpm, "memory_key_padding_mask": mem_kpm},
           lambda m, a: {"out": m(a["tgt"], a["memory"], tgt_mask=a["tgt_mask"], memory_mask=a["memory_mask"],
                                  tgt_key_padding_mask=a["tgt_key_padding_mask"], memory_key_padding_mask=a["memory_key_padding_mask"])},
           kind="transformer", cls="TransformerDecoderLayer", d_model=D, nhead=NH, dim_feedforward=FF, activation="relu", norm_first=False, batch_first=False)
    layer = nn.TransformerDecoderLayer(D, NH, FF, dropout=0.0, batch_first=True, norm_first=True)
    record("dec_layer_pre_relu_bf_b1", layer,
           {"tgt": torch.randn(1, L, D), "memory": torch.randn(1, S, D), "tgt_mask": torch.triu(torch.full((L, L), float("-inf")), diagonal=1)},
           lambda m, a: {"out": m(a["tgt"], a["memory"], tgt_mask=a["tgt_mask"])},
           kind="transformer", cls="TransformerDecoderLayer", d_model=D, nhead=NH, dim_feedforward=FF, activation="relu", norm_first=True, batch_first=True)
    N = 3
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, NH, FF, dropout=0.0, activation="gelu", batch_first=True, norm_first=True), 2,
                                norm=nn.LayerNorm(D))
    mem_kpm = torch.zeros(N, S, dtype=torch.bool)
    mem_kpm[1, -4:] = True
    record("decoder_stack_pre_gelu_bf_norm", dec,
           {"tgt": torch.randn(N, L, D), "memory": torch.randn(N, S, D), "tgt_mask": torch.ones(L, L, dtype=torch.bool).triu(1),
            "memory_key_padding_mask": mem_kpm},
           lambda m, a: {"out": m(a["tgt"], a["memory"], tgt_mask=a["tgt_mask"], memory_key_padding_mask=a["memory_key_padding_mask"])},
           kind="transformer", cls="TransformerDecoder", d_model=D, nhead=NH, dim_feedforward=FF, num_layers=2, final_norm=True, batch_first=True,
           norm_first=True, activation="gelu")

    # --- unbatched MultiheadAttention with masks (session 12; own seed: the cases above keep their values): a 2-d query [L, E],
    # key and value [S, E], key_padding_mask [S], attn_mask [L, S] (Bool) or [num_heads, L, S] (float); batch_first ignored.
    torch.manual_seed(1212)
    E, H, L, S = 8, 2, 5, 6
    mha = nn.MultiheadAttention(E, H, batch_first=True)
    kpm = torch.zeros(S, dtype=torch.bool)
    kpm[-2:] = True
    attn_mask = torch.rand(L, S) > 0.7
    attn_mask[:, 0] = False
    record("mha_unbatched_bool_masks", mha, {"q": torch.randn(L, E), "kv": torch.randn(S, E), "attn_mask": attn_mask, "key_padding_mask": kpm},
           lambda m, a: dict(zip(["out", "weights"], m(a["q"], a["kv"], a["kv"], key_padding_mask=a["key_padding_mask"], attn_mask=a["attn_mask"],
                                                     average_attn_weights=False))),
           kind="mha", embed_dim=E, num_heads=H, batch_first=True, key_is_value=True, average_attn_weights=False)
    mha = nn.MultiheadAttention(E, H)
    kpm = torch.zeros(L, dtype=torch.bool)
    kpm[-1] = True
    record("mha_unbatched_self_float_mask", mha, {"x": torch.randn(L, E), "attn_mask": torch.randn(H, L, L), "key_padding_mask": kpm},
           lambda m, a: dict(zip(["out", "weights"], m(a["x"], a["x"], a["x"], key_padding_mask=a["key_padding_mask"], attn_mask=a["attn_mask"]))),
           kind="mha", embed_dim=E, num_heads=H, self_attention=True)
    out.write(manifest)


# --------------------------------------------------------------------------------------------------------------------
# model zoo (issue 13's acceptance models). For each model: zoo/NAME.pt (the initial state dict, as torch.save writes it)
# and zoo/NAME.safetensors with the inputs, the output (train mode; ResNet also eval mode), the initial loss, the
# gradients of every parameter (grad.NAME) and of the float input (grad_in.x), the losses of 20 SGD steps on the same
# batch (losses) and every state entry after them (final.NAME).
# --------------------------------------------------------------------------------------------------------------------

class NarrowResNet18(__import__("torchvision").models.resnet.ResNet):
    """torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2]; its _make_layer, forward and init) with every width divided by
    64 / width: width=64 is torchvision.models.resnet18 exactly. The fixture uses width 8 to stay small."""

    def __init__(self, width=64, num_classes=10):
        from torchvision.models.resnet import BasicBlock
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(BasicBlock, width, 2)
        self.layer2 = self._make_layer(BasicBlock, 2 * width, 2, stride=2)
        self.layer3 = self._make_layer(BasicBlock, 4 * width, 2, stride=2)
        self.layer4 = self._make_layer(BasicBlock, 8 * width, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


class TransformerClassifier(nn.Module):
    def __init__(self, vocab=20, d_model=16, nhead=4, ff=32, layers=2, max_len=10, classes=3, pad=0):
        super().__init__()
        self.pad = pad
        self.embed = nn.Embedding(vocab, d_model, padding_idx=pad)
        self.pos = nn.Embedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, ff, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, classes)

    def forward(self, tokens):
        mask = tokens == self.pad
        positions = torch.arange(tokens.size(1)).unsqueeze(0)
        h = self.encoder(self.embed(tokens) + self.pos(positions), src_key_padding_mask=mask)
        keep = (~mask).unsqueeze(-1).float()
        return self.head((h * keep).sum(1) / keep.sum(1))


class GptBlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, causal):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=causal, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class Gpt(nn.Module):
    def __init__(self, vocab=20, d=16, heads=4, layers=2, max_len=12):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList([GptBlock(d, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, tokens):
        t = tokens.size(1)
        causal = torch.ones(t, t, dtype=torch.bool).triu(1)
        x = self.tok(tokens) + self.pos(torch.arange(t).unsqueeze(0))
        for block in self.blocks:
            x = block(x, causal)
        return self.head(self.ln_f(x))


class BiLstmClassifier(nn.Module):
    def __init__(self, vocab=20, emb=8, hidden=12, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, tokens):
        _, (h, _) = self.lstm(self.embed(tokens))
        return self.fc(torch.cat([h[-2], h[-1]], dim=1))


class GruSeq2Seq(nn.Module):
    def __init__(self, src_vocab=15, tgt_vocab=12, emb=8, hidden=16):
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab, emb)
        self.tgt_embed = nn.Embedding(tgt_vocab, emb)
        self.encoder = nn.GRU(emb, hidden, batch_first=True)
        self.decoder = nn.GRU(emb, hidden, batch_first=True)
        self.out = nn.Linear(hidden, tgt_vocab)

    def forward(self, src, tgt_in):
        _, h = self.encoder(self.src_embed(src))
        y, _ = self.decoder(self.tgt_embed(tgt_in), h)
        return self.out(y)


def double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, cin=1, classes=3, base=4):
        super().__init__()
        self.enc1 = double_conv(cin, base)
        self.enc2 = double_conv(base, 2 * base)
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = double_conv(2 * base, 4 * base)
        self.up2 = nn.ConvTranspose2d(4 * base, 2 * base, 2, stride=2)
        self.dec2 = double_conv(4 * base, 2 * base)
        self.up1 = nn.ConvTranspose2d(2 * base, base, 2, stride=2)
        self.dec1 = double_conv(2 * base, base)
        self.head = nn.Conv2d(base, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        b = self.bottleneck(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        return self.head(d1)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1×1 expansion, 3×3 depthwise (groups = channels), 1×1 projection; residual when shapes allow."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetTiny(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(inplace=True))
        self.blocks = nn.Sequential(InvertedResidual(8, 8, 1, 4), InvertedResidual(8, 16, 2, 4), InvertedResidual(16, 16, 1, 4))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(16, classes)

    def forward(self, x):
        return self.classifier(self.pool(self.blocks(self.stem(x))).flatten(1))


def zoo(manifest):
    folder = os.path.join(HERE, "zoo")
    os.makedirs(folder, exist_ok=True)
    cases = []
    torch.manual_seed(2024)

    def tokens(n, t, vocab, pad_lengths=None):
        x = torch.randint(1, vocab, (n, t))
        for i, length in enumerate(pad_lengths or []):
            x[i, length:] = 0
        return x

    def run(name, model, inputs, loss_fn, lr, extra=None, eval_output=False):
        torch.save(model.state_dict(), os.path.join(folder, name + ".pt"))
        t = {f"in.{k}": v for k, v in inputs.items()}
        x_name = next(iter(inputs))
        leaf = inputs[x_name].clone().requires_grad_() if inputs[x_name].is_floating_point() else inputs[x_name]
        args = [leaf] + [v for k, v in inputs.items() if k != x_name and k != "target"]
        model.train()
        out = model(*args)
        loss = loss_fn(out, inputs["target"])
        loss.backward()
        t["out"] = out
        t["loss"] = loss.reshape([])
        if leaf.is_floating_point():
            t["grad_in.x"] = leaf.grad.clone()
        for k, p in model.named_parameters():
            t[f"grad.{k}"] = p.grad.clone()  # a copy: zero_grad() later zeroes .grad in place
        if eval_output:
            # eval mode from the initial weights (the running statistics after that first training forward)
            model.eval()
            with torch.no_grad():
                t["out_eval"] = model(*[inputs[x_name]] + args[1:])
            model.train()
        model.load_state_dict(torch.load(os.path.join(folder, name + ".pt")))
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        losses = []
        for _ in range(20):
            opt.zero_grad()
            loss = loss_fn(model(*[inputs[x_name]] + args[1:]), inputs["target"])
            loss.backward()
            opt.step()
            losses.append(loss.item())
        t["losses"] = torch.tensor(losses, dtype=torch.float64)
        for k, v in model.state_dict().items():
            t[f"final.{k}"] = v.clone()
        save_safetensors(os.path.join(folder, name + ".safetensors"), t, {"generated_by": "generate.py"})
        cases.append(dict(case=name, kind="zoo", lr=lr, momentum=0.9, steps=20, inputs=list(inputs),
                          parameters=sum(p.numel() for p in model.parameters()), **(extra or {})))

    ce = lambda out, y: F.cross_entropy(out.reshape(-1, out.size(-1)), y.reshape(-1)) if out.dim() == 3 else F.cross_entropy(out, y)

    full = __import__("torchvision").models.resnet18(num_classes=10)
    names = [[k, list(v.shape)] for k, v in full.state_dict().items()]
    assert names == [[k, list(v.shape)] for k, v in NarrowResNet18(64, 10).state_dict().items()]
    run("resnet18", NarrowResNet18(8, 10), {"x": torch.randn(8, 3, 32, 32), "target": torch.randint(0, 10, (8,))}, ce, 0.02,
        extra={"width": 8, "classes": 10, "full_width_state": names}, eval_output=True)
    run("transformer_classifier", TransformerClassifier(),
        {"tokens": tokens(4, 10, 20, [10, 7, 4, 9]), "target": torch.randint(0, 3, (4,))}, ce, 0.05)
    seq = tokens(3, 13, 20)
    run("gpt", Gpt(), {"tokens": seq[:, :-1].contiguous(), "target": seq[:, 1:].contiguous()}, ce, 0.05)
    run("bilstm_classifier", BiLstmClassifier(), {"tokens": tokens(4, 9, 20), "target": torch.randint(0, 3, (4,))}, ce, 0.05)
    tgt = tokens(3, 7, 12)
    run("gru_seq2seq", GruSeq2Seq(), {"src": tokens(3, 7, 15), "tgt_in": tgt[:, :-1].contiguous(), "target": tgt[:, 1:].contiguous()}, ce, 0.05)
    run("unet", UNet(), {"x": torch.randn(2, 1, 16, 16), "target": torch.randint(0, 3, (2, 16, 16))},
        lambda out, y: F.cross_entropy(out, y), 0.05)
    run("mobilenet", MobileNetTiny(), {"x": torch.randn(4, 3, 16, 16), "target": torch.randint(0, 10, (4,))}, ce, 0.05)
    manifest["zoo"] = cases

# --------------------------------------------------------------------------------------------------------------------

def main():
    sections = {"training": training, "layers": layers, "zoo": zoo}
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
