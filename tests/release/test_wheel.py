"""The wheel works on its own: built from this checkout, installed with its extras into a
clean venv outside the source tree, it plays one episode of every env family (local
sandbox, and Docker when an engine is up) and builds its images from the bundled context.

Slow (about a minute: the venv install reads pip's local caches), so it runs once per
session and every check shares the installed venv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support import require

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]

REPO = Path(__file__).resolve().parents[2]
EXTRAS = "code,sql,web,games,search"
#: An env or two per family (played by the oracle, and by random where there is no oracle:
#: MiniWoB).
FAMILY_ENVS = {
    "code": ["mtenvs/PythonMath-v0", "mtenvs/CodeTasks-v0"],
    "sql": ["mtenvs/Sql-v0"],
    "web": ["mtenvs/WebShop-v0", "mtenvs/MiniWob-click-button-v0"],
    "grid": ["mtenvs/Sokoban-v0"],
    "games": ["mtenvs/TicTacToe-v0"],
    "puzzles": ["mtenvs/RuleInduction-v0"],
    "clinical": ["mtenvs/Clinical-v0"],
    "search": ["mtenvs/Search-v0"],
}


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # built from a copy of the tracked files, as a fresh clone has them (setuptools writes
    # build/ beside the sources: a build in the checkout could meet another one there)
    source = tmp_path_factory.mktemp("source")
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        cwd=out,
    )
    (built,) = out.glob("mtenvs-*.whl")
    return built


#: The interpreter of the clean venv: the system's Python (any user may run it, so the
#: venv also serves the non-root run), else the one running the tests.
BASE_PYTHON = "/usr/bin/python3.11" if Path("/usr/bin/python3.11").is_file() else None


@pytest.fixture(scope="module")
def venv(wheel: Path) -> Iterator[Path]:
    # not under pytest's basetemp (0700 root): the non-root run must reach the venv
    root = Path(tempfile.mkdtemp(prefix="mtenvs-wheel-venv-"))
    root.chmod(0o755)
    try:
        base = BASE_PYTHON or sys._base_executable
        _run([base, "-m", "venv", str(root / "venv")], cwd=root)
        python = root / "venv" / "bin" / "python"
        _run([str(python), "-m", "pip", "install", "-q", f"{wheel}[{EXTRAS}]"], cwd=root)
        yield root / "venv"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points back into the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MTENVS_", "PYTHON"))}
    env.pop("VIRTUAL_ENV", None)
    return {**env, **extra}


def test_the_wheel_carries_every_run_time_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "mtenvs", "sandboxes"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    missing = []
    for path in (p for p in tracked if (REPO / p).is_file()):
        inside = (
            "mtenvs/_sandboxes/" + path.removeprefix("sandboxes/")
            if path.startswith("sandboxes/")
            else path
        )
        if inside not in names:
            missing.append(path)
    assert not missing, f"not in the wheel: {missing}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_installed_package_is_not_the_checkout(venv: Path, tmp_path: Path) -> None:
    proc = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import mtenvs; from mtenvs.sandbox.base import sandboxes_dir; "
            "print(mtenvs.__file__); print(sandboxes_dir())",
        ],
        cwd=tmp_path,
        env=_clean_env(),
    )
    package, sandboxes = proc.stdout.split()
    assert Path(package).is_relative_to(venv) and Path(sandboxes).is_relative_to(venv)
    assert Path(sandboxes).name == "_sandboxes"


def _eval(venv: Path, cwd: Path, envs: list[str], env: dict[str, str], *args: str) -> dict:
    _run(
        [
            str(venv / "bin" / "mtenvs"),
            "eval",
            "--env",
            ",".join(envs),
            "--agent",
            "oracle,random",
            "--episodes",
            "1",
            "--num-envs",
            "1",
            "--no-plots",
            "--out",
            str(cwd),
            "--name",
            "run",
            *args,
        ],
        cwd=cwd,
        env=env,
    )
    return json.loads((cwd / "run" / "report.json").read_text())


def _played(report: dict) -> dict[str, list[dict]]:
    by_env: dict[str, list[dict]] = {}
    for episode in report["episodes"]:
        by_env.setdefault(episode["env_id"], []).append(episode)
    return by_env


def test_one_episode_of_every_family_on_the_local_sandbox(venv: Path, tmp_path: Path) -> None:
    envs = [e for family in FAMILY_ENVS.values() for e in family]
    report = _eval(venv, tmp_path, envs, _clean_env(MTENVS_SANDBOX="local"))
    played = _played(report)
    assert sorted(played) == sorted(envs)
    for env_id, episodes in played.items():
        assert all(e["turns"] >= 1 for e in episodes), env_id
    # The oracle solves the deterministic ones: the runtime really ran the code and tests.
    for env_id in [
        "mtenvs/PythonMath-v0",
        "mtenvs/CodeTasks-v0",
        "mtenvs/Sql-v0",
        "mtenvs/WebShop-v0",
        "mtenvs/Sokoban-v0",
        "mtenvs/RuleInduction-v0",
        "mtenvs/Search-v0",
    ]:
        assert any(e["success"] for e in played[env_id] if e["agent"] == "oracle"), env_id


def test_pettingzoo_games_pass_api_test_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from pettingzoo.test import api_test; from mtenvs.games import tictactoe_v0; "
            "api_test(tictactoe_v0.env(), num_cycles=50)",
        ],
        cwd=tmp_path,
        env=_clean_env(),
    )


def _docker_up() -> str | None:
    try:
        from mtenvs.sandbox.images import image_status
    except ImportError as exc:  # pragma: no cover - the dev venv has every extra
        return str(exc)
    usable, why = image_status("python")
    return None if usable else why


@pytest.mark.docker
def test_images_build_and_docker_episodes_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    require(_docker_up(), "Docker")
    env = _clean_env()
    # The bundled build context hashes like the checkout's: the images are current ...
    listed = _run([str(venv / "bin" / "mtenvs"), "images", "build"], cwd=tmp_path, env=env)
    assert listed.stderr.count("already built") + listed.stdout.count("already built") == 3
    # ... and a forced build really builds one from the wheel's files.
    _run([str(venv / "bin" / "mtenvs"), "images", "build", "web", "--force"], cwd=tmp_path, env=env)
    report = _eval(
        venv,
        tmp_path,
        ["mtenvs/PythonMath-v0", "mtenvs/CodeTasks-v0"],
        _clean_env(MTENVS_SANDBOX="docker"),
    )
    played = _played(report)
    assert all(any(e["success"] for e in eps if e["agent"] == "oracle") for eps in played.values())
    (tmp_path / "run").rename(tmp_path / "code-run")
    report = _eval(venv, tmp_path, ["mtenvs/WebShop-v0"], env, "--arg", "site_backend=docker")
    assert any(e["success"] for e in report["episodes"] if e["agent"] == "oracle")


def test_without_root_it_says_what_it_cannot_install_and_plays_the_rest(venv: Path) -> None:
    """As an unprivileged user with no Chromium on PATH and no Docker access: the set-up
    scripts say what they could not install and exit 0; the evaluation skips the web env,
    saying why, and plays the others (code on the local sandbox as that user)."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to become an unprivileged user")
    home = Path(tempfile.mkdtemp(prefix="mtenvs-nonroot-"))
    try:
        home.chmod(0o777)
        scripts = home / "scripts"
        scripts.mkdir()
        for name in ("ensure_chromium.sh", "ensure_docker.sh"):
            shutil.copy(REPO / "scripts" / name, scripts / name)
        bin_dir = home / "bin"  # PATH without chromium, apt-get or docker
        bin_dir.mkdir()
        for tool in ("id", "timeout", "pgrep", "dirname"):
            if found := shutil.which(tool):
                (bin_dir / tool).symlink_to(found)
        path = f"{bin_dir}:{venv / 'bin'}"
        nobody = [str(shutil.which("setpriv")), "--reuid=65534", "--regid=65534", "--clear-groups"]
        env = _clean_env(PATH=path, HOME=str(home), PYTHON=str(venv / "bin" / "python"))
        env.pop("DOCKER_HOST", None)

        said = ""
        for name in ("ensure_chromium.sh", "ensure_docker.sh"):
            proc = _run([*nobody, "/bin/bash", str(scripts / name)], cwd=home, env=env)
            said += proc.stderr
        assert "chromium not installed and cannot install it" in said
        assert "not root" in said and "local fallback" in said

        envs = ["mtenvs/PythonMath-v0", "mtenvs/Sokoban-v0", "mtenvs/WebShop-v0"]
        proc = _run(
            [
                *nobody,
                str(venv / "bin" / "mtenvs"),
                "eval",
                "--env",
                ",".join(envs),
                "--agent",
                "oracle",
                "--episodes",
                "1",
                "--no-plots",
                "--out",
                str(home),
                "--name",
                "run",
            ],
            cwd=home,
            env={**env, "COLUMNS": "300"},
        )
        assert "Not played (Chromium was not found" in proc.stdout
        report = json.loads((home / "run" / "report.json").read_text())
        played = _played(report)
        assert sorted(played) == ["mtenvs/PythonMath-v0", "mtenvs/Sokoban-v0"]
        assert all(e["success"] for eps in played.values() for e in eps)
        (skipped,) = report["config"]["skipped"]
        assert skipped["env_id"] == "mtenvs/WebShop-v0" and "Chromium" in skipped["reason"]
    finally:
        shutil.rmtree(home, ignore_errors=True)
