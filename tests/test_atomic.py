"""Atomic writes: one temporary-file naming, and only stale temporaries are cleared."""

from __future__ import annotations

import os
import time

import pytest
from conftest import dead_pid

from mcdenoise import atomic


def test_replacing_renames_on_success_and_cleans_up_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    atomic.write_atomic(target, lambda stream: stream.write(b"new"))
    assert target.read_bytes() == b"new"
    with pytest.raises(RuntimeError), atomic.replacing(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("writer failed")
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["out.bin"]


def test_temporary_names_carry_their_writer(tmp_path):
    temporary = atomic.temporary_path(tmp_path / "a.exr")
    match = atomic._OWNER.match(temporary.name)
    assert match and match["target"] == "a.exr" and int(match["pid"]) == os.getpid()


def test_only_temporaries_of_gone_writers_are_removed(tmp_path):
    host = atomic._HOST
    live = tmp_path / f".a.exr.{host}.{os.getpid()}.x1.tmp"
    killed = tmp_path / f".a.exr.{host}.{dead_pid()}.x2.tmp"
    other_file = tmp_path / f".a.exr.b.exr.{host}.{dead_pid()}.x3.tmp"  # b's temporary
    foreign_new = tmp_path / ".a.exr.otherhost.1.x4.tmp"
    foreign_old = tmp_path / ".a.exr.otherhost.2.x5.tmp"
    old_form = tmp_path / ".a.exr.abcd1234.tmp"
    for path in (live, killed, other_file, foreign_new, foreign_old, old_form):
        path.write_bytes(b"")
    hour_ago = time.time() - 3600
    day_ago = time.time() - atomic.FOREIGN_STALE_SECONDS - 10
    os.utime(foreign_old, (day_ago, day_ago))
    os.utime(old_form, (hour_ago, hour_ago))
    removed = atomic.remove_stale_temporaries(tmp_path / "a.exr")
    assert sorted(p.name for p in removed) == sorted(p.name for p in (killed, foreign_old,
                                                                       old_form))
    assert live.exists() and other_file.exists() and foreign_new.exists()
