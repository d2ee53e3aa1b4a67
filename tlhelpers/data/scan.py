"""Scan an image folder: classes, good images, bad files with a reason, ignored junk.

Taught in `00_setup_and_data.ipynb`; also `python -m tlhelpers check-data DIR`.
Layouts: `DIR/train/<class>` with `DIR/val/<class>` (or `validation/`) and
`DIR/test/<class>` (each optional beside `train/`), or `DIR/<class>`. Every
candidate image is fully decoded once, so a bad file is reported here and
never reaches (or stops) an epoch.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .images import load_rgb

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
# Folders that tools leave beside photos (macOS zips, Jupyter, Synology).
JUNK_DIRS = {"__macosx", "@eadir"}
SPLIT_NAMES = {"train": "train", "val": "val", "validation": "val", "test": "test"}


@dataclasses.dataclass(frozen=True)
class BadFile:
    """A file that looks like an image but cannot be used, and why."""

    path: Path
    reason: str


@dataclasses.dataclass
class FolderScan:
    """What a folder holds; `good[split][class]` lists usable image paths."""

    root: Path
    layout: str                              # "split" or "flat"
    good: dict[str, dict[str, list[Path]]]   # split -> class -> files
    bad: list[BadFile]
    ignored: list[Path]
    problems: list[str]                      # fatal: the folder cannot be used
    warnings: list[str]                      # usable, but worth saying

    @property
    def class_names(self) -> list[str]:
        names = set()
        for per_class in self.good.values():
            names.update(c for c, files in per_class.items() if files)
        return sorted(names)

    @property
    def usable(self) -> bool:
        return not self.problems

    def good_files(self, name: str) -> list[Path]:
        """The good files of class `name` over every split, sorted, in any layout.

        Taught in `00_setup_and_data.ipynb`. `good` is keyed by split, and its
        keys depend on the layout ("train"/"val", or "all" for `DIR/<class>`);
        this reads the same for all of them.
        """
        if name not in self.class_names:
            raise KeyError(f"class {name!r} has no good image in {self.root}; "
                           f"classes: {', '.join(self.class_names) or '(none)'}")
        return sorted(f for per_class in self.good.values()
                      for f in per_class.get(name, []))

    def counts(self) -> dict[str, dict[str, int]]:
        """class -> {"good": n, "bad": m} over all splits."""
        result: dict[str, dict[str, int]] = {}
        for per_class in self.good.values():
            for name, files in per_class.items():
                result.setdefault(name, {"good": 0, "bad": 0})["good"] += len(files)
        for bad in self.bad:
            name = self._class_of(bad.path)
            if name is not None:
                result.setdefault(name, {"good": 0, "bad": 0})["bad"] += 1
        return dict(sorted(result.items()))

    def _class_of(self, path: Path) -> str | None:
        parts = path.relative_to(self.root).parts
        index = 1 if self.layout == "split" else 0
        return parts[index] if len(parts) > index + 1 else None

    def to_json(self) -> dict:
        """The `check-data --json` object."""
        return {
            "path": str(self.root),
            "layout": self.layout,
            "classes": self.counts(),
            "bad_files": [{"path": b.path.relative_to(self.root).as_posix(),
                           "reason": b.reason} for b in self.bad],
            "ignored": [p.relative_to(self.root).as_posix() for p in self.ignored],
            "usable": self.usable,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }

    def report(self) -> str:
        """A short human summary: per-class counts, bad files, problems."""
        lines = [f"{shown(where(self.root))} ({self.layout} layout)"]
        for name, count in self.counts().items():
            lines.append(f"  {shown(name):<20} {count['good']:>6} good  "
                         f"{count['bad']:>4} bad")
        for bad in self.bad:
            lines.append(f"  bad: {shown(bad.path.relative_to(self.root))}: "
                         f"{bad.reason}")
        if self.ignored:
            lines.append(f"  ignored {len(self.ignored)} non-image or hidden files")
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  problem: {p}" for p in self.problems]
        lines.append("  usable" if self.usable else "  NOT usable")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html
        return f"<pre>{html.escape(self.report())}</pre>"


def where(path) -> str:
    """A folder as a learner reads it: from the project, `$TLH_HOME` or `~`, else whole.

    Taught in `00_setup_and_data.ipynb`: `data/flowers-small`, not the
    absolute path of this checkout.
    """
    from .. import config

    path = Path(path)
    for base, name in ((config.PROJECT_ROOT, None),
                       (config.home(), f"${config.HOME_ENV}"),
                       (Path.home(), "~")):
        try:
            rest = path.relative_to(base)
        except ValueError:
            continue
        if name is None:
            return rest.as_posix() or "."
        return f"{name}/{rest.as_posix()}" if rest.parts else name
    return str(path)


def shown(name) -> str:
    """A name that prints anywhere: not-UTF-8 bytes as U+FFFD, control characters escaped.

    A folder named with a terminal escape sequence must not recolour or
    rewrite the learner's terminal: it prints as `\x1b[2J`.
    """
    text = str(name).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file are text (UTF-8, HTML, JSON...)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        # The cut at 512 bytes may split a character; anything earlier is binary.
        if err.start < len(head) - 3:
            return False
        text = head[:err.start].decode("utf-8")
    text = text.removeprefix("\ufeff")
    return bool(text.strip()) and all(c.isprintable() or c in "\t\n\r\f"
                                      for c in text)


UNREADABLE_DIR = ("a folder that cannot be read (permission denied): its photos "
                  "are left out; give read access, e.g. chmod -R u+rX '{folder}'")


def is_junk_dir(name: str) -> bool:
    """Hidden folders and the ones tools leave behind (__MACOSX, @eaDir)."""
    return name.startswith(".") or name.lower() in JUNK_DIRS


def is_junk(path: Path) -> bool:
    """Hidden files, OS junk (.DS_Store, Thumbs.db, ._*) and non-image suffixes."""
    name = path.name
    return (name.startswith(".") or name.lower() in JUNK_NAMES
            or path.suffix.lower() not in IMAGE_SUFFIXES)


def image_problem(path: Path) -> str | None:
    """Why the file at `path` cannot be used as a photo, or None when it decodes."""
    # No warnings.catch_warnings() here: it is not thread-safe, and the scan's
    # worker threads would leave the process's warning filters changed.
    try:
        if not path.exists():
            return "missing (a link to a file that does not exist)"
        if path.stat().st_size == 0:
            return "empty file"
        load_rgb(path)  # the very decoder the pipelines use
    except UnidentifiedImageError:
        with open(path, "rb") as handle:
            head = handle.read(512)
        if looks_like_text(head):
            return "not an image (the file holds text or HTML)"
        return "not an image (format not recognised)"
    except ValueError as err:
        if "too large" in str(err):
            return str(err)
        return f"cannot be decoded: {err}"
    except Image.DecompressionBombError as err:  # over Pillow's own limit
        return f"too large: {err}"
    except OSError as err:
        if "truncated" in str(err).lower():
            return "truncated (the file ends before the image does)"
        return f"cannot be decoded: {err}"
    except Exception as err:  # any decoder failure is a bad file, not a crash
        return f"cannot be decoded: {type(err).__name__}: {err}"
    return None


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not is_junk_dir(p.name))


def _files_below(folder: Path) -> list[Path]:
    # A broken link is listed too: the scan reports it instead of losing it.
    return sorted(p for p in folder.rglob("*") if p.is_file() or
                  (p.is_symlink() and not p.exists()))


def _unreadable_dirs(folder: Path) -> list[Path]:
    """Folders at or below `folder` that cannot be listed (no read permission).

    `rglob` skips them without a word, so their photos would vanish from the
    scan; `os.walk` reports each one.
    """
    found = []

    def note(err: OSError) -> None:
        if err.filename is not None:
            found.append(Path(os.fsdecode(err.filename)))

    for _ in os.walk(folder, onerror=note):
        pass
    return sorted(found)


def _in_junk_dir(file: Path, top: Path) -> bool:
    return any(is_junk_dir(part) for part in file.relative_to(top).parts[:-1])


def scan_folder(path: str | Path, workers: int = 4) -> FolderScan:
    """Scan `path` for classes and images; taught in `00_setup_and_data.ipynb`."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r} is not valid; expected an integer "
                         ">= 1")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    root = root.resolve()
    subdirs = {p.name.lower(): p for p in _class_dirs(root)}
    split_dirs = {SPLIT_NAMES[k]: v for k, v in subdirs.items() if k in SPLIT_NAMES}
    layout = "split" if "train" in split_dirs else "flat"
    roots = split_dirs if layout == "split" else {"all": root}

    scan = FolderScan(root=root, layout=layout, good={}, bad=[], ignored=[],
                      problems=[], warnings=[])
    if layout == "flat" and split_dirs:
        found = "/ and ".join(sorted(split_dirs))
        scan.problems.append(f"found {found}/ but no train/ folder beside it")
    candidates: list[tuple[str, str, Path]] = []
    for split, split_root in roots.items():
        scan.good[split] = {}
        for entry in sorted(split_root.iterdir()):
            if entry.is_file():
                scan.ignored.append(entry)  # loose files next to the class folders
            elif entry.is_dir() and entry.name.lower() in JUNK_DIRS:
                scan.ignored += _files_below(entry)  # hidden folders: unlisted
        for class_dir in _class_dirs(split_root):
            scan.good[split][class_dir.name] = []
            for folder in _unreadable_dirs(class_dir):
                scan.bad.append(BadFile(folder, UNREADABLE_DIR.format(
                    folder=shown(folder))))
            for file in _files_below(class_dir):
                if is_junk(file) or _in_junk_dir(file, class_dir):
                    scan.ignored.append(file)
                else:
                    candidates.append((split, class_dir.name, file))

    # Pillow releases the GIL while decoding, so threads use both cores. The
    # warning filter is set here, once, in the calling thread (see image_problem).
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=workers) as pool:
        warnings.simplefilter("ignore")  # Pillow's own bomb warnings
        reasons = list(pool.map(lambda c: image_problem(c[2]), candidates))
    for (split, name, file), reason in zip(candidates, reasons):
        if reason is None:
            scan.good[split][name].append(file)
        else:
            scan.bad.append(BadFile(file, reason))
    _judge(scan)
    return scan


def _judge(scan: FolderScan) -> None:
    """Fill `problems` (cannot train) and `warnings` (can, but look)."""
    for split, per_class in scan.good.items():
        where = f"{split}/" if scan.layout == "split" else ""
        for name, files in per_class.items():
            if not files:
                scan.warnings.append(
                    f"class folder {where}{name} has no usable image; it is skipped")
    usable = [c for c, f in scan.good.get("train", scan.good.get("all", {})).items()
              if f]
    if len(usable) < 2:
        scan.problems.append(
            f"need at least two classes with a usable image, found {len(usable)}"
            + (f" ({usable[0]})" if usable else ""))
    if scan.layout == "split" and "val" in scan.good:
        train = set(usable)
        val = {c for c, f in scan.good["val"].items() if f}
        if val - train:
            scan.problems.append(
                "val/ has classes that train/ lacks: " + ", ".join(sorted(val - train)))
        if train - val:
            scan.warnings.append(
                "train/ has classes with no validation images: "
                + ", ".join(sorted(train - val)))
    elif scan.layout == "split":
        scan.warnings.append("no val/ folder: a fixed, seeded split of train/ is used")
    if scan.layout == "split" and "test" in scan.good:
        test = {c for c, f in scan.good["test"].items() if f}
        if test - set(usable):
            scan.problems.append(
                "test/ has classes that train/ lacks: " + ", ".join(sorted(test - set(usable))))
