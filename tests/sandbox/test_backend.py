"""sandbox="auto"|"docker"|"local", MTENVS_SANDBOX, and the doctor rows."""

from __future__ import annotations

import pytest

from mtenvs.error import InvalidArgumentError
from mtenvs.sandbox import LocalSandbox, SandboxUnavailableError, make_sandbox, resolve_backend
from mtenvs.sandbox import backend as backend_mod

pytestmark = pytest.mark.xdist_group("sandbox")


@pytest.fixture
def no_docker(monkeypatch):
    monkeypatch.setattr(backend_mod, "_docker_usable", lambda image: (False, "no engine (test)"))
    monkeypatch.delenv("MTENVS_SANDBOX", raising=False)
    yield
    backend_mod._cache.clear()  # later tests must see the real engine again


def test_env_var_selects_local(monkeypatch):
    monkeypatch.setenv("MTENVS_SANDBOX", "local")
    choice = resolve_backend(refresh=True)
    assert choice.backend == "local" and "MTENVS_SANDBOX" in choice.reason
    with make_sandbox() as sb:
        assert isinstance(sb, LocalSandbox)


def test_unknown_kind_names_the_choices(monkeypatch):
    monkeypatch.delenv("MTENVS_SANDBOX", raising=False)
    with pytest.raises(InvalidArgumentError, match=r"'auto', 'docker', 'local'.*Did you mean"):
        resolve_backend("dockr")


def test_auto_falls_back_with_a_reason(no_docker):
    choice = resolve_backend("auto", refresh=True)
    assert choice.backend == "local" and choice.weaker_isolation
    assert "no engine (test)" in choice.reason and "fallback" in choice.reason


def test_explicit_docker_raises_with_the_fix(no_docker):
    with pytest.raises(SandboxUnavailableError, match=r"ensure_docker\.sh"):
        resolve_backend("docker", refresh=True)


def test_doctor_rows_name_backend_and_reason(monkeypatch):
    from mtenvs.sandbox.cli import doctor_rows

    monkeypatch.setenv("MTENVS_SANDBOX", "local")
    rows = dict(doctor_rows())
    assert rows["sandbox backend"].startswith("local")
    assert "rlimits" in rows["local isolation"]


def test_cli_commands_exist():
    from typer.testing import CliRunner

    from mtenvs.sandbox.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["images", "--help"]).exit_code == 0
    assert "reap" in runner.invoke(app, ["sandbox", "--help"]).output
