"""Tiny image folders for the tests: good images in every format, bad files, junk.

Everything is drawn with Pillow into a folder the caller owns (pytest's
`tmp_path`), small enough (16 to 40 pixels a side) that a whole folder scans and
loads in well under a second. `make_folder` builds a clean dataset in either
layout; `make_zoo` builds one folder holding every kind of file a learner's own
photos may contain, with the verdict the scan should reach for each.
"""

from __future__ import annotations

import dataclasses
import io
import os
import random
from pathlib import Path

import numpy as np
from PIL import Image

MIN_SIDE, MAX_SIDE = 16, 40

# Substrings of the reason the scan must give for each kind of bad file.
REASON_EMPTY = "empty"
REASON_TRUNCATED = "truncated"
REASON_NOT_IMAGE = "not an image"
REASON_TEXT = "text"
REASON_TOO_LARGE = "too large"


def random_size(rng: random.Random) -> tuple[int, int]:
    """A (width, height) between MIN_SIDE and MAX_SIDE, rarely square."""
    return rng.randint(MIN_SIDE, MAX_SIDE), rng.randint(MIN_SIDE, MAX_SIDE)


def rgb_image(size: tuple[int, int] = (24, 20), seed: int = 0) -> Image.Image:
    """A noisy RGB picture whose mean colour depends on the seed."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=3)
    noise = rng.integers(-40, 41, size=(size[1], size[0], 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def save(image: Image.Image, path: Path, fmt: str | None = None, **kwargs) -> Path:
    """Save `image` to `path`, creating the folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **kwargs)
    return path


def write_jpeg(path: Path, size=(24, 20), seed: int = 0) -> Path:
    return save(rgb_image(size, seed), path, "JPEG", quality=90)


def write_png(path: Path, size=(24, 20), seed: int = 0) -> Path:
    return save(rgb_image(size, seed), path, "PNG")


def make_folder(root: Path, classes=("cats", "dogs"), per_class: int = 6,
                layout: str = "flat", val_per_class: int = 3, fmt: str = "JPEG",
                seed: int = 0) -> Path:
    """A clean image folder: `root/<class>/` or `root/train|val/<class>/`.

    `per_class` is an int or a {class: count} dict (train counts for the split
    layout). With layout="split" and val_per_class=0 there is no val/ folder.
    """
    if layout not in ("flat", "split"):
        raise ValueError(f"layout={layout!r}: expected 'flat' or 'split'")
    root = Path(root)
    counts = per_class if isinstance(per_class, dict) else \
        {name: per_class for name in classes}
    rng = random.Random(seed)
    suffix = {"JPEG": ".jpg", "PNG": ".png"}[fmt]
    splits = [("", counts)] if layout == "flat" else \
        [("train", counts)] + ([("val", {c: val_per_class for c in counts})]
                               if val_per_class else [])
    for split, split_counts in splits:
        for label, (name, n) in enumerate(split_counts.items()):
            folder = root / split / name if split else root / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                image = rgb_image(random_size(rng), seed=label * 1000 + i)
                save(image, folder / f"{name}_{split or 'all'}_{i:03d}{suffix}", fmt)
    return root


# --- the zoo ---------------------------------------------------------------

def _png_16bit(size) -> Image.Image:
    ramp = np.linspace(0, 65535, size[0] * size[1]).reshape(size[1], size[0])
    return Image.fromarray(ramp.astype(np.uint16))  # mode I;16


def _palette(size, seed) -> Image.Image:
    return rgb_image(size, seed).quantize(colors=16)


def _animated_gif(path: Path, size) -> Path:
    frames = [Image.new("RGB", size, c).quantize(colors=4)
              for c in ("red", "green", "blue")]
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50,
                   loop=0)
    return path


def _rotated_jpeg(path: Path, size) -> Path:
    """A JPEG whose EXIF says 'rotate 90': a loader must swap width and height."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 clockwise to display
    return save(rgb_image(size, 7), path, "JPEG", exif=exif.tobytes())


def truncated_jpeg_bytes(size=(40, 40)) -> bytes:
    buffer = io.BytesIO()
    noise = Image.effect_noise(size, 60).convert("RGB")
    noise.save(buffer, "JPEG", quality=95)
    data = buffer.getvalue()
    return data[: len(data) // 2]


def truncated_png_bytes(size=(40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(buffer, "PNG")
    data = buffer.getvalue()
    return data[: len(data) // 2]


def write_bomb(path: Path, side: int = 9000) -> Path:
    """A real PNG of side x side 1-bit pixels: 10 KB on disk, huge when decoded."""
    return save(Image.new("1", (side, side)), path, "PNG")


@dataclasses.dataclass
class Zoo:
    """A flat folder with every kind of file, and what the scan should say."""

    root: Path
    good: dict[str, Path]          # description -> file that must be good
    bad: dict[Path, str]           # file -> substring of its expected reason
    junk: list[Path]               # files the scan must list as ignored
    empty_class: str               # a class folder with nothing in it
    good_per_class: dict[str, int]

    @property
    def classes(self) -> list[str]:
        return sorted(c for c, n in self.good_per_class.items() if n)


GOOD_KINDS = (
    "jpeg rgb", "png rgb", "jpeg L", "png L", "png 1-bit", "png P",
    "png P transparent", "gif P transparent", "png RGBA", "png LA", "jpeg CMYK",
    "png I;16", "gif animated", "bmp", "webp", "webp RGBA", "tiff",
    "jpeg exif rotated", "png named .jpg", "upper-case suffix", "nested folder",
    "space in name", "accents in name", "emoji in name", "cjk in name",
)
FORMATS_CLASS = "formats"
NAMES_CLASS = "noms à l'été 🌸"  # spaces, accents, an apostrophe and an emoji
EMPTY_CLASS = "empty class"


def make_zoo(root: Path, with_bomb: bool = True) -> Zoo:
    """Good files in every format, bad files of every kind, junk, odd names."""
    root = Path(root)
    fmt_dir, names_dir = root / FORMATS_CLASS, root / NAMES_CLASS
    rng = random.Random(3)
    size = lambda: random_size(rng)  # noqa: E731
    good: dict[str, Path] = {}

    good["jpeg rgb"] = write_jpeg(fmt_dir / "rgb.jpg", size(), 1)
    good["png rgb"] = write_png(fmt_dir / "rgb.png", size(), 2)
    good["jpeg L"] = save(rgb_image(size(), 3).convert("L"), fmt_dir / "gray.jpg")
    good["png L"] = save(rgb_image(size(), 4).convert("L"), fmt_dir / "gray.png")
    good["png 1-bit"] = save(rgb_image(size(), 5).convert("1"), fmt_dir / "bw.png")
    good["png P"] = save(_palette(size(), 6), fmt_dir / "palette.png")
    good["png P transparent"] = save(_palette(size(), 8), fmt_dir / "palette_t.png",
                                     transparency=0)
    good["gif P transparent"] = save(_palette(size(), 9), fmt_dir / "palette_t.gif",
                                     transparency=0)
    rgba = rgb_image(size(), 10).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    good["png RGBA"] = save(rgba, fmt_dir / "rgba.png")
    good["png LA"] = save(rgba.convert("LA"), fmt_dir / "la.png")
    good["jpeg CMYK"] = save(rgb_image(size(), 11).convert("CMYK"),
                             fmt_dir / "cmyk.jpg", "JPEG")
    good["png I;16"] = save(_png_16bit(size()), fmt_dir / "depth16.png")
    good["gif animated"] = _animated_gif(fmt_dir / "animated.gif", size())
    good["bmp"] = save(rgb_image(size(), 12), fmt_dir / "picture.bmp")
    good["webp"] = save(rgb_image(size(), 13), fmt_dir / "picture.webp", "WEBP")
    good["webp RGBA"] = save(rgba, fmt_dir / "alpha.webp", "WEBP")
    good["tiff"] = save(rgb_image(size(), 14), fmt_dir / "picture.tiff")
    good["jpeg exif rotated"] = _rotated_jpeg(fmt_dir / "rotated.jpg", (32, 18))
    good["png named .jpg"] = save(rgb_image(size(), 15), fmt_dir / "really_png.jpg",
                                  "PNG")
    good["upper-case suffix"] = write_jpeg(fmt_dir / "SHOUT.JPEG", size(), 16)
    good["nested folder"] = write_jpeg(fmt_dir / "more" / "nested.jpg", size(), 17)

    good["space in name"] = write_jpeg(names_dir / "photo with space.jpg", size(), 20)
    good["accents in name"] = write_jpeg(names_dir / "café crème.jpg", size(), 21)
    good["emoji in name"] = write_png(names_dir / "🌸 fleur.png", size(), 22)
    good["cjk in name"] = write_jpeg(names_dir / "花.jpeg", size(), 23)

    bad: dict[Path, str] = {}

    def bad_file(path: Path, data: bytes, reason: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        bad[path] = reason

    bad_file(fmt_dir / "empty.jpg", b"", REASON_EMPTY)
    bad_file(fmt_dir / "truncated.jpg", truncated_jpeg_bytes(), REASON_TRUNCATED)
    bad_file(names_dir / "truncated.png", truncated_png_bytes(), REASON_TRUNCATED)
    bad_file(fmt_dir / "notes.jpg", b"shopping list: milk, eggs\n", REASON_TEXT)
    bad_file(names_dir / "page.jpg",
             b"<!DOCTYPE html>\n<html><body>403 Forbidden</body></html>\n",
             REASON_TEXT)
    bad_file(names_dir / "résumé.jpg",
             "Résumé des fleurs 🌸, été 2024\n".encode() * 3, REASON_TEXT)
    noise = np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8)
    bad_file(fmt_dir / "noise.png", b"\x89" + noise.tobytes(), REASON_NOT_IMAGE)
    if with_bomb:
        write_bomb(fmt_dir / "bomb.png")
        bad[fmt_dir / "bomb.png"] = REASON_TOO_LARGE

    junk = []
    for path, data in [(fmt_dir / ".DS_Store", b"\0\0\0\1Bud1"),
                       (fmt_dir / "Thumbs.db", b"\xd0\xcf\x11\xe0"),
                       (fmt_dir / "._rgb.jpg", b"\0\5\26\7AppleDouble"),
                       (names_dir / "notes.txt", b"taken in the garden\n"),
                       (root / "README.md", b"# my photos\n")]:
        path.write_bytes(data)
        junk.append(path)
    # Folders tools leave behind: a macOS zip's resource forks, a Jupyter
    # checkpoint of a real image inside a class folder.
    macosx = root / "__MACOSX" / FORMATS_CLASS / "._rgb.jpg"
    macosx.parent.mkdir(parents=True)
    macosx.write_bytes(b"\0\5\26\7AppleDouble")
    junk.append(macosx)
    junk.append(write_jpeg(fmt_dir / ".ipynb_checkpoints" / "rgb-checkpoint.jpg",
                           (20, 20), 30))
    (root / EMPTY_CLASS).mkdir()

    per_class = {FORMATS_CLASS: 0, NAMES_CLASS: 0, EMPTY_CLASS: 0}
    for path in good.values():
        per_class[path.relative_to(root).parts[0]] += 1
    return Zoo(root=root, good=good, bad=bad, junk=junk, empty_class=EMPTY_CLASS,
               good_per_class=per_class)


def write_non_utf8_name(folder: Path, seed: int = 40) -> Path | None:
    """A good JPEG named b'caf\\xe9.jpg' (Latin-1), or None if the disk refuses."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    raw = os.path.join(os.fsencode(folder), b"caf\xe9.jpg")
    try:
        with open(raw, "wb") as handle:
            rgb_image((24, 24), seed).save(handle, "JPEG")
    except (OSError, UnicodeError):
        return None
    return Path(os.fsdecode(raw))
