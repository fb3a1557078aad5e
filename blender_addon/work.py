"""What the add-on does with renders: the denoising work items, their queue, the render handlers.

A work item has three steps. ``prepare`` touches Blender (it saves the Render Result to a
temporary multilayer EXR, when the pixels must come from there) and runs where the item is
made; the mcdenoise ``Task`` runs beside Blender; ``finish`` touches Blender again (the
"mcdenoise Result" image, saving in the scene's format, replacing a frame file) and runs on
the main thread. In the interface the queue is pumped by a timer, so Blender keeps drawing
and the panel shows progress; in background mode (``blender -b``) each item runs to its end
where it is made.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import os
import shutil
import sys
import tempfile

import bpy
from bpy.app.handlers import persistent

from . import bridge, settings

RESULT_IMAGE = "mcdenoise Result"
_TICK = 0.25  # seconds between polls of running work
_IDLE_TICK = 1.0  # ... and of the queue when nothing runs
NEIGHBOURS = 2  # frames on each side an animation frame is denoised with (as the CLI does)


class UserError(Exception):
    """An expected failure, reported to the user in one line."""


class _State:
    def __init__(self) -> None:
        self.queue: collections.deque[Item] = collections.deque()
        self.current: Item | None = None
        self.task: bridge.Task | None = None
        self.message = ""  # what is going on, shown in the panel
        self.last_error = ""
        self.popups: collections.deque[str] = collections.deque()  # shown by the timer
        self.finished = 0  # items finished since the queue was last empty
        self.frames_written = 0  # frames written by the render job now running
        self.rendering = False  # a render job runs: queued frames wait for render_complete
        self.shot = Shot()  # the render job's frames denoised with their neighbours
        self.held: list[FrameItem] = []  # denoised, waiting to replace a frame still needed


class Shot:
    """The multilayer EXR frames one render job writes, each denoised with ``NEIGHBOURS``
    frames on either side, as ``mcdenoise denoise`` does a frame sequence. A frame's first
    pass (its samples averaged with its neighbours', through the network) goes once the
    frames after it are written. With the blend, that pass is written into this shot's
    folder, and the frame's output (its first pass averaged with its neighbours' first
    passes; no network) goes once those exist."""

    def __init__(self) -> None:
        self.frames: list[FrameItem] = []  # in the order written
        self.released = 0  # first passes handed on
        self.first_ended: set[int] = set()  # ... and ended (written or failed)
        self.first_ready = 0  # every first pass before this index has ended
        self.blended = 0  # outputs handed on to blend
        self.blends_ended = 0
        self.ended = False  # the render job is over: no more frames come
        self.cancelled = False
        self._folder: str | None = None

    def first_pass(self, index: int) -> str:
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="mcdenoise-shot-")
        return os.path.join(self._folder, f"first_{index:06d}.exr")

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


STATE = _State()


# --- Blender helpers ----------------------------------------------------------------------------

_OUTPUT_SETTINGS = ("media_type", "file_format", "color_mode", "color_depth", "exr_codec")


@contextlib.contextmanager
def multilayer_exr_output(scene):
    """The scene's output set to a float multilayer EXR for a moment, then restored."""
    image_settings = scene.render.image_settings
    saved = [(name, getattr(image_settings, name)) for name in _OUTPUT_SETTINGS
             if hasattr(image_settings, name)]
    try:
        if hasattr(image_settings, "media_type"):  # Blender 5: before the file format
            image_settings.media_type = "MULTI_LAYER_IMAGE"
        image_settings.file_format = "OPEN_EXR_MULTILAYER"
        image_settings.color_depth = "32"
        image_settings.exr_codec = "ZIP"
        yield
    finally:
        for name, value in saved:
            with contextlib.suppress(TypeError, ValueError, AttributeError):
                setattr(image_settings, name, value)


def save_render_result(scene, path: str) -> None:
    """The last render, every pass, as a multilayer EXR ('Render Result' pixels cannot be
    read from Python, but ``save_render`` writes them)."""
    image = bpy.data.images.get("Render Result")
    if image is None:
        raise UserError("no render to denoise yet: render an image first (F12)")
    with multilayer_exr_output(scene):
        try:
            image.save_render(filepath=path, scene=scene)
        except RuntimeError as exc:
            raise UserError(f"no render to denoise yet ({' '.join(str(exc).split())})") from None
    if not os.path.isfile(path):
        raise UserError("no render to denoise yet: render an image first (F12)")


def check_passes(scene, view_layer) -> None:
    if not view_layer.cycles.denoising_store_passes:
        raise UserError(f"view layer '{view_layer.name}' has no Denoising Data passes: click "
                        "'Set up passes' (View Layer > Passes > Data > Denoising Data)")


def load_pixels(path: str):
    """(width, height, flat RGBA float pixels, bottom row first) of a one-part EXR."""
    import numpy as np

    image = bpy.data.images.load(path, check_existing=False)
    try:
        width, height = image.size
        pixels = np.empty(width * height * 4, np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    if not width or not height:
        raise UserError(f"{path}: Blender could not read the denoised image")
    return width, height, pixels


def image_from_exr(path: str, name: str):
    """A linear float image ``name`` holding the pixels of a one-part EXR (an existing image
    of that name and size is reused)."""
    width, height, pixels = load_pixels(path)
    image = bpy.data.images.get(name)
    if image is not None and (tuple(image.size) != (width, height) or not image.is_float):
        bpy.data.images.remove(image)
        image = None
    if image is None:
        image = bpy.data.images.new(name, width, height, alpha=True, float_buffer=True)
    with contextlib.suppress(TypeError):
        image.colorspace_settings.name = "Linear Rec.709"
    image.pixels.foreach_set(pixels)
    image.update()
    return image


def show_result(path: str):
    """Put the denoised pixels into the float image 'mcdenoise Result' and show it in an
    Image Editor when one is open."""
    result = image_from_exr(path, RESULT_IMAGE)
    for window in getattr(bpy.context.window_manager, "windows", ()):
        for area in window.screen.areas:
            if area.type == "IMAGE_EDITOR":
                area.spaces.active.image = result
                area.tag_redraw()
                break
    return result


def save_in_scene_format(image, scene, path: str) -> None:
    """``image`` saved as the scene's output format would save a render (colour management
    included), atomically."""
    folder, name = os.path.split(path)
    os.makedirs(folder or ".", exist_ok=True)
    temporary = os.path.join(folder, f".mcdenoise-{os.getpid()}-{name}")
    try:
        image.save_render(filepath=temporary, scene=scene)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(OSError):
            os.remove(temporary)


def denoised_beside(path: str) -> str:
    root, ext = os.path.splitext(path)
    return f"{root}_denoised{ext}"


def _report(message: str, error: bool = True) -> None:
    """Tell the user: the panel's status line, the console, and (errors, in the interface) a
    popup, which the timer shows from the main thread. Safe from any thread."""
    if error:
        STATE.last_error = message
        if not bpy.app.background:
            STATE.popups.append(message)
    STATE.message = message
    print(f"mcdenoise: {'error: ' if error else ''}{message}", file=sys.stderr if error else
          sys.stdout, flush=True)


def _show_popups() -> None:
    while STATE.popups:
        message = STATE.popups.popleft()

        def draw(menu, context, text=message):
            menu.layout.label(text=text)

        with contextlib.suppress(Exception):
            bpy.context.window_manager.popup_menu(draw, title="mcdenoise", icon="ERROR")


def _redraw() -> None:
    for window in getattr(bpy.context.window_manager, "windows", ()):
        for area in window.screen.areas:
            if area.type in ("PROPERTIES", "IMAGE_EDITOR"):
                area.tag_redraw()


# --- work items ---------------------------------------------------------------------------------

class Item:
    """One denoising job: ``prepare`` (Blender), the Task (beside Blender), ``finish``."""

    label = "render"

    def __init__(self, scene) -> None:
        self.scene_name = scene.name
        self.model = settings.model_for(scene)
        self.keep_noisy = scene.mcdenoise.keep_noisy
        self._workdir: str | None = None
        self.request: bridge.Request | None = None
        self.prepared = False

    @property
    def workdir(self) -> str:
        if self._workdir is None:
            self._workdir = tempfile.mkdtemp(prefix="mcdenoise-")
        return self._workdir

    @property
    def scene(self):
        scene = bpy.data.scenes.get(self.scene_name)
        if scene is None:
            raise UserError(f"scene '{self.scene_name}' is gone")
        return scene

    def _request(self, source: str, target: str, **kwargs) -> bridge.Request:
        return bridge.Request(source, target, model=self.model,
                              device=settings.preferences().device, **kwargs)

    def _from_render_result(self) -> None:
        """Request the denoised beauty of the Render Result, saved here first."""
        source = os.path.join(self.workdir, "render.exr")
        save_render_result(self.scene, source)
        self.request = self._request(source, os.path.join(self.workdir, "denoised.exr"),
                                     layer=self.view_layer, beauty_only=True)

    def prepare(self) -> None:
        self.prepared = True

    def finish(self) -> str:
        """Returns what was done, for the status line."""
        raise NotImplementedError

    def cleanup(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)


class StillItem(Item):
    """The last render → 'mcdenoise Result' (and a file beside the output if asked)."""

    def __init__(self, scene, view_layer) -> None:
        check_passes(scene, view_layer)
        super().__init__(scene)
        self.view_layer = view_layer.name
        self.save = scene.mcdenoise.save_result
        self.frame = scene.frame_current

    def prepare(self) -> None:
        self._from_render_result()
        super().prepare()

    def finish(self) -> str:
        result = show_result(self.request.target)
        if not self.save:
            return f"denoised into '{RESULT_IMAGE}'"
        scene = self.scene
        output = bpy.path.abspath(scene.render.frame_path(frame=self.frame))
        path = denoised_beside(output)
        save_in_scene_format(result, scene, path)
        return f"denoised into '{RESULT_IMAGE}' and {path}"


class FrameItem(Item):
    """A frame file an animation render just wrote → its denoised version (beside it in a
    folder, or replacing it). Multilayer EXR frames are denoised from the file itself, every
    layer kept; other formats from the Render Result, saved back in the scene's format."""

    label = "frame"

    def __init__(self, scene, frame: int) -> None:
        super().__init__(scene)
        config = scene.mcdenoise
        self.frame = frame
        self.path = bpy.path.abspath(scene.render.frame_path(frame=frame))
        self.replace = config.animation_output == "REPLACE"
        folder, name = os.path.split(self.path)
        self.target = self.path if self.replace else os.path.join(folder, config.folder, name)
        image_settings = scene.render.image_settings
        self.multilayer = image_settings.file_format == "OPEN_EXR_MULTILAYER"
        # a frame of a shot: the shot, its place there, its neighbours' places, nearest first
        self.in_shot = self.multilayer and config.use_neighbours
        self.stage = "first" if self.in_shot and config.use_blend else "frame"  # or "blend"
        self.shot: Shot | None = None
        self.index = 0
        self.before: tuple[int, ...] = ()
        self.after: tuple[int, ...] = ()
        self.held = False
        self._ended = False
        if scene.render.is_movie_format:
            raise UserError("movie output cannot be denoised frame by frame: render the "
                            "animation to image files (multilayer EXR keeps every pass)")
        view_layer = next((v for v in scene.view_layers if v.use), scene.view_layers[0])
        check_passes(scene, view_layer)
        self.view_layer = "" if self.multilayer else view_layer.name

    def prepare(self) -> None:
        """Runs in the render_write handler: the Render Result still holds this frame."""
        if self.multilayer:
            if not os.path.isfile(self.path):
                raise UserError(f"{self.path}: the frame was not written")
            shot = self.shot
            neighbours = {"previous": tuple(shot.frames[k].path for k in self.before),
                          "following": tuple(shot.frames[k].path for k in self.after)
                          } if shot else {}
            if self.stage == "first":  # the network's pass, for this frame and its neighbours
                self.request = self._request(self.path, shot.first_pass(self.index),
                                             keep_noisy=False, **neighbours)
                return super().prepare()
            if self.stage == "blend":
                neighbours.update(
                    denoised=shot.first_pass(self.index),
                    previous_denoised=tuple(shot.first_pass(k) for k in self.before),
                    following_denoised=tuple(shot.first_pass(k) for k in self.after))
            name = os.path.basename(self.path)
            target = (os.path.join(os.path.dirname(self.path), f".mcdenoise-{name}")
                      if self.replace else self.target)
            self.request = self._request(self.path, target, keep_noisy=self.keep_noisy,
                                         **neighbours)
        else:
            self._from_render_result()
        super().prepare()

    def for_blend(self) -> FrameItem:
        """The second step of this frame, once its neighbours' first passes are written."""
        item = copy.copy(self)
        item.stage, item._workdir, item.request = "blend", None, None
        item.prepared = item.held = item._ended = False
        return item

    def finish(self) -> str:
        if self.stage == "first":
            return f"frame {self.frame} denoised, to be blended with its neighbours"
        if self.multilayer:
            if self.replace and self.in_shot:  # the frames after it read it as a neighbour
                self.held = True
                STATE.held.append(self)
                replace_held(self.shot, self.index - NEIGHBOURS)
            elif self.replace:
                os.replace(self.request.target, self.path)
        else:
            image = image_from_exr(self.request.target, "mcdenoise frame")
            try:
                save_in_scene_format(image, self.scene, self.target)
            finally:
                bpy.data.images.remove(image)
        return f"frame {self.frame} denoised: {self.target}"

    def cleanup(self) -> None:
        if (self.multilayer and self.replace and self.request is not None and not self.held
                and self.stage != "first"):
            with contextlib.suppress(OSError):
                os.remove(self.request.target)
        super().cleanup()
        if not self._ended and self.shot is not None:  # written or failed: the shot goes on
            self._ended = True
            if self.stage == "first":
                first_pass_ended(self.shot, self.index)
            elif self.stage == "blend":
                blend_ended(self.shot, self.index)


def replace_held(shot: Shot | None = None, upto: int = 0) -> None:
    """Replace the frames whose denoised versions were held back: those of ``shot`` up to
    index ``upto`` (no frame still to be denoised reads them), or all (None)."""
    for item in list(STATE.held):
        if shot is not None and (item.shot is not shot or item.index > upto):
            continue
        STATE.held.remove(item)
        item.held = False
        try:
            os.replace(item.request.target, item.path)
        except OSError as exc:
            _report(f"frame {item.frame}: {exc.strerror or exc}")
            item.cleanup()


def release_first(shot: Shot) -> None:
    """Hand on the shot's frames whose ``NEIGHBOURS`` following frames are written (all of
    them once the render has ended), each with its neighbours' places."""
    frames = shot.frames
    last = len(frames) if shot.ended else len(frames) - NEIGHBOURS
    while shot.released < last and not shot.cancelled:
        index = shot.released
        shot.released += 1
        item = frames[index]
        item.before = tuple(k for k in range(index - 1, index - NEIGHBOURS - 1, -1) if k >= 0)
        item.after = tuple(k for k in range(index + 1, index + NEIGHBOURS + 1)
                           if k < len(frames))
        _prepare_and_submit(item)


def first_pass_ended(shot: Shot, index: int) -> None:
    shot.first_ended.add(index)
    while shot.first_ready in shot.first_ended:
        shot.first_ready += 1
    release_blends(shot)


def release_blends(shot: Shot) -> None:
    """Hand on the blends of the shot's frames whose neighbours' first passes have ended
    (those after them within ``NEIGHBOURS``, as far as the shot goes)."""
    frames = shot.frames
    while shot.blended < len(frames) and not shot.cancelled:
        index = shot.blended
        needed = index + NEIGHBOURS
        if shot.ended:
            needed = min(needed, len(frames) - 1)
        if shot.first_ready <= needed:
            return
        shot.blended += 1
        item = frames[index].for_blend()
        if not os.path.isfile(shot.first_pass(index)):  # its first pass failed, and said why
            item.cleanup()
            continue
        _prepare_and_submit(item)


def blend_ended(shot: Shot, index: int) -> None:
    """No later blend reads the first pass ``NEIGHBOURS`` before this frame's; the shot's
    folder goes with its last blend."""
    shot.blends_ended += 1
    if index >= NEIGHBOURS:
        with contextlib.suppress(OSError):
            os.remove(shot.first_pass(index - NEIGHBOURS))
    if shot.ended and shot.blends_ended == len(shot.frames):
        shot.close()


def _prepare_and_submit(item: FrameItem) -> None:
    try:
        item.prepare()
    except UserError as exc:
        item.cleanup()
        _report(f"frame {item.frame}: {exc}")
        return
    submit(item)


# --- running items ------------------------------------------------------------------------------

def backend() -> bridge.Backend:
    prefs = settings.preferences()
    try:
        return bridge.choose_backend(prefs.mode, bpy.path.abspath(prefs.executable)
                                     if prefs.executable else "")
    except bridge.BridgeError as exc:
        raise UserError(str(exc)) from None


def run_now(item: Item) -> str:
    """Prepare, denoise and finish ``item`` here, waiting for it. Raises UserError."""
    try:
        if not item.prepared:
            item.prepare()
        task = backend().start(item.request)
        task.wait()
        if task.error:
            raise UserError(task.error)
        return item.finish()
    except bridge.BridgeError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")) from None
    finally:
        item.cleanup()


def submit(item: Item) -> None:
    """Run ``item`` now in background mode, or queue it for the timer in the interface."""
    if bpy.app.background:
        try:
            _report(run_now(item), error=False)
        except UserError as exc:
            _report(str(exc))
        return
    STATE.queue.append(item)  # thread-safe: render handlers may run in the render thread
    STATE.message = f"{len(STATE.queue)} {item.label}(s) waiting to be denoised"


def _progress() -> str:
    waiting = len(STATE.queue)
    what = f"denoising {STATE.current.label}"
    if isinstance(STATE.current, FrameItem):
        what += f" {STATE.current.frame}"
    return what + (f" ({STATE.finished} done, {waiting} waiting)" if waiting or STATE.finished
                   else "") + " ..."


def _close_current(error: str | None) -> None:
    item, STATE.current, STATE.task = STATE.current, None, None
    try:
        if error:
            raise UserError(error)
        _report(item.finish(), error=False)
        STATE.finished += 1
    except UserError as exc:
        _report(f"{item.label}: {exc}")
    except Exception as exc:  # never let a timer raise into Blender
        _report(f"{item.label}: unexpected error: {exc}")
    finally:
        item.cleanup()


def tick():
    """Timer (main thread, while the add-on is enabled in the interface): show reports, start
    the next item, or see whether the running one is done."""
    try:
        _show_popups()
        if STATE.task is not None:
            if not STATE.task.done():
                STATE.message = _progress()
                _redraw()
                return _TICK
            _close_current(STATE.task.error)
        if STATE.rendering and STATE.queue:  # leave the CPU/GPU to the render until it ends
            STATE.message = f"{len(STATE.queue)} {STATE.queue[0].label}(s) queued until the " \
                            "render ends"
            return _IDLE_TICK
        while STATE.queue:
            item = STATE.queue.popleft()
            try:
                if not item.prepared:
                    item.prepare()
                STATE.current, STATE.task = item, backend().start(item.request)
            except (UserError, bridge.BridgeError, OSError) as exc:
                item.cleanup()
                _report(f"{item.label}: {exc}")
                continue
            STATE.message = _progress()
            _redraw()
            return _TICK
        if STATE.held and not STATE.rendering:
            replace_held()  # every frame of the shot is denoised
        if STATE.finished:
            STATE.finished = 0
            _redraw()
        return _IDLE_TICK
    except Exception as exc:  # never let a timer raise into Blender
        _report(f"unexpected error: {exc}")
        return _IDLE_TICK


def cancel_all() -> None:
    shots = {id(item.shot): item.shot for item in [STATE.current, *STATE.queue]
             if item is not None and getattr(item, "shot", None) is not None}
    shots = [STATE.shot, *shots.values()]
    for shot in shots:  # nothing more is handed on
        shot.cancelled = True
    for item in STATE.queue:
        item.cleanup()
    current = STATE.current

    def remove() -> None:
        """What the running item writes into: its folder and the shots' first passes."""
        if current is not None:
            current.cleanup()
        for shot in shots:
            shot.close()

    if STATE.task is not None:  # an in-process item still writes until its thread ends
        STATE.task.cancel(then=remove)
    else:
        remove()
    STATE.queue.clear()
    STATE.current = STATE.task = None
    STATE.message = ""
    STATE.shot = Shot()
    replace_held()  # what is denoised is kept


# --- render handlers ----------------------------------------------------------------------------

@persistent
def on_render_init(scene, *args) -> None:
    STATE.frames_written = 0
    STATE.rendering = True
    STATE.shot = Shot()


@persistent
def on_render_cancel(scene, *args) -> None:
    STATE.rendering = False  # frames already written are still denoised
    _end_shot()


def _end_shot() -> None:
    """The render ended: the frames still waiting for neighbours go with those they have."""
    try:
        STATE.shot.ended = True
        release_first(STATE.shot)
        release_blends(STATE.shot)
        if bpy.app.background:  # all denoised by now (no timer runs)
            replace_held()
    except Exception as exc:  # a handler must never raise into Blender
        _report(f"unexpected error: {exc}")


@persistent
def on_render_write(scene, *args) -> None:
    """A frame file was just written (animation, or a still saved with write_still)."""
    try:
        if not scene.mcdenoise.auto_denoise:
            return
        STATE.frames_written += 1
        item = FrameItem(scene, scene.frame_current)
        if item.in_shot:  # denoised once the frames after it are written too
            item.shot, item.index = STATE.shot, len(STATE.shot.frames)
            STATE.shot.frames.append(item)
            release_first(STATE.shot)
            return
        try:
            item.prepare()
        except Exception:
            item.cleanup()
            raise
        submit(item)
    except UserError as exc:
        _report(f"frame {scene.frame_current}: {exc}")
    except Exception as exc:  # a handler must never raise into the render
        _report(f"frame {scene.frame_current}: unexpected error: {exc}")


@persistent
def on_render_complete(scene, *args) -> None:
    """A render job ended: a still that wrote no file is denoised from the Render Result."""
    STATE.rendering = False  # the timer now works through the queued frames
    _end_shot()
    try:
        if not scene.mcdenoise.auto_denoise or STATE.frames_written:
            return
        view_layer = bpy.context.view_layer
        if view_layer is None or view_layer.name not in scene.view_layers:
            view_layer = scene.view_layers[0]
        submit(StillItem(scene, view_layer))
    except UserError as exc:
        _report(str(exc))
    except Exception as exc:
        _report(f"unexpected error: {exc}")


HANDLERS = (("render_init", on_render_init), ("render_write", on_render_write),
            ("render_complete", on_render_complete), ("render_cancel", on_render_cancel))


def register() -> None:
    for name, function in HANDLERS:
        getattr(bpy.app.handlers, name).append(function)
    if not bpy.app.background:  # no event loop runs timers in background mode
        bpy.app.timers.register(tick, first_interval=_IDLE_TICK, persistent=True)


def unregister() -> None:
    cancel_all()
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    for name, function in HANDLERS:
        handlers = getattr(bpy.app.handlers, name)
        while function in handlers:
            handlers.remove(function)
    bridge.forget_models()
