"""The training loop: Adam, step-decay learning rate, AMP, TensorBoard, checkpoints, resume,
and DistributedDataParallel under ``torchrun`` (NCCL on GPUs, gloo on the CPU)."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from mcdenoise import McdenoiseError
from mcdenoise.atomic import write_text_atomic
from mcdenoise.checkpoint import (
    load_checkpoint,
    load_network,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from mcdenoise.config import Config, check_config, save_config
from mcdenoise.data import build_datasets
from mcdenoise.device import Ranks, pick_device, torchrun_ranks
from mcdenoise.loss import build_loss
from mcdenoise.metrics import psnr, psnr_tonemapped, relmse, tonemap
from mcdenoise.model import Network, build_model, check_prefilter, prefilter_config

log = logging.getLogger(__name__)


def _start_distributed(config: Config) -> tuple[Ranks, torch.device]:
    """One GPU per rank with NCCL, or the CPU with gloo; a single process starts nothing."""
    ranks = torchrun_ranks()
    if ranks.world == 1:
        return ranks, pick_device(config.train.device)
    wanted = config.train.device
    if wanted == "mps":
        raise McdenoiseError("distributed training runs on CUDA GPUs or on the CPU, not MPS")
    if wanted in ("auto", "cuda") and torch.cuda.is_available():
        if ranks.local_rank >= torch.cuda.device_count():
            raise McdenoiseError(f"local rank {ranks.local_rank} has no GPU "
                                 f"({torch.cuda.device_count()} on this node)")
        device, backend = torch.device("cuda", ranks.local_rank), "nccl"
        torch.cuda.set_device(device)
    elif wanted == "cuda":
        raise McdenoiseError("--device cuda: no CUDA device is available")
    else:
        device, backend = torch.device("cpu"), "gloo"
    if config.train.sync_bn and device.type != "cuda":
        raise McdenoiseError("train.sync_bn needs CUDA GPUs (PyTorch's SyncBatchNorm has no CPU "
                             "implementation)")
    torch.distributed.init_process_group(backend)
    return ranks, device


class _RankSampler(torch.utils.data.Sampler):
    """This rank's sample indices from ``first`` to ``steps``: step t of the job uses the
    global indices [t*world*batch, (t+1)*world*batch), rank r the r-th batch of them.

    Every index is already a random pair, crop and augmentation (a pure function of the
    seed and the index, see data.py): the dataset has no epochs to reshuffle, and disjoint
    index slices are what a shuffled DistributedSampler would give, resumable at any step
    and with any number of ranks."""

    def __init__(self, first: int, steps: int, batch: int, ranks: Ranks) -> None:
        self.first, self.steps, self.batch, self.ranks = first, steps, batch, ranks

    def __iter__(self):
        for step in range(self.first, self.steps):
            start = (step * self.ranks.world + self.ranks.rank) * self.batch
            yield from range(start, start + self.batch)

    def __len__(self) -> int:
        return (self.steps - self.first) * self.batch


def _psnr_clipped(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR of LDR images in [0, 1], the prediction clipped as it is shown (ldr.psnr_ldr on
    tensors)."""
    return psnr(pred.clamp(0.0, 1.0), target.clamp(0.0, 1.0))


def lr_factor(step: int, config: Config) -> float:
    """Step decay (x lr_gamma every lr_step steps) times an optional cosine ramp-down over
    the last ``rampdown`` fraction of training. A run extended with ``--resume RUN --steps
    N`` keeps this schedule over the new total N: the step decay goes on, and the ramp-down
    moves to the end of N, so a run that had ramped down restarts from the rate the new
    schedule gives at its step (a warm restart, Loshchilov & Hutter 2017)."""
    train = config.train
    factor = train.lr_gamma ** (step // train.lr_step) if train.lr_step > 0 else 1.0
    start = train.steps * (1.0 - train.rampdown)
    if train.rampdown > 0 and step >= start:
        phase = min((step - start) / max(train.steps - start, 1.0), 1.0)
        factor *= 0.5 * (1.0 + math.cos(math.pi * phase))
    return factor


def new_run_dir(config: Config) -> Path:
    """``<out>/<NNNNN>-<name>``, numbered after the runs already there. The number is
    claimed first with an exclusively created ``<out>/.numbers/NNNNN``, so runs started at
    the same moment (several trainings in the background) never share one."""
    out = Path(config.train.out)
    claims = out / ".numbers"
    claims.mkdir(parents=True, exist_ok=True)
    taken = [int(m[1]) for p in out.iterdir() if (m := re.match(r"^(\d{5})-", p.name))]
    taken += [int(p.name) for p in claims.iterdir() if re.fullmatch(r"\d{5}", p.name)]
    number = max(taken, default=-1) + 1
    while True:
        try:
            (claims / f"{number:05d}").open("x").close()
            break
        except FileExistsError:
            number += 1
    what = config.data.noise.split(",")[0] if config.data.kind == "images" else config.data.target
    kind = "aux" if config.model.task == "aux" else config.data.kind
    name = config.train.name or f"{kind}-{what}-{config.loss.name}"
    run_dir = out / f"{number:05d}-{name}"
    run_dir.mkdir()
    return run_dir


@dataclass
class _State:
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    step: int = 0
    best: float = -math.inf
    recent: list[float] = field(default_factory=list)
    seconds: float = 0.0  # training time so far, validation excluded (kept across resume)
    net: torch.nn.Module | None = None  # what the training step calls: the DDP wrapper


def _setup(config: Config, device: torch.device, resume: dict[str, Any] | None,
           ranks: Ranks | None = None) -> _State:
    ranks = ranks or Ranks()
    torch.manual_seed(config.train.seed)
    model = build_model(config)
    if config.train.sync_bn and ranks.world > 1:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    prefilter_loaded = False
    if config.train.init_from and resume is None:
        source, _ = load_network(config.train.init_from)
        prefilter_loaded = source.prefilter is not None
        try:
            if 0 < source.scales < model.scales:
                model.load_grown(source)  # a wider kernel reach, from the smaller one
            elif model.keep_noisy and not source.keep_noisy:
                model.load_keeping_noisy(source)  # the noisy features start unused
            elif model.albedo_kernel and not source.albedo_kernel:
                model.load_adding_albedo_kernel(source)
            elif model.kernel_residual and not source.kernel_residual:
                model.load_adding_residual(source)  # the correction starts at zero
            elif model.prefilter is not None and source.prefilter is None:
                _load_without_prefilter(model, source)  # the prefilter comes from its own run
            else:
                model.load_state_dict(source.state_dict())
        except (RuntimeError, ValueError):
            raise McdenoiseError(f"{config.train.init_from}: its network does not match this "
                                 "config (features or model options differ)") from None
    if model.prefilter is not None and resume is None and (
            config.train.prefilter_from or not prefilter_loaded):
        _load_prefilter(model, config)
    model.to(device)
    train = config.train
    # a prefilter is frozen (build_model): only the color network's own weights train
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=train.lr,
                                 betas=(train.beta1, train.beta2), eps=train.adam_eps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    use_scaler = device.type == "cuda" and train.amp and not torch.cuda.is_bf16_supported()
    state = _State(model, optimizer, scheduler, torch.amp.GradScaler("cuda", enabled=use_scaler))
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        state.scaler.load_state_dict(resume["scaler"])
        state.step, state.best = int(resume["step"]), float(resume["best"])
        state.seconds = float(resume.get("seconds", 0.0))
        set_rng_state(resume["rng"])
    state.net = model
    if ranks.world > 1:  # rank 0's weights are broadcast; gradients are averaged
        from torch.nn.parallel import DistributedDataParallel

        state.net = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    return state


def _load_without_prefilter(model: Network, source: Network) -> None:
    """``source``'s weights into ``model``, the same network with a prefilter added."""
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    if unexpected or any(not name.startswith("prefilter.") for name in missing):
        raise ValueError("not the same network without a prefilter")


def _load_prefilter(model: Network, config: Config) -> None:
    """The trained prefilter of train.prefilter_from (an aux model, or a color model
    carrying one) into ``model.prefilter``."""
    path = config.train.prefilter_from
    if not path:
        raise McdenoiseError("model.prefilter_width needs train.prefilter_from: a prefilter "
                             "trained with --config aux")
    source, source_config = load_network(path)
    if source_config.model.task == "color" and source.prefilter is not None:
        # a color model that carries one (the bundled default): its prefilter is taken
        source_config, source = prefilter_config(source_config), source.prefilter
    check_prefilter(config, source_config, path)
    model.prefilter.load_state_dict(source.state_dict())


def _save(run_dir: Path, name: str, state: _State, config: Config) -> None:
    save_checkpoint(run_dir / "checkpoints" / f"{name}.pt", state.model, config,
                    optimizer=state.optimizer.state_dict(),
                    scheduler=state.scheduler.state_dict(), scaler=state.scaler.state_dict(),
                    step=state.step, best=state.best, seconds=state.seconds, rng=rng_state())


def _autocast(device: torch.device, config: Config):
    """train.amp: bf16 (or fp16 with a gradient scaler) on CUDA; bf16 on a CPU that
    multiplies it natively (AVX-512 BF16 or AMX: 1.7x the fp32 steps a second of the
    default model, docs/benchmarks.md, session 24); fp32 otherwise. Weights, optimizer and
    loss stay fp32."""
    from mcdenoise.device import native_bf16

    if not config.train.amp:
        return contextlib.nullcontext()
    if device.type == "cpu" and native_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def _train_step(state: _State, batch: dict[str, torch.Tensor], loss_fn, config: Config,
                device: torch.device) -> float:
    state.net.train()
    inputs = batch["input"].to(device, non_blocking=True)
    target = batch["target"].to(device, non_blocking=True)
    mask = batch["mask"].to(device, non_blocking=True) if "mask" in batch else None
    with _autocast(device, config):
        pred = state.net(inputs)
    loss = loss_fn(pred, target, mask, progress=state.step / max(config.train.steps, 1))
    if not torch.isfinite(loss):
        raise McdenoiseError(f"step {state.step}: the loss is {loss.item()} (lower --lr?)")
    state.optimizer.zero_grad(set_to_none=True)
    state.scaler.scale(loss).backward()
    if config.train.clip_grad > 0:
        state.scaler.unscale_(state.optimizer)
        torch.nn.utils.clip_grad_norm_(state.model.parameters(), config.train.clip_grad)
    state.scaler.step(state.optimizer)
    state.scaler.update()
    state.scheduler.step()
    state.step += 1
    return loss.item()


def _aux_to_unit(planes: torch.Tensor) -> torch.Tensor:
    """(B, 6, H, W) albedo and normal (model.task=aux) with the normal mapped to [0, 1]."""
    return torch.cat([planes[:, :3], planes[:, 3:] * 0.5 + 0.5], dim=1)


@torch.no_grad()
def validate(model: torch.nn.Module, val_set: Dataset, config: Config, device: torch.device,
             loss_fn) -> tuple[dict[str, float], list[torch.Tensor]]:
    """Mean loss, PSNR (tonemapped for HDR) and relMSE on whole frames, for the output and
    for the noisy input, plus (noisy | output | target) pictures of the first frames."""
    model.eval()
    aux = config.model.task == "aux"
    hdr = config.data.kind == "mc" and not aux
    totals: dict[str, float] = {}
    pictures = []
    for index in range(len(val_set)):
        item = val_set[index]
        inputs = item["input"][None].to(device)
        with _autocast(device, config):
            pred = model(inputs).float()
        scale = item["scale"].to(device)
        target, noisy = item["target"][None].to(device), item["noisy"][None].to(device)
        mask = item["mask"][None].to(device) if "mask" in item else None
        values = {"loss": loss_fn(pred, target, mask, progress=1.0).item()}
        out, ref, inp = pred.clamp(min=0) / scale, target / scale, noisy / scale
        if aux:  # albedo as it is, normals mapped to [0, 1]: scored and shown as LDR
            out, ref, inp = (_aux_to_unit(v) for v in (pred, target, noisy))
        score = psnr_tonemapped if hdr else _psnr_clipped
        values["psnr"], values["psnr_input"] = score(out, ref).item(), score(inp, ref).item()
        values["relmse"], values["relmse_input"] = relmse(out, ref).item(), relmse(inp, ref).item()
        for key, value in values.items():
            totals[key] = totals.get(key, 0.0) + value / len(val_set)
        if index < 3:
            def show(v):
                if aux:  # albedo above normal
                    v = torch.cat([v[:3], v[3:]], dim=-2)
                return tonemap(v) if hdr else v.clamp(0, 1)
            pictures.append(torch.cat([show(inp[0]), show(out[0]), show(ref[0])], dim=-1).cpu())
    return totals, pictures


RESULTS = "results.json"


def read_results(run_dir: str | Path) -> dict[str, Any]:
    """A run's ``results.json``: its validation history (one entry per validation: step,
    seconds of training so far, metrics), the last and the best entry."""
    path = Path(run_dir) / RESULTS
    if not path.is_file():
        return {"history": []}
    return json.loads(path.read_text())


def _record_results(run_dir: Path, step: int, seconds: float,
                    metrics: dict[str, float]) -> None:
    """Append one validation to the run's results.json (beside the TensorBoard logs), kept
    across --resume, written atomically."""
    results = read_results(run_dir)
    history = [h for h in results["history"] if h["step"] < step]
    history.append({"step": step, "seconds": round(seconds, 2),
                    **{key: round(value, 5) for key, value in metrics.items()}})
    results = {"history": history, "last": history[-1],
               "best": max(history, key=lambda h: h["psnr"])}
    write_text_atomic(run_dir / RESULTS, json.dumps(results, indent=1))


def _log_validation(writer, state: _State, val_set: Dataset, config: Config,
                    device: torch.device, loss_fn, images: bool, run_dir: Path) -> float:
    metrics, pictures = validate(state.model, val_set, config, device, loss_fn)
    _record_results(run_dir, state.step, state.seconds, metrics)
    for key, value in metrics.items():
        writer.add_scalar(f"val/{key}", value, state.step)
    if images:
        for index, picture in enumerate(pictures):
            writer.add_image(f"val/noisy|output|target/{index}", picture, state.step)
    log.info("step %d: validation PSNR %.2f dB (input %.2f dB), relMSE %.4f", state.step,
             metrics["psnr"], metrics["psnr_input"], metrics["relmse"])
    return metrics["psnr"]


def train(config: Config, resume_dir: str | Path | None = None,
          show_progress: bool = True) -> Path:
    """Train as the config says; returns the run folder. ``resume_dir`` continues a run from
    its ``checkpoints/last.pt`` exactly (weights, optimizer, scheduler, step, random state).

    Under ``torchrun`` every rank trains on its own slice of each step's samples with
    DistributedDataParallel; only rank 0 writes (run folder, TensorBoard, checkpoints,
    validation), in the same checkpoint format as a single process, so a run can resume
    with any number of processes."""
    ranks, device = _start_distributed(config)
    try:
        run_dir = _train(config, resume_dir, show_progress, ranks, device)
        if ranks.world > 1:  # no rank leaves while rank 0 still saves (gloo aborts otherwise)
            torch.distributed.barrier()
        return run_dir
    finally:
        if ranks.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


class _StopOnCtrlC:
    """While training, the first Ctrl-C (SIGINT) only asks the loop to stop at the next step;
    a KeyboardInterrupt raised anywhere could land inside TensorBoard's writer or a
    checkpoint save and leave the process hanging on their locks at exit. A second Ctrl-C
    interrupts at once. Outside the main thread signals cannot be caught: nothing changes."""

    def __init__(self) -> None:
        self.requested = False
        self.installed = threading.current_thread() is threading.main_thread()
        if self.installed:
            self.previous = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, self.previous if self.previous is not None
                          else signal.default_int_handler)
            self.installed = False


def _shared_run_dir(run_dir: Path | None, ranks: Ranks) -> Path:
    """Rank 0's run folder, told to every rank."""
    if ranks.world == 1:
        return run_dir
    box = [str(run_dir) if ranks.main else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return Path(box[0])


def _mean_over_ranks(value: float, ranks: Ranks, device: torch.device) -> float:
    if ranks.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(tensor)
    return tensor.item() / ranks.world


def _unwrapped(loader):
    """Iterate a DataLoader; an expected error raised in a worker process reaches the user as
    its own one line, not as the worker's traceback that PyTorch folds into the message."""
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except McdenoiseError as exc:
            text = str(exc)
            if "Original Traceback" not in text:
                raise
            last = [line for line in text.strip().splitlines() if line.strip()][-1]
            raise McdenoiseError(last.split(": ", 1)[-1] if ": " in last else last) from None
        yield batch


def _train(config: Config, resume_dir: str | Path | None, show_progress: bool, ranks: Ranks,
           device: torch.device) -> Path:
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    resume = None
    run_dir = None
    if resume_dir is not None:
        run_dir = Path(resume_dir)
        resume = load_checkpoint(run_dir / "checkpoints" / "last.pt")
        requested = config.train.steps
        config = Config.from_saved(resume["config"], source=str(run_dir))
        if requested > config.train.steps:  # extending a run: the schedule re-spreads over
            config.train.steps = requested  # the new total (see lr_factor)
            if ranks.main:
                save_config(config, run_dir / "config.yaml")
    batch_size, total = config.data.batch_size, config.train.steps
    # the network, weights to start from and optimizer before the data and any run folder: a
    # config the network refuses or an --init-from that does not fit fails first, leaving none
    check_config(config)
    state = _setup(config, device, resume, ranks)
    train_set, val_set = build_datasets(config, total * batch_size * ranks.world)
    train_set[0]  # a sample in this process: data errors are one line, before any run folder
    if resume_dir is None and ranks.main:
        run_dir = new_run_dir(config)
        save_config(config, run_dir / "config.yaml")
    run_dir = _shared_run_dir(run_dir, ranks)
    if state.step >= total:
        log.info("%s: already trained for %d steps", run_dir, total)
        return run_dir
    loader = DataLoader(train_set, batch_size=batch_size,
                        sampler=_RankSampler(state.step, total, batch_size, ranks),
                        num_workers=config.data.workers, drop_last=True,
                        pin_memory=device.type == "cuda",
                        persistent_workers=config.data.workers > 0)
    loss_fn, train_cfg = build_loss(config.loss), config.train
    writer = SummaryWriter(str(run_dir)) if ranks.main else None
    bar = tqdm(total=total, initial=state.step, disable=not (show_progress and ranks.main),
               unit="step", dynamic_ncols=True)
    started, first_step = time.perf_counter(), state.step
    clock = started  # training time (without validation) accumulates in state.seconds
    interrupted = _StopOnCtrlC()
    try:
        for batch in _unwrapped(loader):
            if interrupted.requested:  # Ctrl-C between steps, never inside a write or a lock
                raise KeyboardInterrupt
            loss = _train_step(state, batch, loss_fn, config, device)
            state.recent = (state.recent + [loss])[-train_cfg.log_every:]
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}", lr=f"{state.scheduler.get_last_lr()[0]:.2g}")
            step = state.step
            if step % train_cfg.log_every == 0 or step == total:
                mean = _mean_over_ranks(sum(state.recent) / len(state.recent), ranks, device)
                if writer is not None:
                    writer.add_scalar("train/loss", mean, step)
                    writer.add_scalar("train/lr", state.scheduler.get_last_lr()[0], step)
                    rate = (step - first_step) / (time.perf_counter() - started)
                    writer.add_scalar("train/steps_per_second", rate, step)
            if not ranks.main:
                continue
            if val_set is not None and (step % train_cfg.val_every == 0 or step == total):
                images = step % train_cfg.image_every == 0 or step == total
                state.seconds += time.perf_counter() - clock
                score = _log_validation(writer, state, val_set, config, device, loss_fn,
                                        images, run_dir)
                clock = time.perf_counter()
                if score > state.best:
                    state.best = score
                    _save(run_dir, "best", state, config)
            if step % train_cfg.ckpt_every == 0:
                _save(run_dir, f"step_{step:07d}", state, config)
                _save(run_dir, "last", state, config)
    except KeyboardInterrupt:
        if ranks.main:
            _save(run_dir, "last", state, config)
        bar.close()
        log.warning("interrupted at step %d; checkpoint saved: resume with --resume %s",
                    state.step, run_dir)
        raise
    finally:
        interrupted.restore()
        bar.close()
        if writer is not None:
            writer.close()
    if ranks.main:
        _save(run_dir, "last", state, config)
        if val_set is None:
            _save(run_dir, "best", state, config)  # without validation, the last is the best
    return run_dir
