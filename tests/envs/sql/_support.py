"""PostgreSQL test support: skip a backend that cannot run here, unless ``CI`` is set
(CI must exercise both the local server and the container; then it fails)."""

from __future__ import annotations

from mtenvs.envs.sql.postgres import PostgresUnavailableError, docker_problem, server_host
from tests._support import require


def backend_problem(backend: str) -> str | None:
    """Why ``backend`` (``local`` or ``docker``) cannot serve here, or ``None``."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return 'psycopg is not installed (pip install "mtenvs[sql]")'
    if backend == "docker":  # engine and image; the tests start their own containers
        return docker_problem()
    try:
        server_host(backend)
    except PostgresUnavailableError as e:
        return str(e)
    return None


def require_backend(backend: str) -> None:
    """Skip (or fail under ``CI``) when ``backend`` cannot serve."""
    require(backend_problem(backend), f"the PostgreSQL {backend} backend")
