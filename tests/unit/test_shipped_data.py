"""The shipped photos (data/flowers-small), the quick default, and no machine paths.

A fresh clone must run the quick profile with no network and nothing beside
it: the photos are checked against their own SHA256SUMS, the registry pins that
file, and no tracked file may name a folder that exists on one machine only.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import hashlib
import json
import re
import socket
import subprocess
from pathlib import Path

import pytest

from tlhelpers import config
from tlhelpers.cli import doctor
from tlhelpers.data import registry

SPEC = registry.DATASETS["flowers-small"]
FOLDER = registry.shipped_folder(SPEC)
CLASSES = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
# Built by data/make_flowers_small.py: the default-profile study's cut of
# tf_flowers_full. train/: 160 per class; val/ (picks) and test/ (grades): the
# two seeded halves of every validation photo there, rounded up for val/.
PER_CLASS = {
    "train": dict.fromkeys(CLASSES, 160),
    "val": dict(zip(CLASSES, [67, 94, 68, 74, 84])),
    "test": dict(zip(CLASSES, [67, 93, 68, 73, 83])),
}
PHOTOS = sum(sum(per.values()) for per in PER_CLASS.values())  # 1,571
STUDY = config.PROJECT_ROOT / "bench" / "results" / "2026-12-04-default-profile-study.json"

# `sha256sum` output: the digest, a space, then a space (text) or `*` (binary).
SUM_LINE = re.compile(r"(?P<sha>[0-9a-f]{64}) [ *](?P<name>.+)")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_sums(path: Path) -> dict[str, str]:
    """File name -> SHA-256 from a `sha256sum` file; a malformed line fails."""
    sums = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = SUM_LINE.fullmatch(line)
        assert match, f"{path}:{number} is not a sha256sum line: {line!r}"
        sums[match["name"]] = match["sha"]
    return sums


def present_files(folder: Path) -> set[str]:
    """Every file under `folder`, relative, hidden ones (.DS_Store, ...) left out."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and not any(part.startswith(".")
                                       for part in p.relative_to(folder).parts)}


# --- the shipped files --------------------------------------------------------------

def test_shipped_files_match_their_checksums():
    sums = read_sums(FOLDER / "SHA256SUMS")
    wrong = [name for name, sha in sorted(sums.items())
             if not (FOLDER / name).is_file() or sha256(FOLDER / name) != sha]
    assert not wrong, (
        f"{len(wrong)} file(s) in {FOLDER} are missing or changed, e.g. "
        f"{wrong[:5]}; restore them with `git checkout -- {SPEC.shipped}`")
    extra = present_files(FOLDER) - set(sums) - {"SHA256SUMS"}
    assert not extra, (f"files in {FOLDER} that SHA256SUMS does not list: "
                       f"{sorted(extra)[:5]}; the course must never write there")


def test_the_registry_pins_the_checksum_file():
    # SHA256SUMS pins every photo; the registry pins SHA256SUMS and the size.
    assert sha256(FOLDER / "SHA256SUMS") == SPEC.sha256, (
        "data/flowers-small/SHA256SUMS changed: update the registry entry "
        "in tlhelpers/data/registry.py only if the subset was meant to change")
    files = [FOLDER / name for name in present_files(FOLDER)]
    assert sum(p.stat().st_size for p in files) == SPEC.size
    assert SPEC.url == "" and "CC BY 2.0" in SPEC.license


def test_the_subset_is_inside_the_repository():
    # A link to a folder beside the checkout would work here and nowhere else.
    assert FOLDER.is_dir() and not FOLDER.is_symlink()
    assert FOLDER.resolve().is_relative_to(config.PROJECT_ROOT)
    assert not Path(SPEC.shipped).is_absolute()


def manifest_rows() -> list[dict[str, str]]:
    with open(FOLDER / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_subset_is_split_and_every_photo_is_credited():
    # The folders on disk, not the loader: train/, val/ and test/ with every class.
    splits = sorted(p.name for p in FOLDER.iterdir() if p.is_dir())
    assert splits == sorted(PER_CLASS), splits
    for split, expected in PER_CLASS.items():
        found = {c.name: len(list(c.glob("*.jpg")))
                 for c in sorted((FOLDER / split).iterdir())}
        assert found == expected, (split, found)
    rows = manifest_rows()
    photos = {p for p in present_files(FOLDER) if p.endswith(".jpg")}
    assert {row["file"] for row in rows} == photos and len(photos) == PHOTOS
    assert len(rows) == PHOTOS
    for row in rows:  # each row names the folder its photo is in
        assert row["file"].split("/")[:2] == [row["split"], row["class"]], row["file"]
    # CC BY 2.0: each photo's credit line is in the LICENSE.txt shipped with it.
    lines = (FOLDER / "LICENSE.txt").read_text(encoding="utf-8").splitlines()
    credits = set(lines)
    uncredited = [row["file"] for row in rows if row["attribution"] not in credits]
    assert not uncredited, f"photos without a credit line: {uncredited[:5]}"
    assert len(lines) == 4 + PHOTOS  # the original 4-line header, one line per photo


def test_no_source_photo_is_in_two_splits():
    rows = manifest_rows()
    for key in ("source_path", "source_sha256"):
        seen: dict[str, str] = {}
        twice = []
        for row in rows:
            if row[key] in seen:
                twice.append((row[key], seen[row[key]], row["split"]))
            seen[row[key]] = row["split"]
        assert not twice, f"the same source photo twice ({key}): {twice[:5]}"
    names = [row["file"].split("/", 1)[1] for row in rows]
    assert len(set(names)) == len(names)


def test_the_test_split_is_the_one_the_study_measured_on():
    # The study's record names its test photos inside tf_flowers_full, where
    # they are in val/; here they are test/ (same class folder, same name).
    record = json.loads(STUDY.read_text(encoding="utf-8"))["split"]
    assert record["classes"] == CLASSES
    tested = record["test_files"]
    assert len(set(tested)) == len(tested) == sum(PER_CLASS["test"].values())
    shipped = ["val/" + row["file"].split("/", 1)[1] for row in manifest_rows()
               if row["split"] == "test"]
    assert sorted(shipped) == sorted(tested)
    assert record["test_per_class"] == [PER_CLASS["test"][c] for c in CLASSES]
    assert record["validation_per_class"] == [PER_CLASS["val"][c] for c in CLASSES]


# --- which dataset each profile uses ------------------------------------------------

@pytest.fixture
def no_network(offline, monkeypatch):
    """Every host unreachable, and any attempt to connect or download fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"tried the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(registry, "download", refuse)


def test_quick_profile_uses_the_shipped_subset_with_no_network(
        no_network, monkeypatch, tlh_home):
    monkeypatch.delenv("TLH_DATASET", raising=False)
    monkeypatch.setenv("TLH_PROFILE", "quick")
    monkeypatch.setattr(doctor, "check_weights", lambda timeout: None)
    assert registry.requested_dataset() == "flowers-small"
    assert registry.get_dataset(progress=False) == FOLDER
    shipped = f"flowers-small (shipped, {PHOTOS} photos)"
    assert registry.describe_default_dataset() == shipped
    finding = doctor.check_data_and_weights(timeout=0.1)[0]
    assert (finding.status, finding.detail) == (doctor.OK, shipped)
    assert not any(tlh_home.iterdir()), "nothing is downloaded or cached"


def test_full_profile_still_downloads_the_whole_dataset(offline, monkeypatch):
    monkeypatch.delenv("TLH_DATASET", raising=False)
    monkeypatch.setenv("TLH_PROFILE", "full")
    assert registry.requested_dataset() == "flowers"
    assert registry.describe_default_dataset() == "flowers (not downloaded yet)"


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_tlh_dataset_overrides_the_profile(profile, monkeypatch, flat_folder):
    monkeypatch.setenv("TLH_PROFILE", profile)
    other = "flowers" if profile == "quick" else "flowers-small"
    monkeypatch.setenv("TLH_DATASET", other)
    assert registry.requested_dataset() == other
    monkeypatch.setenv("TLH_DATASET", str(flat_folder))
    assert registry.get_dataset(progress=False) == flat_folder.resolve()
    assert registry.describe_default_dataset() == "folder flat"


def test_a_missing_shipped_folder_names_the_fixes(no_network, monkeypatch):
    gone = dataclasses.replace(SPEC, shipped="data/no-such-folder")
    monkeypatch.setitem(registry.DATASETS, "flowers-small", gone)
    monkeypatch.delenv("TLH_DATASET", raising=False)
    monkeypatch.setenv("TLH_PROFILE", "quick")
    monkeypatch.setattr(doctor, "check_weights", lambda timeout: None)
    with pytest.raises(registry.DatasetUnavailableError) as info:
        registry.get_dataset(progress=False)
    message = str(info.value)
    assert "git checkout -- data/no-such-folder" in message
    assert "TLH_DATASET=flowers" in message and "folder of images" in message
    assert "missing" in registry.describe_default_dataset()
    finding = doctor.check_data_and_weights(timeout=0.1)[0]
    assert finding.status == doctor.FAIL and "git checkout" in finding.fix


# --- no machine paths in the repository ---------------------------------------------

# A folder that exists on one machine: user homes, scratch and mount points,
# temporary folders, and this project's own workspace. Not matched: URLs and
# relative paths (`../x`, `a/tmp/`, `${HOME}/x`, `{base}/x`), since the
# character before the slash is then part of a name.
MACHINE_PATH = re.compile(
    r"(?<![\w.~$})\]/])"
    r"(?:/(?:work|root|tmp|var/tmp|mnt|media|scratch|shared)(?![\w.-])"
    r"|/(?:home|Users)/[^/\s\"'`]+/"
    r"|\b[A-Za-z]:\\+(?:Users|home)\\)")

# (files, what is allowed there, why). The mention is a regex; `[/]` keeps this
# file from matching its own list.
ALLOWED = [
    ("tests/reliability/test_archives.py", r"[/]tmp/tlh-evil\.txt",
     "a hostile archive member the extractor must refuse, not a path it reads"),
    ("bench/results/*.json", r'"source": "[/]work/shared/datasets/tf_flowers_small"',
     "a measurement record: the folder its data came from on the machine that "
     "measured it"),
]


def repository_files() -> list[str]:
    """Tracked files, and new ones git would add (not ignored)."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=config.PROJECT_ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"not a git checkout, or no git: {err}")
    return sorted(set(filter(None, done.stdout.decode().split("\0"))))


def machine_paths(name: str, text: str) -> list[str]:
    """`file:line: text` for each line naming a machine path not allowed there."""
    allowed = [re.compile(pattern) for files, pattern, _ in ALLOWED
               if fnmatch.fnmatch(name, files)]
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if MACHINE_PATH.search(line) and not any(a.search(line) for a in allowed):
            found.append(f"{name}:{number}: {line.strip()[:120]}")
    return found


def test_the_pattern_finds_machine_paths_and_spares_the_rest():
    def path(*parts: str) -> str:
        return "/" + "/".join(parts)  # built, so this file holds none

    flagged = [f'DATA = "{path("work", "shared", "flowers")}"',
               f"TLH_DATASET={path('home', 'ana', 'photos')}",
               f"cp x {path('tmp', 'x.jpg')}", f"`{path('root', 'data')}`",
               f"{path('Users', 'ana', 'x')}", "C:" + "\\Users\\ana\\photos",
               f"'{path('mnt', 'data')}'", f"{path('var', 'tmp', 'x')}"]
    spared = ["/usr/bin/chromium", "2>/dev/null", "/etc/xdg/pip/pip.conf",
              "/etc/passwd", "https://example.org/work/tmp/x",
              "file:///home/x", "../shared/datasets", "data/cache/tmp/",
              "${HOME}/tmp/x", "{base}/tmp/x", "$(pwd)/build/ci-home",
              "~/tlh-cache", "/workshop", "/tmpfile", "a/root/b", "/home/"]
    assert [s for s in flagged if not MACHINE_PATH.search(s)] == []
    assert [s for s in spared if MACHINE_PATH.search(s)] == []


def test_no_absolute_machine_paths_in_the_repository():
    found = []
    for name in repository_files():
        path = config.PROJECT_ROOT / name
        if not path.is_file():
            continue  # deleted, not yet committed
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary: photos, images
        found += machine_paths(name, data.decode("utf-8", errors="replace"))
    assert not found, (
        "absolute paths of one machine in the repository (use a registry "
        "name, a path relative to the project root, or TLH_HOME):\n"
        + "\n".join(found))
