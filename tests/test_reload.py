"""The config watcher, driven by ``check_now`` (no thread, no sleeps)."""

import json
import os

from pymock.app import MockApp
from pymock.model import Request
from pymock.reload import ConfigWatcher


def write(path, raw, bump=1):
    path.write_text(json.dumps(raw) if not isinstance(raw, str) else raw)
    stat = path.stat()  # move mtime on explicitly: two writes can share a timestamp tick
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def body(app, target):
    return app.handle(Request("GET", target)).body


def test_a_changed_config_file_is_reloaded(tmp_path):
    path = tmp_path / "config.json"
    write(path, {"endpoints": [{"path": "/v", "response": "one"}]})
    app = MockApp(str(path))
    watcher = ConfigWatcher(app)
    assert watcher.check_now() is False
    write(path, {"endpoints": [{"path": "/v", "response": "two"}]})
    assert watcher.check_now() is True
    assert body(app, "/v") == b"two" and watcher.reloads == 1
    assert watcher.check_now() is False


def test_a_changed_body_file_is_reloaded(tmp_path):
    path = tmp_path / "config.json"
    (tmp_path / "page.txt").write_text("old")
    write(path, {"endpoints": [{"path": "/p", "body_file": "page.txt"}]})
    app = MockApp(str(path))
    watcher = ConfigWatcher(app)
    write(tmp_path / "page.txt", "new")
    assert watcher.check_now() is True
    assert body(app, "/p") == b"new"


def test_a_bad_change_keeps_the_old_config_and_is_not_retried(tmp_path):
    path = tmp_path / "config.json"
    write(path, {"endpoints": [{"path": "/v", "response": "good"}]})
    app = MockApp(str(path))
    watcher = ConfigWatcher(app)
    write(path, "{broken")
    assert watcher.check_now() is False
    assert body(app, "/v") == b"good" and app.last_reload["ok"] is False
    assert watcher.check_now() is False and watcher.reloads == 1


def test_admin_edits_that_add_a_body_file_are_not_undone(tmp_path):
    path = tmp_path / "config.json"
    (tmp_path / "extra.txt").write_text("extra")
    write(path, {"endpoints": [{"path": "/v"}]})
    app = MockApp(str(path))
    watcher = ConfigWatcher(app)
    app.edit(lambda raw: raw["endpoints"].append({"path": "/extra", "body_file": "extra.txt"}))
    assert watcher.check_now() is False
    assert body(app, "/extra") == b"extra"
    app.edit(lambda raw: raw["endpoints"].pop())
    assert watcher.check_now() is False
    assert app.handle(Request("GET", "/extra")).status == 404


def test_a_write_during_a_reload_is_seen_next_time(tmp_path):
    path = tmp_path / "config.json"
    write(path, {"endpoints": [{"path": "/v1"}]})
    app = MockApp(str(path))
    watcher = ConfigWatcher(app)
    real_reload = app.reload

    def reload_then_file_changes(reason):
        result = real_reload(reason)
        write(path, {"endpoints": [{"path": "/v3"}]}, bump=5)  # lands after the reload read the file
        return result
    app.reload = reload_then_file_changes
    write(path, {"endpoints": [{"path": "/v2"}]})
    assert watcher.check_now() is True
    assert [e.path for e in app.config.endpoints] == ["/v2"]
    app.reload = real_reload
    assert watcher.check_now() is True
    assert [e.path for e in app.config.endpoints] == ["/v3"]


def test_the_thread_survives_an_error_and_stops(tmp_path):
    path = tmp_path / "config.json"
    write(path, {"endpoints": []})
    messages = []
    app = MockApp(str(path), log=messages.append)
    watcher = ConfigWatcher(app, interval=0.01)

    def boom():
        raise RuntimeError("disk went away")
    watcher.check_now = boom
    watcher.start()
    from pymock.testing import wait_until
    wait_until(lambda: any("disk went away" in m for m in messages), message="the watcher to report the error")
    watcher.stop()
    assert not watcher._thread.is_alive()


def test_a_same_size_write_in_the_same_timestamp_tick_is_seen(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"endpoints": [{"path": "/v", "response": "one"}]}))
    app = MockApp(str(path))
    watcher = ConfigWatcher(app)
    stat = path.stat()
    path.write_text(json.dumps({"endpoints": [{"path": "/v", "response": "two"}]}))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same mtime, the same size
    assert watcher.check_now() is True
    assert body(app, "/v") == b"two"
