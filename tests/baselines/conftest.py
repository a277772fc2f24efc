"""One torch thread: the CI box has two cores shared with the other test worker, and
spinning OpenMP workers on an oversubscribed CPU are slower than one thread."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
