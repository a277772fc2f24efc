"""SandboxPool: warm acquire, background reset on release, health checks, threads."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from mtenvs.sandbox import SandboxPool
from tests.sandbox._support import TEST_LIMITS

pytestmark = pytest.mark.xdist_group("sandbox")
BACKENDS = [pytest.param("docker", marks=pytest.mark.docker), "local"]


@pytest.fixture(params=BACKENDS)
def pool(request):
    if request.param == "docker":
        request.getfixturevalue("docker_engine")
    with SandboxPool(2, backend=request.param, limits=TEST_LIMITS) as p:
        yield p


def _wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_acquire_is_warm_and_release_resets(pool):
    assert pool.idle == 2
    start = time.perf_counter()
    sb = pool.acquire()
    assert time.perf_counter() - start < 0.05  # no cold start
    assert pool.stats["cold_acquires"] == 0
    sb.run("leak = 'previous episode'")
    inner = sb.inner
    sb.close()
    with pytest.raises(Exception, match="released"):
        sb.run("1")
    _wait(lambda: pool.idle == 2 and pool.stats["resets"] >= 1)
    again = [pool.acquire(), pool.acquire()]
    assert any(s.inner is inner for s in again)
    for s in again:
        assert "NameError" in s.run("leak").error  # fresh interpreter
        s.close()


def test_empty_pool_starts_a_cold_one_and_refills(pool):
    leases = [pool.acquire() for _ in range(3)]
    assert pool.stats["cold_acquires"] >= 1
    assert all(s.run("1+1").value == "2" for s in leases)
    for s in leases:
        s.close()
    _wait(lambda: pool.idle >= 2)


def test_dead_sandbox_is_replaced(pool):
    sb = pool.acquire()
    sb.inner.close()  # dies while leased
    sb.close()
    _wait(lambda: pool.stats["replaced"] >= 1 and pool.idle == 2)
    with pool.acquire() as fresh:
        assert fresh.run("1+1").value == "2"


def test_threads_share_the_pool_safely(pool):
    def episode(i):
        with pool.acquire() as sb:
            sb.run(f"x = {i}")
            time.sleep(0.01)
            return sb.run("x").value

    with ThreadPoolExecutor(8) as ex:
        assert list(ex.map(episode, range(24))) == [str(i) for i in range(24)]
    assert pool.leased == 0


def test_health_check_replaces_idle_dead_ones():
    with SandboxPool(1, backend="local", limits=TEST_LIMITS, health_interval_s=0.2) as p:
        victim = p._idle[0]
        victim.close()
        _wait(lambda: p.stats["replaced"] >= 1 and p.idle == 1)
        assert p._idle[0] is not victim


def test_close_closes_everything():
    p = SandboxPool(2, backend="local", limits=TEST_LIMITS)
    leased = p.acquire()
    idle = list(p._idle)
    p.close()
    assert all(s.closed for s in idle)
    leased.close()  # returned after close: destroyed, not pooled
    assert leased.inner.closed
    with pytest.raises(Exception, match="closed"):
        p.acquire()
    assert threading.active_count() < 50
