from tests.sandbox._support import (  # noqa: F401  (fixtures)
    docker_engine,
    docker_sandbox,
    local_sandbox,
    sandbox,
)
