"""Clinical dialogue: diagnose a simulated patient (educational toy model, not medical advice)."""

from __future__ import annotations

from mtenvs.core.registry import register_env

register_env("mtenvs/Clinical-v0", "mtenvs.envs.clinical.env:ClinicalEnv")
