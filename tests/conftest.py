import os
import shutil
import sys
import tempfile

import pytest

# The tests measure behaviour, not the user's compilation cache: keep ~/.cache untouched.
os.environ.setdefault("WIDEDIP_CACHE_DIR", "off")
# One JAX compilation cache for this test session, shared by the test processes (xdist workers
# inherit the controller's environment) and the processes the tests start; removed at the end.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="widedip-tests-jax-")
    os.environ["WIDEDIP_TESTS_OWN_CACHE"] = os.environ["JAX_COMPILATION_CACHE_DIR"]
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
# One JAX device per test process (two test processes share the 2 cores); the tests of several
# devices and processes start their own.
os.environ.setdefault("WIDEDIP_CPU_DEVICES", "1")


@pytest.fixture
def setup_traces(monkeypatch):
    """A list that grows by one each time the compiled setup is traced (a compilation of it)."""
    from wideDIP._experiments import simulate as _simulate

    traces = []
    original = _simulate.draw_seeds
    monkeypatch.setattr(_simulate, "draw_seeds", lambda *args: traces.append(1) or original(*args))
    return traces


@pytest.fixture(autouse=True)
def _close_figures():
    """Figures a test drew without a file (`plot()` returns them open) are closed after it."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


STARTED_FIRST = ("test_benchmarks.py", "test_parallel.py", "test_distributed.py")
"""The modules whose tests start other processes and last longest: run first, so that neither test
process is left running one of them alone at the end (xdist hands out tests in collection order)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules of `STARTED_FIRST` first, in that order; the others as collected."""

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return STARTED_FIRST.index(name) if name in STARTED_FIRST else len(STARTED_FIRST)

    items.sort(key=rank)


def pytest_unconfigure(config):
    """The controller (not an xdist worker) removes the session's compilation cache."""
    if not hasattr(config, "workerinput") and os.environ.get("WIDEDIP_TESTS_OWN_CACHE"):
        shutil.rmtree(os.environ["WIDEDIP_TESTS_OWN_CACHE"], ignore_errors=True)
