"""The Dockerfile checked against the project, without a Docker engine.

What it installs is the pinned runtime lock and nothing else; the system libraries it
adds are what the installed wheels' native code links and a slim Debian lacks; the
model is baked by the tested build step where the runtime looks for it; the
entrypoint's program, module and config exist and bind Serve to 0.0.0.0.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import mmap
import re
import shlex
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

ROOT = Path(__file__).resolve().parents[2]
SITE_PACKAGES = Path(importlib.import_module("mediapipe").__file__).parents[1]

# Shared libraries a python:3.11-slim-bookworm image already has, by the Debian
# package that ships them (libc6, libstdc++6, libgcc-s1, zlib1g).
SLIM_BASE_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libmvec.so.1", "libpthread.so.0", "libdl.so.2", "librt.so.1",
    "libutil.so.1", "ld-linux-x86-64.so.2", "libstdc++.so.6", "libgcc_s.so.1", "libz.so.1",
}
# Debian bookworm package -> the libraries it provides that a wheel may link.
APT_LIBRARIES = {"libegl1": {"libEGL.so.1"}, "libgles2": {"libGLESv2.so.2"}}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    parsed, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, arguments = (current + line).partition(" ")
        parsed.append((keyword.upper(), arguments.strip()))
        current = ""
    return parsed


DOCKERFILE = instructions((ROOT / "Dockerfile").read_text())


def stages() -> dict[str, list[tuple[str, str]]]:
    """Stage name -> its instructions (FROM excluded)."""
    result: dict[str, list[tuple[str, str]]] = {}
    name = ""
    for keyword, arguments in DOCKERFILE:
        if keyword == "FROM":
            name = arguments.split(" AS ")[-1].strip()
            result[name] = []
        elif name:
            result[name].append((keyword, arguments))
    return result


def runs(stage: str) -> list[str]:
    return [arguments for keyword, arguments in stages()[stage] if keyword == "RUN"]


def exec_form(keyword: str) -> list[str]:
    [arguments] = [a for k, a in stages()["runtime"] if k == keyword]
    return json.loads(arguments)


def env(stage: str) -> dict[str, str]:
    """ENV of a stage, with what it inherits from the ``base`` stage."""
    values: dict[str, str] = {}
    for name in ("base", stage):
        for keyword, arguments in stages()[name]:
            if keyword == "ENV":
                values.update(item.split("=", 1) for item in shlex.split(arguments))
    return values


def public_config_command() -> str:
    """The Python code of the RUN that derives the container's Serve config."""
    [command] = [run for run in runs("runtime") if "http_options" in run]
    return command


def needed_libraries(path: Path) -> list[str]:
    """DT_NEEDED entries of an ELF64 little-endian shared object."""
    with path.open("rb") as f:
        if f.read(6) != b"\x7fELF\x02\x01":
            return []
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        section_offset = struct.unpack_from("<Q", data, 0x28)[0]
        entry_size, count = struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, section_offset + i * entry_size) for i in range(count)]
        needed = []
        for _name, kind, _flags, _addr, offset, size, link, *_ in sections:
            if kind != 6:  # SHT_DYNAMIC
                continue
            strings = sections[link][4]
            for entry in range(offset, offset + size, 16):
                tag, value = struct.unpack_from("<qQ", data, entry)
                if tag == 0:
                    break
                if tag == 1:  # DT_NEEDED
                    start = strings + value
                    needed.append(data[start : data.find(b"\0", start)].decode())
        return needed


def lock_lines(name: str) -> list[str]:
    return [line for line in (ROOT / name).read_text().splitlines() if line.strip() and not line.startswith("#")]


def files_of_test_only_packages() -> set[Path]:
    """Files of the packages only requirements-test.lock installs: in this venv, never in the image."""
    runtime = {line.split("==")[0].lower().replace("_", "-") for line in lock_lines("requirements.lock")}
    files: set[Path] = set()
    for line in lock_lines("requirements-test.lock"):
        name = line.split("==")[0]
        if name.lower().replace("_", "-") not in runtime:
            dist = importlib.metadata.distribution(name)
            files |= {Path(dist.locate_file(f)).resolve() for f in dist.files or ()}
    return files


# --- what it installs ---------------------------------------------------------------


def test_python_packages_come_from_the_pinned_runtime_lock_only() -> None:
    installs = [shlex.split(run) for stage in stages() for run in runs(stage) if "pip install" in run]
    assert len(installs) == 1, installs
    [words] = installs
    arguments = words[words.index("install") + 1 :]
    assert "--no-deps" in arguments  # as `make`: the lock is complete, mediapipe's GUI OpenCV stays out
    files = [arguments[i + 1] for i, word in enumerate(arguments) if word in ("-r", "--requirement")]
    positional = [w for i, w in enumerate(arguments) if not w.startswith("-") and arguments[i - 1] not in ("-r", "--requirement")]
    assert files == ["/tmp/requirements.lock"] and positional == [], arguments
    assert ("COPY", "requirements.lock /tmp/requirements.lock") in stages()["build"]
    assert "requirements-test.lock" not in (ROOT / "Dockerfile").read_text()
    assert all("==" in line for line in lock_lines("requirements.lock"))


def test_system_packages_are_what_native_code_needs_beyond_the_slim_base() -> None:
    [apt] = [run for stage in stages() for run in runs(stage) if "apt-get install" in run]
    words = shlex.split(apt.split("apt-get install", 1)[1].split("&&")[0])
    packages = {w for w in words if not w.startswith("-")}
    assert "--no-install-recommends" in words
    assert packages == set(APT_LIBRARIES) | {"tini"}
    assert exec_form("ENTRYPOINT")[0] == "tini"

    mediapipe = SITE_PACKAGES / "mediapipe" / "tasks" / "c" / "libmediapipe.so"
    assert {"libEGL.so.1", "libGLESv2.so.2"} <= set(needed_libraries(mediapipe))

    # Every library any installed wheel's native code (libraries and executables such
    # as Ray's raylet) links is bundled in a wheel, in the slim base, or installed above.
    # (Test-only packages, such as Playwright's bundled Node, are not in the image.)
    not_in_image = files_of_test_only_packages()
    objects = [p for p in SITE_PACKAGES.rglob("*")
               if (".so" in p.name or not p.suffix) and p.is_file() and p.resolve() not in not_in_image]
    bundled = {p.name for p in objects}
    provided = SLIM_BASE_LIBRARIES | set().union(*APT_LIBRARIES.values())
    missing = {(lib, str(p.relative_to(SITE_PACKAGES))) for p in objects for lib in needed_libraries(p)
               if lib not in bundled and lib not in provided}
    assert not missing, sorted(missing)


# --- the model ----------------------------------------------------------------------


def test_model_is_baked_by_the_tested_build_step(model_path: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The same command as the Makefile's `model` target, which the suite's model tests cover.
    assert "python -m posecore model" in runs("build")
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^model:.*\n\t\$\(PY\) -m posecore model$", makefile, re.M)
    from posecore.__main__ import _parser

    assert _parser().parse_args(["model"]).command == "model"

    # Built into $POSECORE_CACHE_DIR, copied to the same path in the runtime image,
    # and found there without building (what a replica does).
    cache = env("build")["POSECORE_CACHE_DIR"]
    assert env("runtime")["POSECORE_CACHE_DIR"] == cache
    assert ("COPY", f"--from=build {cache} {cache}") in stages()["runtime"]
    assert "POSE_MODEL" not in env("runtime")
    from posecore.model_path import DEFAULT_MODEL_NAME
    from posecore.model_path import model_path as locate_model

    baked = tmp_path / "opt-posecore"
    baked.mkdir()
    shutil.copy(model_path, baked / DEFAULT_MODEL_NAME)
    monkeypatch.delenv("POSE_MODEL", raising=False)
    monkeypatch.setenv("POSECORE_CACHE_DIR", str(baked))
    assert locate_model() == baked / DEFAULT_MODEL_NAME


# --- the entrypoint -------------------------------------------------------------------


def test_entrypoint_runs_the_projects_serve_config_on_all_interfaces(tmp_path: Path) -> None:
    program, command, config_name = exec_form("CMD")
    assert (program, command) == ("serve", "run")
    assert (Path(sys.executable).parent / "serve").is_file()  # ray's CLI, from the lock

    # The runtime image holds the code and the config where the CMD and PYTHONPATH say.
    runtime = stages()["runtime"]
    assert ("WORKDIR", "/app") in runtime and env("runtime")["PYTHONPATH"] == "/app"
    copied = [a.split() for k, a in runtime if k == "COPY" and not a.startswith("--from")]
    for source, target in copied:
        assert (ROOT / source).exists() and target == source
    assert "serve_config.yaml" in [source for source, _ in copied]

    # The config it runs: serve_config.yaml with Serve on 0.0.0.0 and API keys required
    # from Docker's secrets directory, nothing else changed.
    shutil.copy(ROOT / "serve_config.yaml", tmp_path)
    code, key_file = re.fullmatch(r'python -c "(.+)" (\S+)', public_config_command()).groups()
    subprocess.run([sys.executable, "-c", code, key_file], cwd=tmp_path, check=True)
    original = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    public = yaml.safe_load((tmp_path / config_name).read_text())
    assert public["http_options"].pop("host") == "0.0.0.0"
    assert original["http_options"].pop("host") == "127.0.0.1"
    assert public["applications"][0]["args"].pop("api_key_file") == key_file == "/run/secrets/dance_api_keys"
    assert original["applications"][0]["args"].pop("api_key_file") is None  # local use: off
    assert public == original
    schema = ServeDeploySchema.model_validate(yaml.safe_load((tmp_path / config_name).read_text()))
    [application] = schema.applications
    module, function = application.import_path.split(":")
    assert callable(getattr(importlib.import_module(module), function))

    # Port, health check and user.
    port = original["http_options"]["port"]
    assert ("EXPOSE", str(port)) in runtime
    [healthcheck] = [a for k, a in runtime if k == "HEALTHCHECK"]
    assert f"http://127.0.0.1:{port}/healthz" in healthcheck
    from serve_app.ingress import app

    assert "get" in app.openapi()["paths"]["/healthz"]
    [user] = [a for k, a in runtime if k == "USER"]
    assert user not in ("root", "0") and any("useradd" in run and run.endswith(f" {user}") for run in runs("runtime"))
    assert [k for k, _ in runtime].index("USER") > max(i for i, (k, _) in enumerate(runtime) if k == "RUN")


def test_dockerignore_sends_only_what_the_dockerfile_copies() -> None:
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]

    def regex(pattern: str) -> re.Pattern[str]:
        parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/"))
        wild = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
        return re.compile("".join(wild.get(p, re.escape(p)) for p in parts))

    def ignored(path: str) -> bool:
        """Docker's rules: the last matching rule wins; a rule on a directory covers its contents."""
        parts = path.split("/")
        result = False
        for rule in rules:
            pattern = regex(rule.lstrip("!"))
            if any(pattern.fullmatch("/".join(parts[: i + 1])) for i in range(len(parts))):
                result = not rule.startswith("!")
        return result

    sources = [a.split()[0] for stage in stages().values() for k, a in stage if k == "COPY" and "--from" not in a]
    for source in sources:
        files = [source] if (ROOT / source).is_file() else [
            str(p.relative_to(ROOT)) for p in (ROOT / source).rglob("*.py")]
        assert files and not any(ignored(f) for f in files), source
    for private in (".venv/bin/python", ".git/config", "tests/conftest.py", "benchmarks/load.py",
                    "requirements-test.lock", "posecore/__pycache__/video.cpython-311.pyc", ".ray/auth_token"):
        assert ignored(private), private
