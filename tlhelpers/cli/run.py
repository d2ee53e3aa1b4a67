"""`run STRATEGY`: one of the course's strategies end to end, from the command line.

STRATEGY is `scratch` (notebook 01), `feature-extraction` (02: stored features
and the course's head) or `fine-tuning` (03: head, then the top N layers at a
low rate). Validation picks each phase's best epoch; the held-out test photos
grade the result. `--json` ends the output with one line of results. An
interrupt (Ctrl-C) stops the run, reports what finished and exits with 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

from . import UsageError, shown

STRATEGIES = ("scratch", "feature-extraction", "fine-tuning")
EPOCH_LINES = 2  # Keras prints one line per epoch: a terminal sees the run go on
SEED = 42
# What an interrupted phase says: this command keeps no run log and no model.
AGAIN = ("Run the same command again to train from the start (the stored "
         "features are reused).")


def add_arguments(parser) -> None:
    parser.add_argument("strategy", choices=STRATEGIES, metavar="STRATEGY",
                        help=" | ".join(STRATEGIES))
    parser.add_argument("--data", help="image folder or registry name "
                                       "(default: TLH_DATASET, else the profile's "
                                       "dataset: flowers-small on quick, "
                                       "flowers on full)")
    parser.add_argument("--backbone", default="vgg16")
    parser.add_argument("--weights", default="imagenet",
                        help="imagenet | random | path to a weights file")
    parser.add_argument("--profile", help="quick | full (default: TLH_PROFILE)")
    parser.add_argument("--epochs", help="epochs per phase (default: profile)")
    parser.add_argument("--unfreeze", default="4",
                        help="top base layers to unfreeze for fine-tuning (default 4)")
    parser.add_argument("--lr",
                        help="fine-tuning learning rate (default: the profile's "
                             "fine_tune_lr, 5e-5, chosen by measurement)")
    parser.add_argument("--image-size", help="square input size (default: profile)")
    # None when not given: scratch refuses both (it has no frozen layers).
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction,
                        help="feature-extraction, fine-tuning: also train on the "
                             "training photos mirrored left to right, stored "
                             "once (default: the profile's train_views: on "
                             "under quick, off under full)")
    parser.add_argument("--precision", choices=("auto", "float32", "bfloat16"),
                        help="feature-extraction, fine-tuning: of the one pass "
                             "of the frozen layers, and of fine-tuning's "
                             "training (mixed precision: float32 weights) "
                             "(default auto: bfloat16 where the CPU computes "
                             "it natively)")
    parser.add_argument("--seed", default=str(SEED),
                        help="seeds the head's initial weights, dropout and the "
                             "order of the training photos; the split into "
                             f"train, validation and test stays (default {SEED})")
    parser.add_argument("--json", action="store_true",
                        help="end with one JSON line of results")


def _int_option(name: str, text, minimum: int, maximum: int | None = None):
    if text is None:
        return None
    try:
        value = int(str(text))
    except ValueError:
        value = None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        upper = f"..{maximum}" if maximum is not None else " or more"
        raise UsageError(f"{name}={text!r} is not valid; expected an integer "
                         f"{minimum}{upper}")
    return value


def validate(args) -> dict:
    """Every option checked before anything slow starts; UsageError names the option."""
    from .. import config, models
    from ..training import check_lr

    if args.profile is not None:
        try:
            config.get_profile(args.profile)
        except ValueError as err:
            raise UsageError(f"--profile: {err}") from None
        os.environ[config.PROFILE_ENV] = args.profile.strip().lower()
    try:
        profile = config.get_profile()
    except ValueError as err:  # TLH_PROFILE names no profile
        raise UsageError(f"{err}; set {config.PROFILE_ENV}=quick or full, or pass "
                         "--profile") from None
    from .. import distribute
    try:
        distribute.cpu_replicas()
    except ValueError as err:  # the message says the valid range
        raise UsageError(str(err)) from None
    if args.backbone not in models.BACKBONES:
        raise UsageError(f"--backbone={args.backbone!r} is not valid; valid: "
                         f"{', '.join(models.BACKBONES)}")
    image_size = _int_option("--image-size", args.image_size, 1) or profile.image_size
    try:
        models.check_input_shape(args.backbone, (image_size, image_size, 3))
    except ValueError as err:
        raise UsageError(f"--image-size: {err}") from None
    epochs = _int_option("--epochs", args.epochs, 1, 1000)
    try:
        lr = check_lr(profile.fine_tune_lr if args.lr is None else args.lr)
    except ValueError:
        raise UsageError(f"--lr={args.lr!r} is not valid; expected a number in "
                         "(0, 1]") from None
    if args.weights not in ("imagenet", "random") and not os.path.isfile(args.weights):
        raise UsageError(f"--weights={args.weights!r} is not valid; expected "
                         "imagenet, random, or an existing weights file")
    unfreeze = _int_option("--unfreeze", args.unfreeze, 0)
    seed = _int_option("--seed", args.seed, 0, 2**31 - 1)
    if args.strategy == "scratch":
        given = [name for name, value in (("--flip/--no-flip", args.flip),
                                          ("--precision", args.precision))
                 if value is not None]
        if given:
            raise UsageError(f"{' and '.join(given)} apply to feature-extraction "
                             "and fine-tuning (a pass of the frozen layers); "
                             "scratch trains a small CNN on the images with "
                             "random augmentation")
    return dict(profile=profile, image_size=image_size, epochs=epochs, lr=lr,
                unfreeze=unfreeze, seed=seed,  # --seed has a default
                # As the notebooks store them: the profile's views.
                flip=profile.flip_train if args.flip is None
                else args.flip,
                precision=args.precision or "auto")


def execute(args) -> int:
    opts = validate(args)
    from .. import config, data, features, models, tflogs, training
    from ..data.registry import DatasetUnavailableError
    from ..weights import WeightsUnavailableError

    tflogs.hide_keras_reminders()  # as the notebooks' Setup cell does
    from .. import distribute

    # As tlh.setup() does, before any model exists: TLH_CPU_REPLICAS and
    # several GPUs train under the same strategy as in the notebooks.
    try:
        replicas = distribute.short_description(distribute.use_strategy())
    except RuntimeError as err:  # the message says how to start over
        print(f"error: {err}", file=sys.stderr)
        return 1
    profile = opts["profile"]
    config.seed_everything(opts["seed"])
    started = time.perf_counter()
    try:
        splits = data.load_splits(args.data, image_size=opts["image_size"])
    except (DatasetUnavailableError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    train_ds, val_ds, class_names = splits
    bad = getattr(splits.scan, "bad", [])
    if bad:  # left out, so said: a hostile folder must not shrink unnoticed
        print(f"skipped {len(bad)} file(s) or folder(s) that cannot be used; "
              f"`python -m tlhelpers check-data {shown(splits.scan.root)}` "
              "lists each with its reason", file=sys.stderr)
    n_classes = len(class_names)
    epochs = opts["epochs"]
    shape = (opts["image_size"], opts["image_size"], 3)
    weights_used = "none"
    if args.strategy == "scratch":
        model = models.build_small_cnn(shape, n_classes, models.default_augmentation())
        training.compile_for_training(model, 1e-3)
        result = training.fit(model, train_ds, val_ds, epochs or profile.scratch_epochs,
                              live_plot=False, verbose=EPOCH_LINES)
        epochs_run = result.epochs_done
        scores = {"test_accuracy": _graded(result, model, splits.test_ds)}
    else:
        weights = None if args.weights == "random" else args.weights
        try:
            base_model = models.load_base(args.backbone, weights, shape,
                                          allow_random=profile.allow_random_weights)
        except WeightsUnavailableError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        except ValueError as err:  # a --weights file Keras cannot load
            if weights in (None, "imagenet"):
                raise
            raise UsageError(f"--weights: {err}") from None
        weights_used = base_model.tlh_weights
        try:
            result, epochs_run, scores = _transfer(args, opts, base_model, splits,
                                                   n_classes, epochs, profile)
        except features.PrecisionUnsupportedError as err:
            raise UsageError(f"--precision {opts['precision']}: {err}") from None
    seconds = time.perf_counter() - started
    summary = {
        "strategy": args.strategy, "backbone": args.backbone if
        args.strategy != "scratch" else "small_cnn", "weights": weights_used,
        "train_images": len(splits.files.train), "val_images": len(splits.files.val),
        "test_images": len(splits.files.test), "test_source": splits.files.test_source,
        "classes": class_names, "image_size": opts["image_size"],
        "val_accuracy": result.best_val_accuracy,
        **scores,
        "epochs": epochs_run, "seed": opts["seed"], "seconds": round(seconds, 1),
        "replicas": replicas,
        "peak_memory_mb": _peak_memory_mb(),
    }
    if args.strategy != "scratch":
        from ..features import pass_precision
        summary.update(flip=opts["flip"], precision=pass_precision(opts["precision"]))
    if args.strategy == "fine-tuning":
        summary.update(lr=opts["lr"], unfreeze=opts["unfreeze"])
    # None when interrupted before the first epoch ended.
    test = summary["test_accuracy"]
    accuracy = "n/a" if test is None else f"{test:.3f}"
    picked = ("n/a" if result.best_val_accuracy is None
              else f"{result.best_val_accuracy:.3f}")
    head = (f" (head phase {summary['head_test_accuracy']:.3f})"
            if summary.get("head_test_accuracy") is not None else "")
    print(f"{args.strategy}: test accuracy {accuracy}{head} on "
          f"{summary['test_images']} {_test_words(splits.files.test_source)}; "
          f"best validation accuracy {picked} on {summary['val_images']} (it "
          f"picked the epoch); {n_classes} classes, {epochs_run} epoch(s), "
          f"{seconds:.0f} s (weights: {weights_used})"
          + (" - interrupted" if result.interrupted else ""))
    if args.json:
        print(json.dumps(summary))
    return 130 if result.interrupted else 0


def _test_words(source: str) -> str:
    return {"folder": "test photos", "held out": "held-out test photos",
            "validation": "validation photos (too few photos for a test split)"
            }[source]


def _graded(result, model, test) -> float | None:
    """Test accuracy of the picked weights; None when no epoch finished."""
    from .. import training

    if result.best_val_accuracy is None:
        return None
    return round(training.test_accuracy(model, test), 4)


def _transfer(args, opts, base_model, splits, n_classes, epochs, profile):
    """Feature extraction or fine-tuning on `base_model`: (result, epochs run, scores)."""
    from .. import models

    if args.strategy == "feature-extraction":
        result, epochs_run, scores = _feature_extraction(
            base_model, splits, n_classes, epochs or profile.head_epochs,
            opts["flip"], opts["precision"], opts["seed"])
    else:
        try:
            models.check_n_unfrozen(base_model, opts["unfreeze"])
        except ValueError as err:
            raise UsageError(f"--unfreeze: {err}") from None
        result, epochs_run, scores = _fine_tuning(
            base_model, splits, n_classes, epochs or profile.head_epochs,
            epochs or profile.fine_tune_epochs, opts["unfreeze"], opts["lr"],
            opts["flip"], opts["precision"], opts["seed"])
    return result, epochs_run, scores


def _peak_memory_mb() -> float | None:
    """The process's peak resident memory so far, in MiB (None where unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / (2 ** 20 if sys.platform == "darwin" else 2 ** 10), 1)


def _train_head(stored, n_classes, epochs, seed):
    """The course's head on the base's stored output (depth 0): (head, result)."""
    from .. import strategies

    return strategies.train_head_stored(
        (stored.train[0], stored.train_labels), (stored.val[0], stored.val_labels),
        n_classes, epochs, seed=seed, live_plot=False, verbose=EPOCH_LINES,
        rerun_note=AGAIN, start_over_note=AGAIN)


def _feature_extraction(base_model, splits, n_classes, epochs, flip=False,
                        precision="float32", seed=SEED):
    """Notebook 02's fast path: one pass of the frozen base, the head on its output."""
    from .. import strategies

    # progress: a bar with time left for each pass over the photos (stderr)
    stored = strategies.store_activations(base_model, splits.files, depths=(0,),
                                          flip_train=flip, precision=precision,
                                          progress=True)
    head, result = _train_head(stored, n_classes, epochs, seed)
    scores = {"test_accuracy": _graded(result, head, stored.split("test", 0))}
    return result, result.epochs_done, scores


def _fine_tuning(base_model, splits, n_classes, head_epochs, tune_epochs,
                 n_unfrozen, lr, flip=False, precision="float32", seed=SEED):
    """Notebook 03's two phases, both on stored activations.

    The frozen layers run once over the images (and, with `flip`, once over
    the training photos mirrored: a fixed augmentation); the head trains on
    the base's stored output, then the top `n_unfrozen` layers and the head
    train on the stored output of the last frozen layer: the same training as
    through the whole base, without running its frozen part every epoch.
    """
    from .. import models, strategies

    # progress: a bar with time left for each pass over the photos (stderr)
    stored = strategies.store_activations(base_model, splits.files,
                                          depths=(0, n_unfrozen), flip_train=flip,
                                          precision=precision, progress=True)
    model = models.build_classifier(base_model, n_classes)
    head, result = _train_head(stored, n_classes, head_epochs, seed)
    epochs_run = result.epochs_done
    head_test = _graded(result, head, stored.split("test", 0))
    if result.interrupted:  # an interrupt stops the whole run
        return result, epochs_run, {"test_accuracy": head_test,
                                    "head_test_accuracy": head_test}
    strategies.copy_head(head, model, base_model)
    head_best = result.best_val_accuracy
    _, result, right = strategies.fine_tune_stored(
        model, base_model, n_unfrozen, (stored.train[n_unfrozen], stored.train_labels),
        (stored.val[n_unfrozen], stored.val_labels), tune_epochs, lr,
        precision=precision, test=stored.split("test", n_unfrozen), live_plot=False,
        verbose=EPOCH_LINES, rerun_note=AGAIN, start_over_note=AGAIN)
    test = round(float(right.mean()), 4)
    if result.best_val_accuracy is None:
        # Interrupted before a fine-tuning epoch ended: the model holds the
        # head phase's weights, and so its accuracy.
        result = dataclasses.replace(result, best_val_accuracy=head_best)
    return result, epochs_run + result.epochs_done, {
        "test_accuracy": test, "head_test_accuracy": head_test}
