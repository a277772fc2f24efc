"""The integration modules import no trainer (or torch) until used."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_importing_integrations_pulls_in_no_trainer():
    code = (
        "import sys, mtenvs.integrations, mtenvs.integrations.trl, mtenvs.integrations.verl\n"
        "heavy = [m for m in ('trl', 'torch', 'transformers', 'verl', 'datasets') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_dependency_says_how_to_install(monkeypatch):
    from mtenvs.integrations import trl as integration

    monkeypatch.setitem(sys.modules, "trl", None)  # makes `import trl` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "mtenvs\[trl\]"'):
        integration.import_trl()
