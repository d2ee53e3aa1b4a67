"""Build data/flowers-small from tf_flowers_full: the default-profile study's cut.

    .venv/bin/python data/make_flowers_small.py

`bench/default_profile_study.py` measured fine-tuning against the head phase
on held-out TEST photos of `tf_flowers_full` (the whole of tf_flowers at
192 px, beside the repository). This script ships that cut: the study's
validation/test split of the `val/` photos (seed 42) and its seed-1 training
subset of 160 photos per class, so the study's measurement applies to the
shipped test split. It checks the test list against the study's record.

The photos are copied byte for byte (already sRGB, 192 px, no EXIF or ICC),
under their own names. Beside them it writes `manifest.csv`, `LICENSE.txt`,
`excluded.csv`, `README.md` and `SHA256SUMS`. Everything is written into a new
hidden folder in `data/` first, and `data/flowers-small` is replaced only when
that folder is complete and checked: a failure leaves the old one as it was.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "datasets" / "tf_flowers_full"
TARGET = ROOT / "data" / "flowers-small"
RECORD = ROOT / "bench" / "results" / "2026-12-04-default-profile-study.json"

SPLIT_SEED = 42         # the study's validation/test cut of val/
TRAIN_SEED = 1          # the study's seed 1: numpy default_rng(1000 + seed)
TRAIN_PER_CLASS = 160   # the study's N
SPLITS = ("train", "val", "test")
SRGB = "sRGB IEC61966-2.1"
WIDTH = 98              # README.md line length

# The original flower_photos LICENSE.txt begins with these 4 lines.
LICENSE_HEADER = [
    "All images in this archive are licensed under the Creative Commons "
    "By-Attribution License, available at:",
    "https://creativecommons.org/licenses/by/2.0/",
    "The photographers are listed below, thanks to all of them for making their "
    "work available, and please be sure to credit them for any use as per the "
    "license.",
    "",
]


# --- the cut (as bench/default_profile_study.py makes it) ----------------------

def listing(split: str, class_names: list[str]) -> list[tuple[str, int]]:
    """(file relative to SOURCE, label) of one split folder, in the study's order.

    The study listed the files with `tlhelpers.data.split_files(scan_folder(...))`
    on `tf_flowers_full`: classes sorted by name (labels in that order), each
    class's files sorted by name, every photo usable. This is that order, made
    here so the cut does not depend on how the loader splits a folder.
    """
    return [(f"{split}/{name}/{path.name}", label)
            for label, name in enumerate(class_names)
            for path in sorted((SOURCE / split / name).glob("*.jpg"))]


def split_val(val: list[tuple[str, int]], n_classes: int) -> tuple[list[int], list[int]]:
    """Indices into `val`: (validation, test). One generator permutes each class
    in turn; the first half (rounded up) is validation, the rest test."""
    rng = np.random.default_rng(SPLIT_SEED)
    labels = np.array([label for _, label in val])
    pick, test = [], []
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        half = (len(idx) + 1) // 2
        pick += idx[:half].tolist()
        test += idx[half:].tolist()
    return sorted(pick), sorted(test)


def train_subset(train: list[tuple[str, int]], n_classes: int) -> list[int]:
    """Indices into `train`: the first TRAIN_PER_CLASS of each class's order for
    seed TRAIN_SEED (one generator, classes in label order), as `subset_orders`
    and `subset(orders, TRAIN_SEED, TRAIN_PER_CLASS)` make them."""
    rng = np.random.default_rng(1000 + TRAIN_SEED)
    labels = np.array([label for _, label in train])
    chosen = []
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        order = idx[rng.permutation(len(idx))]
        chosen += order[:TRAIN_PER_CLASS].tolist()
    return sorted(chosen)


def choose() -> tuple[dict[str, list[str]], list[str]]:
    """split -> the chosen source files (relative to SOURCE), and the class names."""
    class_names = sorted(p.name for p in (SOURCE / "train").iterdir() if p.is_dir())
    assert class_names == sorted(p.name for p in (SOURCE / "val").iterdir() if p.is_dir())
    train, val = listing("train", class_names), listing("val", class_names)
    _, source_rows = read_csv(SOURCE / "manifest.csv")
    assert sorted(f for f, _ in train + val) == sorted(r["file"] for r in source_rows)
    pick, test = split_val(val, len(class_names))
    chosen = {"train": [train[i][0] for i in train_subset(train, len(class_names))],
              "val": [val[i][0] for i in pick],
              "test": [val[i][0] for i in test]}

    record = json.loads(RECORD.read_text(encoding="utf-8"))["split"]
    assert record["split_seed"] == SPLIT_SEED
    assert record["classes"] == class_names
    assert record["train_counts"] == dict(Counter(class_names[c] for _, c in train))
    assert chosen["test"] == record["test_files"], "the test split is not the study's"
    for split, key in (("val", "validation_per_class"), ("test", "test_per_class")):
        per_class = Counter(f.split("/")[1] for f in chosen[split])
        assert [per_class[c] for c in class_names] == record[key], split
    return chosen, class_names


# --- the files beside the photos --------------------------------------------------

def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def has_comment(path: Path) -> bool:
    """Whether a JPEG has a comment (COM) segment before its scan."""
    data = path.read_bytes()
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xDA:        # start of scan: no more header segments
            return False
        if marker == 0xFE:
            return True
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return False


def build(out: Path, chosen: dict[str, list[str]], class_names: list[str]) -> dict:
    fields, source_rows = read_csv(SOURCE / "manifest.csv")
    by_file = {row["file"]: row for row in source_rows}
    source_sums = dict(reversed(line.split("  ", 1)) for line in
                       (SOURCE / "SHA256SUMS").read_text(encoding="utf-8").splitlines())

    rows = []
    for split in SPLITS:
        for source_file in chosen[split]:
            _, cls, name = source_file.split("/")
            row = dict(by_file[source_file])
            assert row["class"] == cls
            row["split"], row["file"] = split, f"{split}/{cls}/{name}"
            dest = out / row["file"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SOURCE / source_file, dest)
            assert sha256(dest) == source_sums[source_file] == sha256(SOURCE / source_file)
            rows.append(row)
    rows.sort(key=lambda r: (SPLITS.index(r["split"]), r["class"], r["file"]))
    sources = [row["source_path"] for row in rows]
    assert len(set(sources)) == len(sources), "a source photo in two splits"
    assert len({row["source_sha256"] for row in rows}) == len(rows)
    write_csv(out / "manifest.csv", fields, rows)

    # CC BY 2.0: the original header, then each chosen photo's credit line in
    # the original order.
    lines = (SOURCE / "LICENSE.txt").read_text(encoding="utf-8").splitlines()
    assert lines[:4] == LICENSE_HEADER, "the source LICENSE.txt header changed"
    credits = {row["attribution"] for row in rows}
    kept = [line for line in lines[4:] if line in credits]
    assert len(kept) == len(credits) == len(rows), "a photo without one credit line"
    (out / "LICENSE.txt").write_text("\n".join(LICENSE_HEADER + kept) + "\n",
                                     encoding="utf-8")

    shutil.copyfile(SOURCE / "excluded.csv", out / "excluded.csv")
    _, excluded = read_csv(out / "excluded.csv")
    (out / "README.md").write_text(readme(rows, class_names, excluded),
                                   encoding="utf-8")

    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    (out / "SHA256SUMS").write_text(
        "".join(f"{sha256(out / name)}  {name}\n" for name in names), encoding="utf-8")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"rows": rows, "files": len(names) + 1, "bytes": total,
            "sums_sha256": sha256(out / "SHA256SUMS")}


# --- README.md --------------------------------------------------------------------

def bullet(text: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent="* ", subsequent_indent="  ",
                         break_on_hyphens=False, break_long_words=False) + "\n"


def plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def readme(rows: list[dict], class_names: list[str], excluded: list[dict]) -> str:
    count = Counter((row["split"], row["class"]) for row in rows)
    _, full = read_csv(SOURCE / "manifest.csv")
    full_count = Counter((row["split"], row["class"]) for row in full)
    total = {split: sum(count[split, c] for c in class_names) for split in SPLITS}

    def per(split):
        values = sorted({count[split, c] for c in class_names})
        return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"

    table = ["| class      | tf_flowers_full train | tf_flowers_full val | train | val | test |",
             "|------------|------:|------:|------:|----:|-----:|"]
    for c in class_names:
        table.append(f"| {c:<10} | {full_count['train', c]} | {full_count['val', c]} | "
                     f"{count['train', c]} | {count['val', c]} | {count['test', c]} |")
    table.append(f"| **total**  | {sum(full_count[('train', c)] for c in class_names):,} | "
                 f"{sum(full_count[('val', c)] for c in class_names):,} | "
                 f"**{total['train']:,}** | **{total['val']:,}** | **{total['test']:,}** |")

    icc = Counter(row["source_icc"] for row in rows)
    converted = sum(n for name, n in icc.items() if name not in ("", SRGB)
                    and name != "Dot Gain 20%")
    gray_icc = sorted(row["source_path"] for row in rows
                      if row["source_icc"] == "Dot Gain 20%")
    widths = [int(row["width"]) for row in rows]
    heights = [int(row["height"]) for row in rows]
    comments = sum(has_comment(SOURCE / row["split"].replace("test", "val") / row["class"]
                               / row["file"].split("/")[-1]) for row in rows)
    panoramas = sorted(f"`{row['source_path']}` ({row['width']}×{row['height']}, "
                       f"{row['split']})" for row in rows if int(row["height"]) < 40)
    n = len(rows)
    dropped = ", ".join(f"`{row['source_path']}`" for row in excluded)

    gray_note = bullet(
        f"{len(gray_icc)} grayscale {plural(len(gray_icc), 'photo')} here "
        f"{'carry' if len(gray_icc) != 1 else 'carries'} a gray (\"Dot Gain 20%\") ICC "
        "profile that does not match the RGB pixels, so it was not applied: "
        + ", ".join(f"`{p}`" for p in gray_icc) + ". Their pixels were left as decoded, "
        "as for every image without a profile or with the \"sRGB IEC61966-2.1\" profile."
        if gray_icc else
        "Images without a profile or with the \"sRGB IEC61966-2.1\" profile were left as "
        "decoded.")
    panorama_note = bullet(
        f"Wide {plural(len(panoramas), 'panorama')} here: " + " and ".join(panoramas)
        + ". A plain resize to 224×224 stretches "
        + ("it" if len(panoramas) == 1 else "them") + " a lot.") if panoramas else ""
    resize_note = bullet(
        "Each image was resized with Lanczos (one `Image.resize` call, with no JPEG draft "
        "mode and no pre-reduction) so that its longer side is exactly 192 px, keeping the "
        "aspect ratio. The shorter side is `round(shorter × 192 / longer)` with Python's "
        "`round`. Every source image was larger (the smallest longer side in tf_flowers was "
        f"240 px). Widths here are {min(widths)}–{max(widths)} px and heights "
        f"{min(heights)}–{max(heights)} px.")
    grouping_note = bullet(
        "The splits are not grouped by photographer. Many photographers have several "
        "photos, often of the same garden or plant, and some of them are in more than one "
        "split, so validation and test accuracy may be a little optimistic.")
    pool = textwrap.fill(
        f"1. Pool: the 3,666 images of `tf_flowers_full`, that is every tf_flowers photo "
        f"except {len(excluded)} exact-duplicate files, listed in `excluded.csv`: {dropped}. "
        "The roses/tulips pair is one Flickr photo under two labels, so both copies were "
        "dropped; of each sunflower pair, the file whose name sorts first was kept. "
        "Grayscale and near-grayscale photos are kept: they are part of the real dataset. "
        "No two kept files share a Flickr photo ID.",
        WIDTH, subsequent_indent="   ", break_on_hyphens=False, break_long_words=False)

    intro = textwrap.fill(
        "A fixed subset of TensorFlow's **flower_photos** dataset (`tf_flowers`), for "
        "offline transfer-learning notebooks (e.g. Keras VGG16). It has 5 classes and "
        f"{n:,} images: {TRAIN_PER_CLASS} training images per class ({total['train']:,}), "
        "and every validation photo of `tf_flowers_full` cut into a validation split "
        f"({total['val']}) and a test split ({total['test']}), about "
        f"{round(total['val'] / len(class_names))} per class each. Each image has been "
        "shrunk so its longer side is 192 px.", WIDTH, break_on_hyphens=False)

    return f"""# flowers-small

{intro}

The cut is the one `bench/default_profile_study.py` measured on (its validation/test split and
its seed-1 training subset of {TRAIN_PER_CLASS} photos per class), so the study's results on its
test photos (`bench/results/2026-12-04-default-profile-study.json`) were measured on the `test/`
split here. `data/make_flowers_small.py` builds this folder from `tf_flowers_full`.

```
flowers-small/
  train/{{{','.join(class_names)}}}/*.jpg   {per('train')} per class
  val/{{{','.join(class_names)}}}/*.jpg     {per('val')} per class: picks (best epoch, settings)
  test/{{{','.join(class_names)}}}/*.jpg    {per('test')} per class: grades (it picks nothing)
  LICENSE.txt    the original CC-BY notice, with credit lines for the {n:,} chosen images only
  manifest.csv   one row per image: split, class, file, source path, source SHA-256,
                 source and new size, embedded ICC profile of the source, credit line
  excluded.csv   the 4 source images left out of the pool, with the reason for each
  SHA256SUMS     SHA-256 of every other file in this folder (`sha256sum -c SHA256SUMS`)
```

| class      | train | val | test | images |
|------------|------:|----:|-----:|-------:|
""" + "\n".join(
        f"| {c:<10} | {count['train', c]} | {count['val', c]} | {count['test', c]} | "
        f"{sum(count[s, c] for s in SPLITS)} |" for c in class_names) + f"""
| **total**  | **{total['train']:,}** | **{total['val']}** | **{total['test']}** | **{n:,}** |

**Validation picks, test grades.** Use `val/` for every choice: the best epoch, the learning
rate, which layers to unfreeze, the profile. Score `test/` once the choices are made, and report
that score. A split that was used to choose anything is no longer a fair grade.

## Original dataset and license

* Dataset: "flower_photos" by the TensorFlow team, published as
  `http://download.tensorflow.org/example_images/flower_photos.tgz` and catalogued in TFDS as
  `tf_flowers` (3,670 Flickr photos: daisy 633, dandelion 898, roses 641, sunflowers 699,
  tulips 799).
* License: every photo is licensed **CC BY 2.0** (https://creativecommons.org/licenses/by/2.0/)
  by its own photographer. The archive's `LICENSE.txt` has one credit line per photo, in the form
  `<class>/<file>.jpg CC-BY by <photographer> - <flickr URL>` (9 lines use the form
  `<class>/<file>.jpg CC-BY <flickr profile URL> - by <photographer>`).
* The `LICENSE.txt` here keeps the original 4-line header word for word, followed by the original
  credit lines (in their original order) for the {n:,} photos in this subset. A credit line's path
  `<class>/<file>.jpg` refers to `train/<class>/<file>.jpg`, `val/<class>/<file>.jpg` or
  `test/<class>/<file>.jpg` here. File names are unchanged, and `manifest.csv` maps each file to
  its credit line.
* **Changes made (as CC BY requires us to say):** photos were colour-converted to sRGB where they
  had a non-sRGB ICC profile, shrunk, and saved again as JPEG. Metadata (EXIF/ICC) was removed.
  4 exact-duplicate files were left out of the pool. Nothing else was changed: no cropping, no
  relabelling.

## Where the files came from

* This folder: the photos are copied byte for byte, under their own names, from `tf_flowers_full`,
  the whole dataset prepared the same way (3,666 images: 2,895 in its `train/`, 771 in its `val/`).
  Its `manifest.csv` rows and credit lines are kept as they are, with `split` and `file` set to
  where each photo is here; its `excluded.csv` is copied unchanged.
* Images: GitHub repository **Oldpel/flower_photos**, commit
  `140ff6f3beb2173715002984c2bd58dc3506d4c9`, which holds the 3,670 files under
  `dataset/{{train,val}}/<class>/`. The `train`/`val` folders there are that repository's own split;
  only the class folder and the file name were used. The earlier commit
  `35315b6f9b6eda0a71bad55494fd73f3e006c753` holds the same 3,670 files, byte for byte (identical
  git blobs), in the original `<class>/<file>.jpg` folders. The repository has no license notice
  of its own. It only redistributes the CC BY photos.
* Attribution file: GitHub repository **dalifreire/cnn_hello_world**, commit
  `793df595d57f81dfbae5870c8eecc097d9f860e1`, file `datasets/flower_photos/LICENSE.txt`.
  That copy begins with a 3-line addition (an empty line, a Udacity mirror URL, an empty line).
  With those lines removed, it is 418,049 bytes long, which is the size of the original
  `flower_photos/LICENSE.txt`. It has 3,670 credit lines, exactly one for each image.
* Checks that the images are the official release:
  * All 3,670 paths are present. The SHA-256 of their sorted list (canonical JSON) is
    `5674fe020188d8f60128946c69dab61d7c133ee993329233541b08208bbd7fb0`. That matches the value
    published from a full audit of the official archive (archive SHA-256
    `4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c`) in
    Ryth0312/stable-datasets @ `2ff2d858463969e48da0fcd07fded319077d9572`,
    `benchmarks/tf_flowers_protocol.py`.
  * The file SHA-256s of the 3 exact-duplicate pairs that audit lists also match, and there are
    no other byte-identical files.
  * All 3,670 decode fully with Pillow (truncated images not allowed). All are baseline JPEG in
    RGB mode, and none has an EXIF orientation tag.

## How the subset was chosen

{pool}
2. Order: classes in alphabetical order ({', '.join(class_names)}; labels
   0–4), and within a class the files sorted by name (Python string order): the order in which
   the study listed the photos of `tf_flowers_full/train/` and `tf_flowers_full/val/`.
3. `val/` and `test/`: all 771 photos of `tf_flowers_full/val/`. One NumPy generator,
   `np.random.default_rng({SPLIT_SEED})`, permutes each class's photos in turn (classes in label
   order). The first half of each permutation (rounded up) goes to `val/`, the rest to `test/`.
4. `train/`: one generator, `np.random.default_rng({1000 + TRAIN_SEED})`, permutes each class's
   photos of `tf_flowers_full/train/` in turn. The first {TRAIN_PER_CLASS} of each permutation go
   to `train/`.
5. That is the cut of `bench/default_profile_study.py`: `split_val` (seed {SPLIT_SEED}) and
   `subset(orders, {TRAIN_SEED}, {TRAIN_PER_CLASS})` (training seed {TRAIN_SEED}, \
{TRAIN_PER_CLASS} photos per class). The
   build checks that the test list is exactly the record's `split.test_files`, and the
   per-class counts its `validation_per_class` and `test_per_class`.

{chr(10).join(table)}

No source photo is in two splits. `tf_flowers_full` made its own `train`/`val` split by file name
(the 550 images of the earlier version of this folder kept their split there; of the others, every
fifth by name went to `val`), so `train/` never shares a photo with `val/` or `test/` here.

## How the images were processed

`tf_flowers_full` processed every image with Pillow 13.0.0 (with its bundled libjpeg-turbo 3.2.0
and LittleCMS 2.19); nothing was done to them here:
* {converted} images here had an embedded RGB ICC profile other than "sRGB IEC61966-2.1" (for
  example Adobe RGB, ProPhoto RGB or a camera profile). They were converted to sRGB with LittleCMS
  (`ImageCms.profileToProfile`, perceptual intent, to the built-in profile from
  `ImageCms.createProfile("sRGB")`). The profile name of each source is in the `source_icc`
  column of `manifest.csv`.
{gray_note}{resize_note}\
* Each was saved as baseline JPEG, quality 90, `optimize=True`, with Pillow's default 4:2:0 chroma
  subsampling, and with no EXIF or ICC data. Every output file is an RGB JPEG.
* A JPEG comment (COM) segment of the source was kept: Pillow keeps it through the resize and
  writes it again on save. {comments} files here carry one, most of them Flickr's short `cmp3…` tag,
  and a few an editor name or a copyright and license line.

## Checking the files

```
cd data/flowers-small
sha256sum -c SHA256SUMS
```

Every line should end in `OK` ({n + 4:,} lines: the {n:,} images, `LICENSE.txt`, `README.md`,
`excluded.csv` and `manifest.csv`).

## Notes for use

* Keras: `image_dataset_from_directory("data/flowers-small/train", image_size=(224, 224))`
  (`tf.keras.utils`) works, and so do the `val` and `test` folders. Images are upscaled from
  192 px to VGG16's 224×224 input as they load. Class indices follow alphabetical order:
  {', '.join(class_names)}.
* tf_flowers has some known label noise. Some photos show people or other flowers (for example
  gerberas under "daisy"). This subset does not fix it.
{panorama_note}{grouping_note}\
* The split is a convenience split for teaching. It is not an official benchmark split.
* Earlier versions of this folder held 550 images (80 training and 30 validation per class,
  chosen by stride, with the grayscale photos left out): the `tf_flowers_small` that
  `tf_flowers_full`'s README mentions. They are in the repository's history.
"""


# --- main -------------------------------------------------------------------------

def main() -> int:
    if not (SOURCE / "manifest.csv").is_file():
        print(f"error: {SOURCE} is not there (tf_flowers_full beside the repository)",
              file=sys.stderr)
        return 1
    chosen, class_names = choose()
    out = Path(tempfile.mkdtemp(prefix=".flowers-small-new-", dir=TARGET.parent))
    out.chmod(0o755)  # mkdtemp's 0700 would stay with the folder
    old = None
    try:
        result = build(out, chosen, class_names)
        if TARGET.exists():
            old = Path(tempfile.mkdtemp(prefix=".flowers-small-old-", dir=TARGET.parent))
            TARGET.rename(old / "flowers-small")
        out.rename(TARGET)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        if old is not None and not TARGET.exists():
            (old / "flowers-small").rename(TARGET)
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old)

    counts = Counter((row["split"], row["class"]) for row in result["rows"])
    for split in SPLITS:
        per = {c: counts[split, c] for c in class_names}
        print(f"{split:5} {sum(per.values()):4}  {per}")
    print(f"{result['files']} files, {result['bytes']:,} bytes in "
          f"{TARGET.relative_to(ROOT)}")
    print(f"sha256 of SHA256SUMS: {result['sums_sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
