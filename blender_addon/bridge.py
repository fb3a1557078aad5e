"""How the add-on reaches mcdenoise: in Blender's own Python, or through an external executable.

Nothing here imports ``bpy``: the add-on's Blender side asks for a ``Request`` (one EXR in, one
EXR out) and gets a ``Task`` it can poll from a timer or wait on.

- **in-process**: ``mcdenoise`` and ``torch`` import inside Blender's Python; the model is
  loaded once (``mcdenoise.load_model``) and each request runs in a thread, so Blender's
  interface keeps drawing while PyTorch works (GPUs included).
- **bundled**: the extension's own wheels (``mcdenoise addon build``): mcdenoise's inference
  code, ONNX Runtime and the bundled models in ONNX, in Blender's Python, no torch; on the
  CPU, in a thread as above.
- **external**: an ``mcdenoise`` executable installed anywhere (its own Python, its own torch)
  runs ``mcdenoise denoise`` as a subprocess.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass


class BridgeError(Exception):
    """mcdenoise cannot be reached the way the preferences ask; the message says why."""


@dataclass(frozen=True)
class Request:
    source: str  # a multilayer EXR: beauty plus the passes the model needs
    target: str  # where the denoised EXR goes (written atomically)
    model: str = ""  # a .safetensors model or checkpoint; "" = the bundled model
    device: str = "auto"
    layer: str = ""  # the view layer to denoise ("" = every layer)
    beauty_only: bool = False  # write just the denoised RGBA (what the add-on displays)
    keep_noisy: bool = True
    previous: tuple[str, ...] = ()  # frames before this one in its shot, nearest first
    following: tuple[str, ...] = ()  # and after it: it is denoised with them
    # the blend: this frame's first pass (what a request with the neighbours above wrote)
    # and its neighbours', nearest first; the output blends them, no network runs
    denoised: str = ""
    previous_denoised: tuple[str, ...] = ()
    following_denoised: tuple[str, ...] = ()

    def arguments(self) -> list[str]:
        """The ``mcdenoise`` command-line arguments for this request."""
        args = ["denoise", self.source, "-o", self.target, "--device", self.device, "--overwrite"]
        if self.model:
            args += ["--model", self.model]
        if self.layer:
            args += ["--layer", self.layer]
        if self.beauty_only:
            args.append("--beauty-only")
        if not self.keep_noisy:
            args.append("--no-keep-noisy")
        if self.denoised:
            args += ["--denoised", self.denoised]
        for option, paths in (("--previous", self.previous), ("--next", self.following),
                              ("--previous-denoised", self.previous_denoised),
                              ("--next-denoised", self.following_denoised)):
            for path in paths:
                args += [option, path]
        return args


class Task:
    """Work running beside Blender. ``done()`` never blocks; ``error`` is one line or None."""

    error: str | None = None

    def done(self) -> bool:
        raise NotImplementedError

    def wait(self) -> None:
        raise NotImplementedError

    def cancel(self, then=None) -> None:
        """Stop waiting for the result (a thread finishes on its own, a process is killed).
        ``then`` (removing what the work writes into) runs once the work has stopped: at
        once for a process, when its work returns for a thread."""
        if then is not None:
            then()


class ThreadTask(Task):
    def __init__(self, work) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self._then = None  # what cancel asked to run once the work has stopped
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True,
                                        name="mcdenoise")
        self._thread.start()

    def _run(self, work) -> None:
        try:
            work()
        except Exception as exc:  # reported in Blender's interface, never raised there
            self.error = _one_line(str(exc)) or type(exc).__name__
        finally:
            with self._lock:
                self._stopped = True
                then, self._then = self._then, None
            if then is not None:
                with contextlib.suppress(Exception):
                    then()

    def cancel(self, then=None) -> None:
        """A thread cannot be stopped: ``then`` waits for its work to return."""
        with self._lock:
            if not self._stopped:
                self._then = then
                return
        if then is not None:
            then()

    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self) -> None:
        self._thread.join()


class ProcessTask(Task):
    def __init__(self, command: list[str]) -> None:
        self.command = command
        self._log = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=self._log)
        except OSError as exc:
            self._log.close()
            raise BridgeError(f"cannot run {command[0]}: {exc.strerror or exc}") from None

    def done(self) -> bool:
        code = self._process.poll()
        if code is None:
            return False
        self._finish(code)
        return True

    def wait(self) -> None:
        self._finish(self._process.wait())

    def cancel(self, then=None) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._finish(self._process.returncode)
        super().cancel(then)

    def _finish(self, code: int) -> None:
        if self._log.closed:
            return
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        self._log.close()
        if code != 0 and self.error is None:
            lines = [line for line in text.splitlines() if line.strip()]
            message = lines[-1] if lines else f"exit status {code}"
            self.error = message.removeprefix("Error: ").strip()


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- the two ways -------------------------------------------------------------------------------

_models: dict[tuple[str, str], object] = {}
_models_lock = threading.Lock()


def _importable(*names: str) -> bool:
    """Checked without importing them."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in names)
    except (ImportError, ValueError):
        return False


def inprocess_importable() -> bool:
    """mcdenoise and torch can be imported here."""
    return _importable("mcdenoise", "torch")


def bundled_importable() -> bool:
    """mcdenoise and ONNX Runtime can be imported here (the extension's wheels)."""
    return _importable("mcdenoise", "onnxruntime")


def check_bundled() -> tuple[bool, str]:
    """Import mcdenoise and ONNX Runtime for real: (works, what was found or why not)."""
    try:
        import onnxruntime

        import mcdenoise
    except Exception as exc:
        return False, f"bundled runtime: not available ({_one_line(str(exc))})"
    return True, (f"bundled runtime: mcdenoise {mcdenoise.__version__}, ONNX Runtime "
                  f"{onnxruntime.__version__} (CPU)")


def check_inprocess() -> tuple[bool, str]:
    """Import mcdenoise and torch for real: (works, what was found or why not)."""
    try:
        import torch

        import mcdenoise
    except Exception as exc:  # ImportError, or a broken install raising anything
        return False, f"in-process: not available ({_one_line(str(exc))})"
    return True, f"in-process: mcdenoise {mcdenoise.__version__}, torch {torch.__version__}"


def find_executable(path: str = "") -> str | None:
    """The external ``mcdenoise`` executable: ``path`` when set, else the one on PATH."""
    if path:
        path = os.path.expanduser(path)
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which("mcdenoise")


def check_external(path: str = "") -> tuple[bool, str]:
    executable = find_executable(path)
    if executable is None:
        where = f"'{path}' is not an executable file" if path else "no 'mcdenoise' on PATH"
        return False, f"external: not found ({where})"
    try:
        done = subprocess.run([executable, "--version"], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"external: {executable} does not run ({_one_line(str(exc))})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return False, f"external: {executable} fails ({last})"
    return True, f"external: {executable} ({done.stdout.strip()})"


def _denoise_here(request: Request, runtime: str = "torch") -> None:
    import mcdenoise
    from mcdenoise.denoise import DenoiseOptions, denoise_file

    device = request.device if runtime == "torch" else "cpu"
    key = (request.model, device, runtime)
    with _models_lock:
        if key not in _models:  # in-process: torch, or ONNX Runtime for an .onnx model
            _models[key] = mcdenoise.load_model(request.model or None, device=device,
                                                backend="auto" if runtime == "torch"
                                                else runtime)
        denoiser = _models[key]
    options = DenoiseOptions(layer=request.layer or None, keep_noisy=request.keep_noisy,
                             overwrite=True, beauty_only=request.beauty_only)
    denoise_file(request.source, request.target, denoiser, options, request.previous,
                 request.following, request.denoised or None, request.previous_denoised,
                 request.following_denoised)


class Backend:
    """A chosen way to run mcdenoise; ``start`` returns the running Task."""

    def __init__(self, mode: str, executable: str | None = None) -> None:
        self.mode, self.executable = mode, executable

    def start(self, request: Request) -> Task:
        if self.mode == "IN_PROCESS":
            return ThreadTask(lambda: _denoise_here(request, "torch"))
        if self.mode == "BUNDLED":
            return ThreadTask(lambda: _denoise_here(request, "onnxruntime"))
        return ProcessTask([self.executable, *request.arguments()])

    def describe(self) -> str:
        return {"IN_PROCESS": "in-process", "BUNDLED": "bundled runtime (ONNX Runtime, CPU)"}.get(
            self.mode, f"external ({self.executable})")


def choose_backend(mode: str, executable_path: str = "") -> Backend:
    """mode: AUTO (in-process when mcdenoise and torch import, else the bundled runtime when
    it imports, else external), IN_PROCESS, BUNDLED or EXTERNAL."""
    if mode in ("AUTO", "IN_PROCESS") and inprocess_importable():
        return Backend("IN_PROCESS")
    if mode == "IN_PROCESS":
        raise BridgeError("mcdenoise is not importable in Blender's Python: install it there, "
                          "or choose the external executable in the add-on preferences")
    if mode in ("AUTO", "BUNDLED") and bundled_importable():
        return Backend("BUNDLED")
    if mode == "BUNDLED":
        raise BridgeError("this add-on has no bundled runtime: install the extension zip made "
                          "for your platform (mcdenoise addon build)")
    executable = find_executable(executable_path)
    if executable is None:
        if executable_path:
            raise BridgeError(f"mcdenoise executable '{executable_path}' is not an executable "
                              "file (add-on preferences)")
        raise BridgeError("mcdenoise not found: install it (pip install mcdenoise) and set its "
                          "executable in the add-on preferences")
    return Backend("EXTERNAL", executable)


def forget_models() -> None:
    """Drop cached in-process models (on unregister, or when the model setting changes)."""
    with _models_lock:
        _models.clear()
