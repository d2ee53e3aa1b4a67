"""Accuracy against wall time of measured runs: the chart in the README's course map.

`python -m tlhelpers.bench.chart bench/results/A.json [B.json ...] --out chart.png`
reads records written by `python -m tlhelpers course --record` and by
`run fine-tuning --json` runs (bench/README.md says which is which).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Point:
    """One measured path: what ran, how long from the start, what it reached."""

    label: str
    minutes: float
    accuracy: float
    kind: str  # "course" or "command"


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


def command_points(record: dict) -> list[Point]:
    """One point per `run ... --json` run kept in the record that began with an empty cache."""
    points = []
    for run in record["runs"]:
        if not str(run.get("tlh_home", "empty")).startswith("empty"):
            continue  # its passes were loaded: its time is not comparable
        summary = run["summary"]
        how = []
        if summary["strategy"] != "scratch":  # scratch has no pass of a frozen base
            how += [f"{summary.get('precision', 'float32')} pass",
                    "mirrored photos" if summary.get("flip") else "photos only"]
        how += [f"lr {summary['lr']:g}"] if "lr" in summary else []
        how += [f"{summary['epochs']} epochs in all"] if "epochs" in summary else []
        points.append(Point(f"run {summary['strategy']}: {', '.join(how)}",
                            summary["seconds"] / 60, summary["val_accuracy"],
                            "command"))
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
    styles = {"course": ("o", "tab:blue"), "command": ("s", "tab:orange")}
    for kind, (marker, colour) in styles.items():
        mine = [p for p in points if p.kind == kind]
        ax.scatter([p.minutes for p in mine], [p.accuracy for p in mine],
                   marker=marker, color=colour, s=50, zorder=3,
                   label={"course": "the notebooks, one after another",
                          "command": "python -m tlhelpers run"}[kind])
    for p in points:
        ax.annotate(p.label, (p.minutes, p.accuracy), textcoords="offset points",
                    xytext=(6, -3), fontsize=8)
    ax.axhline(0.9, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("minutes of wall time from an empty cache (2 cores)")
    ax.set_ylabel("best validation accuracy")
    ax.set_xlim(0, max(p.minutes for p in points) * 1.45)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    return fig


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
