"""Writes samplers.json: what PyTorch's BatchSampler and DataLoader(sampler=...) produce, for SamplerDataTests.

Run with PyTorch 1.13: /usr/bin/python3 make_samplers.py (from this folder).
"""
import json
import torch
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler, TensorDataset

cases = {"batch_sampler": [], "loader_with_sampler": []}
for n, bs, drop_last in [(10, 3, False), (10, 3, True), (9, 3, False), (9, 3, True), (2, 5, False), (2, 5, True), (0, 4, False), (7, 1, True)]:
    s = BatchSampler(SequentialSampler(range(n)), batch_size=bs, drop_last=drop_last)
    cases["batch_sampler"].append({"n": n, "batch_size": bs, "drop_last": drop_last, "len": len(s), "batches": list(s)})

# A fixed order given as the sampler (any iterable with a length): batches follow it, the last one short unless drop_last.
for n, order, bs, drop_last in [(10, [9, 2, 2, 7, 0, 5, 1], 3, False), (10, [9, 2, 2, 7, 0, 5, 1], 3, True), (6, [5, 4, 3, 2, 1, 0], 4, False), (4, [3], 2, False)]:
    ds = TensorDataset(torch.arange(n))
    loader = DataLoader(ds, batch_size=bs, drop_last=drop_last, sampler=order)
    batches = [b[0].tolist() for b in loader]
    cases["loader_with_sampler"].append({"n": n, "order": order, "batch_size": bs, "drop_last": drop_last, "len": len(loader), "batches": batches})

with open("samplers.json", "w") as f:
    # One case per line, so that a diff shows which case changed.
    f.write('{"generator": %s' % json.dumps("make_samplers.py, PyTorch " + torch.__version__))
    for key, rows in cases.items():
        f.write(',\n "%s": [\n  ' % key + ",\n  ".join(json.dumps(r) for r in rows) + "]")
    f.write("}\n")
