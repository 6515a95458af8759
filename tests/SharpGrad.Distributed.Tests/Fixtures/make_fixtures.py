"""Writes the PyTorch reference values of SharpGrad.Distributed's tests. Run with PyTorch 1.13 from this folder:
/usr/bin/python3 make_fixtures.py

- distributed_sampler.json: the indices torch.utils.data.distributed.DistributedSampler gives each rank (for
  DistributedSamplerTests), and a few torch.randperm permutations (the shuffle DistributedSampler uses).
- ddp_buckets.json: how DistributedDataParallel groups parameters into buckets (dist._compute_bucket_assignment_by_size
  with [_DEFAULT_FIRST_BUCKET_BYTES, bucket_cap_mb MiB], then reversed, as DistributedDataParallel does).
"""
import json
import torch
import torch.distributed as dist
from torch.utils.data.distributed import DistributedSampler


class Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


cases = []
for length in [0, 1, 3, 10, 11, 17, 100]:
    for size in [1, 2, 3, 4, 8]:
        for shuffle in [False, True]:
            for drop_last in [False, True]:
                for seed, epoch in ([(0, 0)] if not shuffle else [(0, 0), (0, 1), (42, 3), (-7, 2)]):
                    for rank in range(size):
                        s = DistributedSampler(Sized(length), num_replicas=size, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
                        s.set_epoch(epoch)
                        cases.append({"length": length, "size": size, "rank": rank, "shuffle": shuffle, "seed": seed, "epoch": epoch,
                                      "drop_last": drop_last, "len": len(s), "total_size": s.total_size, "indices": list(s)})

randperm = []
for n, seed in [(10, 0), (1000, 123456789), (7, 2**32 + 5), (5_000, 3), (1, 9), (0, 1)]:
    g = torch.Generator()
    g.manual_seed(seed)
    randperm.append({"n": n, "seed": seed, "permutation": torch.randperm(n, generator=g).tolist()})

def lines(name, rows):
    return ',\n "%s": [\n  ' % name + ",\n  ".join(json.dumps(r) for r in rows) + "]"


with open("distributed_sampler.json", "w") as f:
    # One case per line, so that a diff shows which case changed.
    f.write('{"generator": %s' % json.dumps("make_fixtures.py, PyTorch " + torch.__version__))
    f.write(lines("randperm", randperm) + lines("sampler", cases) + "}\n")

# Models built from Linear layers (in: out features), as SharpGrad's DdpBucketTests builds them with Sequential.
buckets = []
for layers in [[(512, 512), (512, 512), (512, 100), (100, 10)], [(64, 32), (32, 10)], [(1024, 300), (300, 300), (300, 1024), (1024, 8)]]:
    for cap_mb in [1, 2, 25]:
        model = torch.nn.Sequential(*[torch.nn.Linear(i, o) for i, o in layers])
        names = [n for n, _ in model.named_parameters()]
        params = list(model.parameters())
        indices, _ = dist._compute_bucket_assignment_by_size(params, [dist._DEFAULT_FIRST_BUCKET_BYTES, cap_mb * 1024 * 1024], [False] * len(params))
        buckets.append({"layers": layers, "bucket_cap_mb": cap_mb, "buckets": [[names[i] for i in b] for b in reversed(indices)]})
with open("ddp_buckets.json", "w") as f:
    f.write('{"generator": %s' % json.dumps("make_fixtures.py, PyTorch " + torch.__version__))
    f.write(lines("cases", buckets) + "}\n")
