"""``atomic_path`` and friends: special files refused, temporary copies named and cleaned,
a full disk reported in one line that names the destination."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections import namedtuple

import pytest

from alrnn_neuro import _atomic
from alrnn_neuro._atomic import (
    atomic_path,
    check_output_path,
    remove_stale_parts,
    replace_path,
    staging_folder,
    write_bytes,
)
from alrnn_neuro.errors import OutputError

HOST = _atomic._HOST


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_special_files_and_links_are_refused_and_left_alone(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    (tmp_path / "target").write_text("keep")
    link.symlink_to(tmp_path / "target")
    for path, kind in ((fifo, "fifo"), (link, "symbolic link")):
        with pytest.raises(OutputError, match=f"is a {kind}.*fix"), atomic_path(path) as tmp:
            tmp.write_text("replaced")
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink()
    assert (tmp_path / "target").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "link", "target"]


def test_a_device_node_is_refused(tmp_path):
    null = tmp_path / "null"
    try:
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root (CAP_MKNOD)")
    with pytest.raises(OutputError, match="character device"):
        write_bytes(null, b"x")
    assert stat.S_ISCHR(null.lstat().st_mode)


def test_check_output_path_accepts_new_files_regular_files_and_folders(tmp_path):
    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "new", tmp_path / "file", tmp_path, tmp_path / "file" / "below"):
        assert check_output_path(path) == path


def test_temporary_name_carries_host_and_pid_and_is_removed_on_failure(tmp_path):
    final = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.txt.")
        assert f".{HOST}-{os.getpid()}." in tmp.name and tmp.name.endswith(".part")
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_stale_parts_of_dead_processes_are_removed_others_kept(tmp_path):
    dead = tmp_path / f".a.h5.{HOST}-{_dead_pid()}.0123abcd.part"
    alive = tmp_path / f".b.h5.{HOST}-{os.getpid()}.0123abcd.part"
    foreign = tmp_path / ".c.h5.otherhost-1.0123abcd.part"
    folder = tmp_path / f".d.{HOST}-{_dead_pid()}.89abcdef.part"
    unrelated = tmp_path / ".e.h5.part"
    for path in (dead, alive, foreign, unrelated):
        path.write_text("x")
    folder.mkdir()
    (folder / "inside").write_text("x")
    assert sorted(remove_stale_parts(tmp_path)) == sorted([dead, folder])
    assert alive.exists() and foreign.exists() and unrelated.exists()
    with atomic_path(tmp_path / "next.txt") as tmp:  # every write cleans its folder first
        tmp.write_text("x")
    assert not dead.exists() and not folder.exists()


def test_size_hint_beyond_the_free_space_is_refused_before_writing(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 5000, 5000))
    with pytest.raises(OutputError, match=r"no space left on .*need ~12 KB, 5 KB free"):
        write_bytes(tmp_path / "big.bin", b"x" * 12_000)
    assert list(tmp_path.iterdir()) == []


def test_enospc_while_writing_names_the_destination(tmp_path):
    final = tmp_path / "out.bin"
    with pytest.raises(OutputError) as caught, atomic_path(final) as tmp:
        tmp.write_bytes(b"x" * 100)
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert f"cannot write {final}: no space left on" in str(caught.value)
    assert ".part" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_other_os_errors_name_the_destination_not_the_temporary_file(tmp_path):
    final = tmp_path / "out.bin"
    with pytest.raises(OSError) as caught, atomic_path(final) as tmp:
        raise OSError(errno.EIO, "Input/output error", str(tmp))
    assert caught.value.errno == errno.EIO and caught.value.filename == str(final)


def test_a_file_in_the_way_of_the_folder_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="file is a file, not a folder"):
        write_bytes(tmp_path / "file" / "sub" / "x.bin", b"x")


def test_staging_then_replace_swaps_a_folder_whole(tmp_path):
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "old.png").write_text("old")
    with staging_folder(out) as stage:
        (stage / "figures").mkdir()
        (stage / "figures" / "new.png").write_text("new")
        replace_path(stage / "figures", out / "figures")
    assert [p.name for p in (out / "figures").iterdir()] == ["new.png"]
    assert sorted(p.name for p in out.iterdir()) == ["figures"]  # no stage, no old copy


def test_a_unix_socket_is_refused(tmp_path):
    path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    with pytest.raises(OutputError, match="socket"):
        check_output_path(path)
