"""Hot reload: a thread that polls the config file (and the body files it names) for changes.

Layer 2: starts a thread and reads file metadata. Polling (not inotify) because it is portable
and cheap: one ``os.stat`` per file per interval. A change calls ``app.reload``, which keeps
the previous config serving when the new one is invalid.
"""

from __future__ import annotations

import os
import threading

__all__ = ["ConfigWatcher"]


class ConfigWatcher:
    """Watch ``app.config.files`` every ``interval`` seconds and reload the app on a change."""

    def __init__(self, app, interval: float = 0.5):
        self.app = app
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
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
                out[path] = (stat.st_mtime_ns, stat.st_size)
            except OSError:
                out[path] = None
        return out

    def check_now(self) -> bool:
        """Reload if any watched file changed since the last look; True when it reloaded."""
        current = self._fingerprint()
        if current == self._seen:
            return False
        self._seen = current
        result = self.app.reload("file changed")
        self._seen = self._fingerprint()  # a reload may add or drop body files
        self.reloads += 1
        return result["ok"]

    def start(self) -> "ConfigWatcher":
        self._thread = threading.Thread(target=self._run, name="pymock-config-watcher", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_now()
            except Exception as exc:  # the watcher must never die; report and keep watching
                self.app.log(f"config watcher error: {exc!r}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
