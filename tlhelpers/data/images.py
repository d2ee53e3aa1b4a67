"""Decode any image Pillow can read into RGB; used by the scan and the pipelines.

Taught in `00_setup_and_data.ipynb`. Grayscale, palette, RGBA, CMYK, 16-bit,
GIF (first frame), BMP and WebP all become 8-bit RGB, so that what the scan calls
good is exactly what the pipeline can load.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

# Pixels above which a file is reported as too large instead of decoded
# (decompression bombs); Pillow's own guard would warn or raise mid-epoch.
MAX_PIXELS = 60_000_000

_HIGH_DEPTH_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}


def to_rgb(img: Image.Image) -> Image.Image:
    """An 8-bit RGB copy of `img`; transparency is composited on white."""
    if img.mode in _HIGH_DEPTH_MODES:
        array = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") else max(array.max(), 1.0)
        if img.mode == "I" and array.max() <= 255:
            top = 255.0
        array = np.clip(array / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(array, mode="L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode != "RGB":
        return img.convert("RGB")
    return img


def check_size(img: Image.Image) -> None:
    """Raise ValueError ("too large: ...") when `img` has more than MAX_PIXELS."""
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"too large: {width}x{height} = {width * height:,} pixels, over the "
            f"limit of {MAX_PIXELS:,}")


def load_rgb(path: str | Path, size: int | tuple[int, int] | None = None,
             shrink_large_jpeg: bool = False) -> np.ndarray:
    """The image at `path` as uint8 RGB, resized to `size` (square when an int).

    The scan decodes every file through this same function (without `size`),
    so a file it calls good cannot fail here. `shrink_large_jpeg`: a JPEG over
    MAX_PIXELS is decoded at 1/2 to 1/8 scale before the size check (a photo
    to predict is worth downscaling; the scan must refuse such files).
    """
    with Image.open(path) as img:
        shrink = shrink_large_jpeg and size is not None and img.format == "JPEG"
        if not shrink:
            check_size(img)
        if size is not None and img.format == "JPEG":
            target = (size, size) if isinstance(size, int) else size
            img.draft("RGB", target)  # decode JPEGs at a reduced scale: faster
        if shrink:
            check_size(img)  # still too large at 1/8 scale
        img = ImageOps.exif_transpose(img)
        rgb = to_rgb(img)
        if size is not None:
            target = (size, size) if isinstance(size, int) else tuple(size)
            rgb = rgb.resize(target, Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)


def decoding_signature() -> str:
    """Pillow's version and a digest of the code above, which turns a file into pixels.

    Part of every feature file's key (`features.cache_key`): stored features
    computed by another decoding or resizing are never reused, with no
    version number to bump by hand.
    """
    import PIL

    return f"Pillow {PIL.__version__}, {_code_digest(to_rgb, check_size, load_rgb)}"


@functools.lru_cache(maxsize=4)
def _code_digest(*functions) -> str:
    # Every cache key asks: the source is read once per set of functions.
    import hashlib
    import inspect

    code = "".join(inspect.getsource(f) for f in functions)
    return hashlib.sha256(code.encode()).hexdigest()[:16]
