"""Accuracy against wall time of measured runs: the chart on the course map page.

`python -m tlhelpers.bench.chart bench/results/A.json [B.json ...] --out chart.png`
reads records written by `python -m tlhelpers course --record` and by
`run STRATEGY --json` runs (bench/README.md says which is which).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import textwrap
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Point:
    """One measured path: what ran, how long from the start, what it reached."""

    label: str
    minutes: float
    accuracy: float
    kind: str  # "course", "command" (best validation) or "test" (held-out test)


def course_points(record: dict) -> list[Point]:
    """Per notebook with logged runs: the course's wall time up to its end, its best run."""
    points, elapsed = [], 0.0
    for entry in record["notebooks"]:
        elapsed += entry["seconds"]
        runs = [r for r in entry["runs"] if r.get("best_val_accuracy") is not None]
        if not runs or entry["status"] != "ok":
            continue
        best = max(runs, key=lambda r: r["best_val_accuracy"])
        what = best.get("strategy") or best["log"]
        what += f" ({best['note']})" if best.get("note") else ""
        points.append(Point(f"course 00-{entry['notebook'][:2]}: {what}",
                            elapsed / 60, best["best_val_accuracy"], "course"))
    return points


def image_size(run: dict) -> int | None:
    """The run's input size: from its summary, else its `--image-size`; None if neither says."""
    if run["summary"].get("image_size"):
        return int(run["summary"]["image_size"])
    # Summaries before 2026-12-07 lack the size; a size asked for is in the command.
    found = re.search(r"--image-size[ =](\d+)", run.get("command", ""))
    return int(found.group(1)) if found else None


def command_points(record: dict) -> list[Point]:
    """One point per `run ... --json` run kept in the record that began with an empty cache."""
    points = []
    for run in record["runs"]:
        if not str(run.get("tlh_home", "empty")).startswith("empty"):
            continue  # its passes were loaded: its time is not comparable
        if run.get("status", "done") != "done":
            continue  # a failed run has no result (bench/full_run_seeds.py keeps it)
        summary = run["summary"]
        how = [f"{size} px"] if (size := image_size(run)) else []
        if summary["strategy"] != "scratch":  # scratch has no pass of a frozen base
            how += [f"{summary.get('precision', 'float32')} pass",
                    "mirrored photos" if summary.get("flip") else "photos only"]
        how += [f"lr {summary['lr']:g}"] if "lr" in summary else []
        how += [f"top {summary['unfreeze']} layers"] if "unfreeze" in summary else []
        how += [f"{summary['epochs']} epochs in all"] if "epochs" in summary else []
        how += [f"seed {summary['seed']}"] if "seed" in summary else []
        label = f"run {summary['strategy']}: {', '.join(how)}"
        # Graded on photos that picked nothing where the run reported them;
        # older records have only the validation score, which picked the epoch.
        if summary.get("test_accuracy") is not None:
            points.append(Point(label, summary["seconds"] / 60,
                                summary["test_accuracy"], "test"))
        else:
            points.append(Point(label, summary["seconds"] / 60,
                                summary["val_accuracy"], "command"))
    return points


def points_of(record: dict) -> list[Point]:
    """The points of a course record or of a command record."""
    if "notebooks" in record:
        return course_points(record)
    if "runs" in record:
        return command_points(record)
    raise ValueError("not a record of `course --record` or of `run ... --json` runs "
                     "(no 'notebooks' or 'runs' key)")


def figure(points: list[Point], title: str):
    """A scatter of accuracy against minutes, every point labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), constrained_layout=True)
    styles = {"course": ("o", "tab:blue"), "command": ("s", "tab:orange"),
              "test": ("^", "tab:green")}
    for kind, (marker, colour) in styles.items():
        mine = [p for p in points if p.kind == kind]
        if not mine:
            continue
        ax.scatter([p.minutes for p in mine], [p.accuracy for p in mine],
                   marker=marker, color=colour, s=50, zorder=3,
                   label={"course": "the notebooks, one after another "
                                    "(best validation)",
                          "command": "python -m tlhelpers run (best validation)",
                          "test": "python -m tlhelpers run (held-out test photos)"
                          }[kind])
    labels, seen = [], set()
    for p in points:
        if (p.label, round(p.accuracy, 4)) in seen:
            continue  # the same run measured again: its marker is enough
        seen.add((p.label, round(p.accuracy, 4)))
        # Wrapped: a long label fits beside its point inside the axes.
        text = textwrap.fill(p.label, 40, subsequent_indent="  ")
        labels.append(ax.annotate(text, (p.minutes, p.accuracy), fontsize=8,
                                  textcoords="offset points", xytext=(6, -3)))
    ax.axhline(0.9, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("minutes of wall time from an empty cache (2 cores)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, max(p.minutes for p in points) * 1.6)
    # Room above and below the points, so labels and the legend have space
    # when the accuracies are close together (seeds of one recipe).
    low, high = (min(p.accuracy for p in points), max(p.accuracy for p in points))
    pad = max(0.05, high - low) * 0.4
    ax.set_ylim(max(0.0, low - pad), min(1.0, high + pad))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    for label in spread_labels(fig, labels):  # a line joins a moved label to its point
        text, point, offset = label.get_text(), label.xy, label.xyann
        side = label.get_horizontalalignment()
        label.remove()
        ax.annotate(text, point, xytext=offset, textcoords="offset points", fontsize=8,
                    ha=side, arrowprops=dict(arrowstyle="-", color="grey",
                                             linewidth=0.6, shrinkA=1, shrinkB=4))
    return fig


def spread_labels(fig, labels) -> list:
    """Place each label beside its point, covering no other label or point; return those moved.

    Tries the right of the point, then its left, then further below and
    above, highest point first; a label that fits nowhere keeps its first place.
    """
    if not labels:
        return []
    fig.canvas.draw()  # lay the figure out, so the boxes are where they will be
    renderer = fig.canvas.get_renderer()
    ax = labels[0].axes
    points = [ax.transData.transform(label.xy) for label in labels]
    frame = ax.get_window_extent(renderer)
    tries = [(6, -3, "left"), (-6, -3, "right")] + [
        (x, y, side) for step in range(1, 8) for y in (-3 - 11 * step, -3 + 11 * step)
        for x, side in ((6, "left"), (-6, "right"))]
    placed, moved = [], []
    for label in sorted(labels, key=lambda a: -a.xy[1]):
        for n, (x, y, side) in enumerate(tries):  # noqa: B007 (n is read below)
            label.set_horizontalalignment(side)
            label.xyann = (x, y)
            box = label.get_window_extent(renderer)
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1
                      and box.y0 >= frame.y0 and box.y1 <= frame.y1)
            if inside and not any(box.overlaps(other) for other in placed) and not any(
                    box.x0 - 5 <= px <= box.x1 + 5 and box.y0 - 5 <= py <= box.y1 + 5
                    for px, py in points):
                break
        else:
            n, (x, y, side) = 0, tries[0]
            label.set_horizontalalignment(side)
            label.xyann = (x, y)
            box = label.get_window_extent(renderer)
        if n > 1:
            moved.append(label)
        placed.append(box)
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlhelpers.bench.chart",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="+", help="JSON records in bench/results/")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--title", default="Full profile: accuracy against wall time")
    args = parser.parse_args(argv)
    points = []
    for name in args.records:
        try:
            points += points_of(json.loads(Path(name).read_text()))
        except (OSError, json.JSONDecodeError, ValueError, KeyError) as err:
            print(f"{name}: cannot read a record ({err})", file=sys.stderr)
            return 2
    if not points:
        print("no measured run with an accuracy in these records", file=sys.stderr)
        return 1
    figure(points, args.title).savefig(args.out, dpi=110)
    for p in sorted(points, key=lambda p: p.minutes):
        print(f"{p.minutes:6.1f} min  {p.accuracy:.3f}  {p.label}")
    print(f"chart written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
