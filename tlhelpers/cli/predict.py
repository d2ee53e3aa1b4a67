"""`predict MODEL IMAGE... [--top K] [--json]`: a saved model on photos, from a shell.

Taught in `06_use_your_model.ipynb`, which saves the fine-tuned model as one
`.keras` file with its class names (`tlh.predict.save_take_home`). The file is
loaded with Keras' safe mode. Exit 0 when every photo was predicted; 1 when
the model cannot be loaded (not a model file, refused by safe mode) or when
some photos could not be read (each is named on stderr; the others are still
predicted); 2 for usage errors (a bad --top, missing paths: all are named).
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import UsageError, json_text, shown


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a .keras file "
                        "(e.g. saved by notebook 06)")
    parser.add_argument("images", metavar="IMAGE", nargs="+",
                        help="photos to classify (JPEG, PNG, WebP, ...)")
    parser.add_argument("--top", help="how many classes to list per photo "
                        "(default 3, or every class when there are fewer)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of lines")


def _check_paths(args) -> int | None:
    """The --top value; every missing path named in one UsageError."""
    if args.top is None:
        top = None
    else:
        try:
            top = int(args.top)
        except ValueError:
            top = 0
    if top is not None and top < 1:
        raise UsageError(f"--top={args.top!r} is not valid; expected an integer "
                         ">= 1")
    missing = [p for p in [args.model, *args.images] if not Path(p).exists()]
    if missing:
        raise UsageError("no such file: " + ", ".join(repr(p) for p in missing))
    if Path(args.model).is_dir():
        raise UsageError(f"MODEL={args.model!r} is a folder; expected a .keras "
                         "file")
    return top


def execute(args) -> int:
    top = _check_paths(args)
    from .. import predict

    try:
        model = predict.load_model(args.model)
    except predict.ModelFileError as err:
        print(f"error: {shown(err)}", file=sys.stderr)
        return 1
    try:
        names = predict.class_names_of(model)
        top = predict.check_top(top, len(names))
        predict.input_size(model)
    except ValueError as err:
        raise UsageError(f"--top: {err}" if "top=" in str(err) else str(err)) \
            from None
    results = predict.predict_images(model, args.images, top=top)
    # The path as typed, so two photos of the same name stay apart.
    for result, typed in zip(results, args.images):
        result.source = typed
    for bad in (r for r in results if not r.ok):
        print(f"error: {shown(bad.source)}: {bad.error}", file=sys.stderr)
    if args.json:
        print(json_text({"model": args.model, "classes": names,
                         "predictions": [r.to_json() for r in results]}))
    else:
        for result in results:
            if result.ok:  # class names come from the file: escape codes too
                print(shown(result))
    return 0 if all(r.ok for r in results) else 1
