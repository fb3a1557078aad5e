"""Where work runs: the compute device and this process's place in a ``torchrun`` job.

Both halves use these (training, and inference's torch backend); torch is imported only
when a torch device is asked for, so a torch-free install can still plan shards.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

from mcdenoise import McdenoiseError


def torch_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def pick_device(name: str) -> Any:
    """A ``torch.device``. ``auto``: CUDA, then MPS, then CPU; an explicit device that is
    absent is an error."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise McdenoiseError("--device cuda: no CUDA device is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise McdenoiseError("--device mps: no MPS device is available")
    return torch.device(name)


@functools.lru_cache(maxsize=8)
def native_bf16(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX), where oneDNN
    runs bf16 convolutions faster than fp32 ones; False where that cannot be read (not
    Linux) or the flags are absent, since emulated bf16 is slower than fp32."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as stream:
            for line in stream:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[-1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_precision(precision: str, device_type: str) -> str:
    """``auto``: bf16 on a CPU with native bf16 (1.5x faster at 1080p on an AVX-512 BF16
    CPU, the same field scores as fp32: docs/benchmarks.md, session 24), else fp32 (on a
    GPU too); any other precision as it is."""
    if precision != "auto":
        return precision
    return "bf16" if device_type == "cpu" and native_bf16() else "fp32"


@dataclass(frozen=True)
class Ranks:
    """Where this process sits in a ``torchrun`` job (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def torchrun_ranks() -> Ranks:
    """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK (absent: a single process)."""
    try:
        return Ranks(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                     int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError:
        raise McdenoiseError("RANK / WORLD_SIZE / LOCAL_RANK must be integers") from None
