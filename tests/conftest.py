"""Shared fixtures: a private TLH_HOME for every test, and tiny image folders.

Every test runs with `TLH_HOME` pointing into its own temporary folder, so no
test writes into the repository's data/cache or reads a cache another test
left behind. The image folders come from `imagefactory` (next to this file).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Before TensorFlow is imported anywhere: keep its C++ start-up chatter out.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import imagefactory  # noqa: E402


@pytest.fixture(autouse=True)
def tlh_home(tmp_path_factory, monkeypatch) -> Path:
    """A fresh, empty TLH_HOME for each test."""
    home = tmp_path_factory.mktemp("tlh_home")
    monkeypatch.setenv("TLH_HOME", str(home))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    return home


@pytest.fixture
def random_weights_allowed(monkeypatch):
    """Lift CI's TLH_REQUIRE_IMAGENET for a test of the random-weights fallback itself."""
    monkeypatch.delenv("TLH_REQUIRE_IMAGENET", raising=False)


@pytest.fixture
def offline(monkeypatch):
    """Make every host look unreachable, so nothing tries the network."""
    from tlhelpers.data import registry

    monkeypatch.setattr(registry, "host_reachable", lambda url, timeout=3.0: False)


@pytest.fixture
def flat_folder(tmp_path) -> Path:
    """`DIR/<class>/*.jpg`: 3 classes of 10 tiny JPEGs."""
    return imagefactory.make_folder(tmp_path / "flat", ("cats", "dogs", "fish"),
                                    per_class=10, layout="flat")


@pytest.fixture
def split_folder(tmp_path) -> Path:
    """`DIR/train|val/<class>/*.png`: 2 classes, 6 train and 3 val each."""
    return imagefactory.make_folder(tmp_path / "split", ("cats", "dogs"),
                                    per_class=6, val_per_class=3, layout="split",
                                    fmt="PNG")


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> imagefactory.Zoo:
    """The zoo, built once per session: read it only (`zoo_copy` to change it)."""
    return imagefactory.make_zoo(tmp_path_factory.mktemp("zoo") / "zoo")


@pytest.fixture
def zoo_copy(tmp_path) -> imagefactory.Zoo:
    """A zoo of this test's own, free to change."""
    return imagefactory.make_zoo(tmp_path / "zoo")


# --- no silent skips where they are not allowed -------------------------------------

NO_SKIPS_ENV = "TLH_NO_SKIPS"  # .ci/run sets it: in CI every selected test must run
_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus):
    """Under TLH_NO_SKIPS=1 a skipped test fails the run, naming each one."""
    if os.environ.get(NO_SKIPS_ENV) == "1" and _skipped and exitstatus == 0:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"{NO_SKIPS_ENV}=1 and {len(_skipped)} test(s) "
                                "skipped; make them runnable here:", red=True)
            for line in _skipped:
                reporter.write_line(f"  {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
