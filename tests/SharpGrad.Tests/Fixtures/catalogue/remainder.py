#!/usr/bin/python3
"""PyTorch reference values for remainder and fmod by a scalar (issue 12: `%` / Remainder / Fmod, PyTorch's sign rules:
remainder follows the divisor, fmod the dividend): the output and the input's gradient (1), float64, and the integer forms.

Run from anywhere with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/SharpGrad.Tests/Fixtures/catalogue/remainder.py

It writes remainder.safetensors next to itself: for each float case NAME (remainder_pos, remainder_neg, fmod_pos, fmod_neg),
NAME.x, NAME.out, NAME.seed_grad, NAME.grad_x (float64); for each integer case NAME.x and NAME.out (int64)
(CompiledFunctionalLayerTests.RemainderAndFmodMatchPyTorch). Deterministic (fixed seed, CPU, one thread).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reduction_cases import case, save, tensors, torch  # noqa: E402

# Values on both sides of zero, exact multiples of the divisors (remainder 0: no sign fix-up) and the divisors themselves.
x = torch.cat([torch.randn(3, 4, dtype=torch.float64).view(-1) * 4,
               torch.tensor([0.0, 3.0, -3.0, 4.5, -4.5, 1.5, -1.5, 6.0], dtype=torch.float64)]).view(4, 5)
case("remainder_pos", lambda t: torch.remainder(t, 1.5), x)
case("remainder_neg", lambda t: torch.remainder(t, -2.25), x)
case("fmod_pos", lambda t: torch.fmod(t, 1.5), x)
case("fmod_neg", lambda t: torch.fmod(t, -2.25), x)

ints = torch.tensor([-7, -6, -5, -1, 0, 1, 4, 5, 6, 7], dtype=torch.int64)
for name, fn in (("remainder_int_pos", lambda t: torch.remainder(t, 3)), ("remainder_int_neg", lambda t: torch.remainder(t, -3)),
                 ("fmod_int_pos", lambda t: torch.fmod(t, 3)), ("fmod_int_neg", lambda t: torch.fmod(t, -3))):
    tensors[f"{name}.x"] = ints
    tensors[f"{name}.out"] = fn(ints)

save("remainder.safetensors", "remainder.py")
