"""The deployment files are valid: the Dockerfile builds and runs in a plain shell, the Helm
chart renders to Kubernetes YAML, and the plain manifests parse.

No docker daemon or ``helm`` binary is needed. The Dockerfile is carried out step by step
in a temporary folder standing in for the image's file system (COPY copies, RUN runs in
``sh``, the entry point and the HEALTHCHECK run for real). The chart is rendered by a small
Go-template renderer below that covers the subset the chart uses (``if``/``else``,
``range``, ``define``/``include`` and the Sprig functions listed in ``FUNCTIONS``), and
every rendered document is parsed with pymock's own YAML loader. When ``helm`` is on the
PATH, ``helm lint`` and ``helm template`` run too.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pymock import __version__, miniyaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "pymock"
K8S = ROOT / "deploy" / "k8s"
CONTAINER_DIRS = ("app", "config", "provisions")   # absolute paths the Dockerfile uses
IMAGE_UID = 10001


# =========================================================================== Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    out = []
    for line in joined:
        word, _, rest = line.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def exec_form(arguments: str) -> list[str]:
    assert arguments.startswith("["), f"use the exec form (a JSON list): {arguments}"
    return json.loads(arguments)


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    for pattern in patterns:
        pattern = pattern.removeprefix("**/")
        if any(fnmatch.fnmatch("/".join(parts[i:j]), pattern)
               for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)):
            return True
    return False


def test_dockerfile_follows_the_rules():
    steps = dockerfile_instructions()
    kinds = [kind for kind, _ in steps]
    assert kinds[0] == "FROM" and re.fullmatch(r"python:3\.\d+-slim", steps[0][1])
    text = " ".join(arguments for _, arguments in steps)
    assert not re.search(r"\bpip3?\s+install\b|-m\s+pip\b", text), "pymock needs no pip installs"
    user = dict(steps)["USER"]
    assert user.split(":")[0].isdigit() and user.split(":")[0] != "0", "run as a numeric non-root user"
    assert kinds.index("USER") > max(i for i, kind in enumerate(kinds) if kind == "RUN")
    volumes = exec_form(dict(steps)["VOLUME"])
    assert set(volumes) == {"/config", "/provisions"}
    assert set(dict(steps)["EXPOSE"].split()) == {"8080", "8074"}
    health = dict(steps)["HEALTHCHECK"]
    assert "/__admin/health" in health and "CMD [" in health
    assert exec_form(dict(steps)["ENTRYPOINT"])[-1] == "/app/mock_server.py"


def test_dockerignore_keeps_the_runtime_files_and_drops_the_rest():
    patterns = dockerignore_patterns()
    for kind, arguments in dockerfile_instructions():
        if kind == "COPY":
            for source in shlex.split(arguments)[:-1]:
                assert (ROOT / source).exists(), f"COPY source {source} is missing"
                assert not ignored(source.rstrip("/"), patterns), f".dockerignore drops {source}"
    for kept in ("pymock/app.py", "mock_server.py", "config.json"):
        assert not ignored(kept, patterns)
    for dropped in (".git/config", "tests/test_app.py", "pymock/__pycache__/app.cpython-311.pyc", ".coverage",
                    "bench/x.py", "deploy/helm/pymock/Chart.yaml", "docs/deploy.md"):
        assert ignored(dropped, patterns), dropped


class Image:
    """The Dockerfile carried out in a temporary folder that stands in for ``/``."""

    def __init__(self, rootfs: Path):
        self.root, self.env, self.workdir = rootfs, {}, "/"
        self.entrypoint, self.cmd, self.healthcheck, self.user = [], [], [], None
        self.bin = rootfs / ".test-bin"   # `python` on the PATH is this interpreter
        self.bin.mkdir(parents=True)
        os.symlink(sys.executable, self.bin / "python")

    def host_path(self, text: str) -> str:
        """Container paths (``/app/...``) as paths inside the stand-in root."""
        return re.sub(r"(?<![\w.:/])/(" + "|".join(CONTAINER_DIRS) + r")\b", lambda m: f"{self.root}/{m.group(1)}", text)

    def build(self):
        for kind, arguments in dockerfile_instructions():
            getattr(self, f"_{kind.lower()}", lambda a: None)(arguments)
        return self

    def _env(self, arguments):
        for pair in shlex.split(arguments):
            name, _, value = pair.partition("=")
            self.env[name] = value

    def _workdir(self, arguments):
        self.workdir = arguments
        Path(self.host_path(arguments)).mkdir(parents=True, exist_ok=True)

    def _copy(self, arguments):
        *sources, target = shlex.split(arguments)
        destination = Path(self.host_path(target))
        for source in sources:
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, destination, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__"))
            else:
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / source, destination / Path(source).name)

    def _run(self, arguments):
        command = self.host_path(arguments)
        if os.geteuid() != 0:   # only root may chown; the rest of the step still runs
            command = re.sub(r"chown\s+-R\s+\S+", "true", command)
        result = subprocess.run(["sh", "-c", command], env=self.shell_env(), capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, f"RUN {arguments!r} failed: {result.stderr}"

    def _user(self, arguments):
        self.user = arguments

    def _entrypoint(self, arguments):
        self.entrypoint = exec_form(arguments)

    def _cmd(self, arguments):
        self.cmd = exec_form(arguments)

    def _healthcheck(self, arguments):
        self.healthcheck = exec_form(arguments.split("CMD", 1)[1].strip())

    def shell_env(self, **extra) -> dict:
        return {"PATH": f"{self.bin}:/usr/bin:/bin", **self.env, **extra}

    def argv(self, words: list[str]) -> list[str]:
        return [self.host_path(word) for word in words]


def _runnable_as_image_user() -> str | None:
    """A Python the image's user can execute here (``/root`` is often closed to others)."""
    if os.geteuid() != 0:
        return None
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        try:
            result = subprocess.run([candidate, "-c", "import sys; assert sys.version_info >= (3, 10)"],
                                    user=IMAGE_UID, capture_output=True, timeout=30)
        except OSError:   # missing, or not executable by that user
            continue
        if result.returncode == 0:
            return candidate
    return None


@pytest.fixture
def image():
    with tempfile.TemporaryDirectory(prefix="pymock-image-") as folder:
        os.chmod(folder, 0o755)   # the image's user must be able to walk into it
        yield Image(Path(folder)).build()


def test_dockerfile_steps_run_in_a_plain_shell(image):
    root = image.root
    assert (root / "app" / "pymock" / "__pycache__").is_dir()   # compileall ran
    assert json.loads((root / "config" / "config.json").read_text()) == json.loads((ROOT / "config.json").read_text())
    if os.geteuid() == 0:
        assert (root / "provisions").stat().st_uid == IMAGE_UID and (root / "config").stat().st_uid == IMAGE_UID
    assert image.env["PYMOCK_PORT"] == "8080" and image.user == f"{IMAGE_UID}:{IMAGE_UID}"


def _start(image, python, extra_env=None, user=None):
    argv = image.argv(image.entrypoint + image.cmd)
    argv[0] = python
    # Port 0 and loopback for the test; the image itself binds 0.0.0.0:8080.
    env = image.shell_env(PYMOCK_PORT="0", PYMOCK_HOST="127.0.0.1", **(extra_env or {}))
    process = subprocess.Popen(argv, cwd=image.host_path(image.workdir), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, user=user)
    line = process.stdout.readline().strip()
    if not line.startswith("listening on http://127.0.0.1:"):
        process.kill()
        raise AssertionError(f"the entry point did not start: {line!r} {process.stderr.read()}")
    return process, line.rsplit(":", 1)[1]


def _healthcheck(image, port, **extra_env) -> int:
    env = image.shell_env(PYMOCK_PORT=port, **extra_env)
    return subprocess.run(image.healthcheck, env=env, capture_output=True, timeout=30).returncode


def _stop(process) -> int:
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=15)
    process.stdout.close()
    process.stderr.close()
    return code


def test_the_entry_point_serves_as_the_image_user_and_the_healthcheck_sees_it(image):
    python = _runnable_as_image_user()
    user = IMAGE_UID if python else None
    process, port = _start(image, python or sys.executable, user=user)
    try:
        assert _healthcheck(image, port) == 0
        if user is not None:   # the image's user can write provisions, not the code
            probe = [python, "-c", f"open('{image.root}/provisions/x', 'w').write('ok')"]
            assert subprocess.run(probe, user=user, timeout=30).returncode == 0
            blocked = [python, "-c", f"open('{image.root}/app/pymock/x', 'w')"]
            assert subprocess.run(blocked, user=user, capture_output=True, timeout=30).returncode != 0
    finally:
        assert _stop(process) == 0
    assert _healthcheck(image, port) != 0   # nothing listens any more: unhealthy


def test_the_healthcheck_sends_the_admin_token(image):
    process, port = _start(image, sys.executable, {"PYMOCK_ADMIN_TOKEN": "t0ken"})
    try:
        assert _healthcheck(image, port, PYMOCK_ADMIN_TOKEN="t0ken") == 0
        assert _healthcheck(image, port) != 0   # 401 without it
    finally:
        _stop(process)


def test_the_image_runs_provisions_from_its_volume(image):
    (image.root / "provisions" / "initial").write_text(
        'def registerRules():\n  app.add_url_rule("/p", "p", view_func=lambda: "from the volume")\n')
    argv = image.argv(image.entrypoint + image.cmd + ["--provisions", "/provisions", "--allow-provisions",
                                                       "--admin-port", "0"])
    argv[0] = sys.executable
    env = image.shell_env(PYMOCK_PORT="0", PYMOCK_HOST="127.0.0.1")
    process = subprocess.Popen(argv, cwd=image.host_path(image.workdir), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip().removeprefix("listening on ")
        assert process.stdout.readline().startswith("provision admin on http://127.0.0.1:")
        import urllib.request
        with urllib.request.urlopen(url + "/p", timeout=10) as response:
            assert response.read() == b"from the volume"
    finally:
        assert _stop(process) == 0


# =========================================================================== Helm


class Template:
    """A tiny Go text/template renderer for the subset the chart uses."""

    ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)

    def __init__(self, defines: dict):
        self.defines = defines

    # --- parsing
    @classmethod
    def parse(cls, text: str) -> list:
        tokens, position = [], 0
        for found in cls.ACTION.finditer(text):
            tokens.append(("text", text[position:found.start()]))
            tokens.append(("action", found.group(2), found.group(1), found.group(3)))
            position = found.end()
        tokens.append(("text", text[position:]))
        for i, token in enumerate(tokens):   # {{- and -}} eat the whitespace next to them
            if token[0] == "action":
                if token[2] and tokens[i - 1][0] == "text":
                    tokens[i - 1] = ("text", tokens[i - 1][1].rstrip())
                if token[3] and tokens[i + 1][0] == "text":
                    tokens[i + 1] = ("text", tokens[i + 1][1].lstrip())
        nodes, rest = cls._block(iter(tokens))
        assert rest is None, f"unexpected {{{{ {rest} }}}}"
        return nodes

    @classmethod
    def _block(cls, tokens):
        nodes = []
        for token in tokens:
            if token[0] == "text":
                nodes.append(("text", token[1]))
                continue
            action = token[1]
            if action.startswith("/*"):
                continue
            word = action.split(None, 1)[0]
            if word in ("end", "else"):
                return nodes, word
            if word in ("if", "range", "define"):
                body, closer = cls._block(tokens)
                otherwise = []
                if closer == "else":
                    otherwise, closer = cls._block(tokens)
                assert closer == "end", f"{{{{ {action} }}}} is never closed"
                nodes.append((word, action.split(None, 1)[1], body, otherwise))
            else:
                nodes.append(("action", action))
        return nodes, None

    # --- rendering
    def render(self, nodes, dot, variables) -> str:
        out = []
        for node in nodes:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "action":
                out.append(_show(self.pipeline(node[1], dot, variables)))
            elif kind == "if":
                branch = node[2] if _truthy(self.pipeline(node[1], dot, variables)) else node[3]
                out.append(self.render(branch, dot, variables))
            elif kind == "range":
                out.append(self._range(node, dot, variables))
        return "".join(out)

    def _range(self, node, dot, variables) -> str:
        declared, _, expression = node[1].rpartition(":=")
        names = [name.strip() for name in declared.split(",") if name.strip()]
        collection = self.pipeline(expression if declared else node[1], dot, variables)
        items = sorted(collection.items()) if isinstance(collection, dict) else list(enumerate(collection or []))
        out = []
        for key, value in items:
            scope = dict(variables)
            if len(names) == 2:
                scope[names[0]], scope[names[1]] = key, value
            elif names:
                scope[names[0]] = value
            out.append(self.render(node[2], value, scope))
        return "".join(out)

    def pipeline(self, text: str, dot, variables):
        value, first = None, True
        for command in _split(text, "|"):
            words = _words(command)
            if words[0] in FUNCTIONS or words[0] == "include":
                args = [self.operand(word, dot, variables) for word in words[1:]]
                if not first:
                    args.append(value)
                value = self.include(*args) if words[0] == "include" else FUNCTIONS[words[0]](*args)
            else:
                assert len(words) == 1 and first, f"cannot run {command!r}"
                value = self.operand(words[0], dot, variables)
            first = False
        return value

    def include(self, name, dot):
        return self.render(self.defines[name], dot, {"$": dot})

    def operand(self, word: str, dot, variables):
        if word.startswith('"'):
            return json.loads(word)
        if re.fullmatch(r"-?\d+", word):
            return int(word)
        if word.startswith("("):
            return self.pipeline(word[1:-1], dot, variables)
        if word.startswith("$"):
            name, _, path = word.partition(".")
            return _walk(variables[name], path)
        if word.startswith("."):
            return _walk(dot, word[1:])
        raise AssertionError(f"unknown operand {word!r}")


def _walk(value, path: str):
    for key in filter(None, path.split(".")):
        assert isinstance(value, dict) and key in value, f"no {key!r} here (a typo in the chart?)"
        value = value[key]
    return value


def _split(text: str, separator: str) -> list[str]:
    parts, depth, quoted, current = [], 0, False, ""
    for index, char in enumerate(text):
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char == separator:
            parts.append(current)
            current = ""
            continue
        current += char
    return [part.strip() for part in parts + [current]]


def _words(command: str) -> list[str]:
    return re.findall(r'"(?:[^"\\]|\\.)*"|\((?:[^()"]|"(?:[^"\\]|\\.)*"|\([^()]*\))*\)|[^\s()]+', command)


def _truthy(value) -> bool:
    return value not in (None, False, 0, "", [], {})


def _show(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _quote(value) -> str:
    return json.dumps(_show(value))


def _indent(width: int, text: str) -> str:
    pad = " " * width
    return pad + str(text).replace("\n", "\n" + pad)


FUNCTIONS = {
    "default": lambda fallback, value=None: value if _truthy(value) else fallback,
    "printf": lambda template, *args: re.sub(r"%[sdv]", "{}", template).format(*map(_show, args)),
    "trunc": lambda width, text: text[:width],
    "trimSuffix": lambda suffix, text: text.removesuffix(suffix),
    "quote": _quote,
    "not": lambda value: not _truthy(value),
    "toYaml": lambda value: miniyaml.dump(value).rstrip("\n"),
    "toJson": lambda value: json.dumps(value, sort_keys=True, separators=(",", ":")),
    "toPrettyJson": lambda value: json.dumps(value, sort_keys=True, indent=2),
    "sha256sum": lambda text: hashlib.sha256(text.encode()).hexdigest(),
    "indent": _indent,
    "nindent": lambda width, text: "\n" + _indent(width, text),
}


def merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def render_chart(overrides: dict | None = None, release: str = "demo") -> dict[str, list]:
    """{template file: [parsed documents]}, as ``helm template`` would print them."""
    chart = miniyaml.load((CHART / "Chart.yaml").read_text(), source_name="Chart.yaml")
    values = merge(miniyaml.load((CHART / "values.yaml").read_text(), source_name="values.yaml"), overrides or {})
    top = {"Values": values, "Release": {"Name": release, "Namespace": "default", "Service": "Helm"},
           "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]}}
    files = sorted((CHART / "templates").rglob("*"))
    defines: dict = {}
    parsed = {}
    for path in files:
        if path.is_file():
            nodes = Template.parse(path.read_text())
            defines.update({node[1].strip('"'): node[2] for node in nodes if node[0] == "define"})
            parsed[path] = [node for node in nodes if node[0] != "define"]
    engine = Template(defines)
    out = {}
    for path, nodes in parsed.items():
        text = engine.render(nodes, top, {"$": top})
        name = str(path.relative_to(CHART / "templates"))
        if path.suffix == ".yaml":
            out[name] = [doc for doc in miniyaml.load_all(text, source_name=name) if doc]
        else:
            out[name] = text
    return out


def by_kind(rendered: dict) -> dict:
    return {doc["kind"]: doc for docs in rendered.values() if isinstance(docs, list) for doc in docs}


def container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_chart_metadata_matches_the_package():
    chart = miniyaml.load((CHART / "Chart.yaml").read_text(), source_name="Chart.yaml")
    assert chart["apiVersion"] == "v2" and chart["name"] == "pymock"
    assert chart["appVersion"] == __version__


def test_chart_renders_with_default_values():
    rendered = render_chart()
    kinds = by_kind(rendered)
    assert set(kinds) == {"Deployment", "Service", "ConfigMap", "Pod"}
    deployment, service, configmap = kinds["Deployment"], kinds["Service"], kinds["ConfigMap"]
    assert deployment["metadata"]["name"] == "demo-pymock" and deployment["spec"]["replicas"] == 1
    main = container(deployment)
    assert main["image"] == f"pymock:{__version__}"
    assert main["args"] == ["/config/config.json", "--port", "8080", "--workers", "1"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert main[probe]["httpGet"] == {"path": "/__admin/health", "port": "http"}
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert json.loads(configmap["data"]["config.json"])["endpoints"][0]["path"] == "/api/endpoint"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert "kubectl port-forward svc/demo-pymock" in rendered["NOTES.txt"]
    assert "Provisions are ON" not in rendered["NOTES.txt"]


def test_chart_values_for_replicas_workers_env_token_resources_and_provisions():
    initial = "def registerRules():\n  app.add_url_rule('/p', 'p', view_func=lambda: 'p')\n"
    rendered = render_chart({
        "replicaCount": 3, "workers": 2, "env": {"TZ": "UTC"}, "extraArgs": ["--quiet"],
        "adminToken": {"existingSecret": "pymock-admin"},
        "resources": {"limits": {"cpu": "2", "memory": "256Mi"}},
        "provisions": {"enabled": True, "files": {"initial": initial}},
        "nodeSelector": {"pool": "mocks"}, "tolerations": [{"key": "k", "operator": "Exists"}],
        "affinity": {"podAntiAffinity": {}}, "podAnnotations": {"team": "qa"},
    })
    kinds = by_kind(rendered)
    deployment = kinds["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    main = container(deployment)
    assert deployment["spec"]["replicas"] == 3
    assert main["args"][3:] == ["--workers", "2", "--provisions", "/provisions", "--allow-provisions",
                                "--admin-port", "8074", "--quiet"]
    env = {item["name"]: item for item in main["env"]}
    assert env["TZ"]["value"] == "UTC"
    assert env["PYMOCK_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "pymock-admin", "key": "token"}
    probe_command = main["readinessProbe"]["exec"]["command"]
    assert probe_command[:2] == ["python", "-c"] and "PYMOCK_ADMIN_TOKEN" in probe_command[2]
    compile(probe_command[2], "probe", "exec")   # the probe is valid Python
    assert main["resources"]["limits"] == {"cpu": "2", "memory": "256Mi"}
    assert {p["name"]: p["containerPort"] for p in main["ports"]} == {"http": 8080, "admin": 8074}
    assert pod["initContainers"][0]["volumeMounts"][0]["mountPath"] == "/provisions-seed"
    compile(pod["initContainers"][0]["command"][2], "seed", "exec")
    assert pod["nodeSelector"] == {"pool": "mocks"} and pod["tolerations"][0]["key"] == "k"
    assert deployment["spec"]["template"]["metadata"]["annotations"]["team"] == "qa"
    provisions = [doc for doc in rendered["provisions-configmap.yaml"]][0]
    assert provisions["data"]["initial"] == initial
    assert {p["name"] for p in kinds["Service"]["spec"]["ports"]} == {"http", "admin"}
    assert "Provisions are ON" in rendered["NOTES.txt"]


def test_a_config_change_rolls_the_pods_and_an_existing_configmap_is_shared():
    def annotations(values):
        return by_kind(render_chart(values))["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    before, after = annotations({}), annotations({"config": {"endpoints": [{"path": "/other"}]}})
    assert before["checksum/config"] != after["checksum/config"]
    assert before["checksum/provisions"] == after["checksum/provisions"]
    shared = render_chart({"existingConfigMap": "team-mocks"})
    assert "ConfigMap" not in by_kind(shared)
    volumes = by_kind(shared)["Deployment"]["spec"]["template"]["spec"]["volumes"]
    assert volumes[0]["configMap"]["name"] == "team-mocks"


def test_chart_names_follow_overrides():
    kinds = by_kind(render_chart({"fullnameOverride": "mocks-" + "x" * 70}))
    assert kinds["Deployment"]["metadata"]["name"] == ("mocks-" + "x" * 70)[:63]


def test_renderer_refuses_unknown_values():
    with pytest.raises(AssertionError, match="no 'nope' here"):
        Template({}).render(Template.parse("{{ .Values.nope }}"), {"Values": {}}, {})


@pytest.mark.skipif(shutil.which("helm") is None, reason="no helm binary here; the chart is rendered by the test's renderer")
def test_helm_lint_and_template():   # pragma: no cover - only where helm is installed
    assert subprocess.run(["helm", "lint", str(CHART)], capture_output=True, timeout=60).returncode == 0
    result = subprocess.run(["helm", "template", "demo", str(CHART), "--set", "provisions.enabled=true"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and miniyaml.load_all(result.stdout, source_name="helm template")


# =========================================================================== plain manifests


def test_plain_manifests_parse_and_agree_with_the_chart():
    documents = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in miniyaml.load_all(path.read_text(), source_name=path.name):
            documents[doc["kind"]] = doc
    assert set(documents) == {"ConfigMap", "Deployment", "Service", "Kustomization"}
    listed = set(documents["Kustomization"]["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    json.loads(documents["ConfigMap"]["data"]["config.json"])
    deployment = documents["Deployment"]
    main = container(deployment)
    chart_main = container(by_kind(render_chart())["Deployment"])
    assert main["args"] == chart_main["args"]
    assert main["readinessProbe"] == chart_main["readinessProbe"] == main["livenessProbe"]
    assert main["securityContext"] == chart_main["securityContext"]
    assert main["image"].endswith(f":{__version__}")
    assert deployment["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] == documents["ConfigMap"]["metadata"]["name"]
    assert documents["Service"]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
