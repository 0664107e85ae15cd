"""Hot reload: a thread that polls the config file (and the body files it names) for changes.

Layer 2: starts a thread and reads files. Polling (not inotify) because it is portable and
cheap: one ``os.stat`` per file per interval, plus a CRC-32 of files up to 1 MiB. A change
calls ``app.reload``, which keeps the previous config serving when the new one is invalid.
``PollingWatcher`` is the thread both this watcher and the provision folder watcher use.
"""

from __future__ import annotations

import os
import threading
import zlib

__all__ = ["PollingWatcher", "ConfigWatcher"]

_CHECKSUM_LIMIT = 1024 * 1024  # bytes; larger files are compared by mtime and size only


def _checksum(path: str, size: int) -> int | None:
    """CRC-32 of a small file. Two writes of the same size within one filesystem timestamp
    tick leave mtime and size unchanged, so small files (configs) are compared by content."""
    if size > _CHECKSUM_LIMIT:
        return None
    with open(path, "rb") as handle:
        return zlib.crc32(handle.read())


class PollingWatcher:
    """A daemon thread that calls ``check_now()`` every ``interval`` seconds until ``stop()``.

    Subclasses define ``check_now`` and ``report(message)``; an exception in a check is
    reported and the thread keeps watching (a watcher must never die silently).
    """

    thread_name = "pymock-watcher"
    label = "watcher"  # names the watcher in error reports
    interval = 0.5
    _stop = None
    _thread = None

    def start(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_now()
            except Exception as exc:
                self.report(f"{self.label} error: {exc!r}")

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def check_now(self):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def report(self, message: str) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError


class ConfigWatcher(PollingWatcher):
    """Watch ``app.config.files`` every ``interval`` seconds and reload the app on a change."""

    thread_name = "pymock-config-watcher"
    label = "config watcher"

    def __init__(self, app, interval: float = 0.5):
        self.app = app
        self.interval = interval
        self.reloads = 0
        self._seen = self._fingerprint()

    def _files(self) -> tuple:
        files = set(self.app.config.files)
        if self.app.source_path:
            files.add(self.app.source_path)
        return tuple(sorted(files))

    def _fingerprint(self) -> dict:
        out = {}
        for path in self._files():
            try:
                stat = os.stat(path)
                out[path] = (stat.st_mtime_ns, stat.st_size, _checksum(path, stat.st_size))
            except OSError:
                out[path] = None
        return out

    def check_now(self) -> bool:
        """Reload if a watched file changed since the last look; True when it reloaded.

        Only a change to a file that was already watched counts: an admin edit that adds or
        drops a ``body_file`` changes the set of files, not the files, and must not reload
        (which would discard the edit). The fingerprint is taken before reloading, so a file
        written again while the reload runs is seen on the next look.
        """
        current = self._fingerprint()
        changed = any(path in self._seen and self._seen[path] != stamp for path, stamp in current.items())
        self._seen = current
        if not changed:
            return False
        result = self.app.reload("file changed")
        self.reloads += 1
        return result["ok"]

    def report(self, message: str) -> None:
        self.app.log(message)
