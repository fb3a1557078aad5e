"""Writing files atomically: the one place that names temporary files and clears stale ones.

A file is written under a temporary name in its own folder, then renamed over the target,
so readers see the old file or the new one, never half of one. The temporary name says who
writes it, ``.<target>.<host>.<pid>.<random>.tmp``, so that a later run removes only the
temporaries whose writer is gone (a killed run), never those of a run still writing (two
farm jobs on one folder).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

# a writer on another machine (shared folder) counts as gone after this long
FOREIGN_STALE_SECONDS = 24 * 3600
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
_OWNER = re.compile(r"^\.(?P<target>.+)\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[^.]+\.tmp$")
_OLD_FORM = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")


def publish_mode(path: str | os.PathLike) -> None:
    """Give a file written through mkstemp (0600) the permissions a plain open() would."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def temporary_path(target: str | os.PathLike) -> Path:
    """A new, empty temporary file beside ``target``, named after it and its writer."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.{_HOST}.{os.getpid()}.",
                                    suffix=".tmp", dir=folder)
    os.close(handle)
    return Path(name)


@contextlib.contextmanager
def replacing(target: str | os.PathLike) -> Iterator[Path]:
    """``with replacing(path) as temporary:`` write ``temporary``; on success it is renamed
    over ``path`` (with a plain file's permissions), on failure it is removed."""
    target = Path(target)
    temporary = temporary_path(target)
    try:
        yield temporary
        publish_mode(temporary)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def write_atomic(target: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """``write(stream)`` into a temporary file, then renamed over ``target``."""
    with replacing(target) as temporary, open(temporary, "wb") as stream:
        write(stream)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    write_atomic(target, lambda stream: stream.write(text.encode()))


def _writer_alive(host: str, pid: int, age: float) -> bool:
    if host != _HOST:
        return age < FOREIGN_STALE_SECONDS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's live process
        return True
    return True


def remove_stale_temporaries(*targets: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``targets`` (files of one folder or several) whose writer is
    gone (a killed run), and those of the older unnamed form (``.<target>.<8 chars>.tmp``)
    that are over a minute old; returns what was removed. One pass over each folder."""
    folders: dict[Path, set[str]] = {}
    for target in map(Path, targets):
        folders.setdefault(target.parent if str(target.parent) else Path("."), set()).add(
            target.name)
    removed, now = [], time.time()
    for folder, names in folders.items():
        try:
            entries = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
        except OSError:
            continue
        for path in entries:
            stale = _stale(path, names, now)
            if stale:
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


def _stale(path: Path, names: set[str], now: float) -> bool:
    match = _OWNER.match(path.name)
    if match and match["target"] in names:
        try:
            age = now - path.stat().st_mtime
        except OSError:
            return False
        return not _writer_alive(match["host"], int(match["pid"]), age)
    if match:  # another file's temporary
        return False
    old = _OLD_FORM.match(path.name)
    if old and old["target"] in names:
        try:
            return now - path.stat().st_mtime > 60
        except OSError:
            return False
    return False
