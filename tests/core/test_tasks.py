"""The task helpers every family shares."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from mtenvs.core.tasks import stable_rng

_DRAW = "from mtenvs.core.tasks import stable_rng; print(stable_rng('x', 3).integers(1 << 30))"


def test_stable_rng_draws_the_same_in_every_process():
    here = int(stable_rng("x", 3).integers(1 << 30))
    for hash_seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-c", _DRAW],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert int(proc.stdout) == here


def test_stable_rng_depends_on_every_part():
    draws = [stable_rng(*parts).integers(1 << 62) for parts in [("x",), ("x", 3), ("x", 4)]]
    assert len(set(draws)) == 3
    assert isinstance(stable_rng(), np.random.Generator)
