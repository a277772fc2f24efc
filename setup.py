"""Build hook: a wheel carries the ``sandboxes/`` folder (the REPL server and judge, the
Dockerfiles and their build context, the web sites) as ``mtenvs/_sandboxes``, found at run
time by :func:`mtenvs.sandbox.base.sandboxes_dir`. Everything else is in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SANDBOXES = Path(__file__).resolve().parent / "sandboxes"


class BuildPyWithSandboxes(build_py):
    """``build_py`` that also copies ``sandboxes/`` into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's sandboxes/
            return
        if not (SANDBOXES / "runtime" / "repl_server.py").is_file():
            raise SystemExit(f"setup.py: {SANDBOXES}/runtime/repl_server.py is missing")
        target = Path(self.build_lib) / "mtenvs" / "_sandboxes"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(
            SANDBOXES, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
        )


setup(cmdclass={"build_py": BuildPyWithSandboxes})
