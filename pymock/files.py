"""Atomic file writes: saved data is never half-written and the previous version is kept.

Layer 1: file I/O only (no sockets, no threads).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write(folder / "a.json", "{}")
>>> atomic_write(folder / "a.json", '{"x": 1}', backup=True)
>>> (folder / "a.json").read_text(), (folder / "a.json.bak").read_text()
('{"x": 1}', '{}')
"""

from __future__ import annotations

import os
import shutil
import tempfile

__all__ = ["atomic_write"]


def atomic_write(path, data: str | bytes, *, backup: bool = False) -> None:
    """Write ``data`` to ``path`` through a temp file, fsync and ``os.replace``.

    With ``backup``, the file's previous content is first copied to ``<path>.bak``. A crash at
    any moment leaves either the old or the new file, never a mix.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if backup and os.path.exists(path):
        shutil.copy2(path, path + ".bak")
    handle, temp_path = tempfile.mkstemp(prefix=".pymock-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        if os.path.exists(path):
            shutil.copymode(path, temp_path)
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    # The rename itself is durable only once the directory entry is flushed (POSIX).
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
