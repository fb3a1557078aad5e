"""Where work runs: the compute device and this process's place in a ``torchrun`` job.

Both halves use these (training, and inference's torch backend); torch is imported only
when a torch device is asked for, so a torch-free install can still plan shards.
"""

from __future__ import annotations

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
