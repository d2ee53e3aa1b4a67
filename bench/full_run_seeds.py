"""`python -m tlhelpers run` over seeds, each from an empty TLH_HOME, kept as one record.

The performance page's accuracy against minutes comes from runs such as
`run fine-tuning --profile full --json`, one per seed, each starting with
nothing stored (a first run converts the offline weights and makes the frozen
pass, which is most of its minutes). This runs that command once per seed, one
after the other, and writes the record after each run: what each run printed,
its JSON summary, its wall time and the load average around it, so that a run
slowed by another job on the machine says so in the record.

    .venv/bin/python bench/full_run_seeds.py --out bench/results/DATE-NAME.json \\
        -- fine-tuning --profile full --data ../shared/datasets/tf_flowers_full --no-flip

Everything after `--` goes to `run`; `--seed` and `--json` are this script's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN_OPTIONS = ("--seed", "--json")  # set per run here, not passed through


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--note", default="", help="what the record should say besides")
    p.add_argument("run_args", nargs=argparse.REMAINDER,
                   help="-- then the strategy and options of `python -m tlhelpers run`")
    args = p.parse_args(argv)
    run_args = args.run_args[1:] if args.run_args[:1] == ["--"] else args.run_args
    if not run_args or run_args[0].startswith("-"):
        p.error("name the strategy after --, e.g. -- fine-tuning --profile full")
    own = [a for a in run_args if a.split("=", 1)[0] in OWN_OPTIONS]
    if own:
        p.error(f"{', '.join(own)}: this script sets --seed and --json for each run")
    try:
        args.seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds {args.seeds!r}: expected whole numbers separated by commas")
    args.run_args = [shown_path(a) for a in run_args]
    return args


def shown_path(arg: str) -> str:
    """An absolute path as seen from the project's root: a record names no machine's folders."""
    return os.path.relpath(arg, ROOT) if os.path.isabs(arg) else arg


def command(run_args, seed: int) -> list[str]:
    return ["python", "-m", "tlhelpers", "run", *run_args, "--seed", str(seed), "--json"]


def run_once(run_args, seed: int) -> dict:
    """One run in a fresh, empty TLH_HOME; its exit code, output and wall seconds."""
    with tempfile.TemporaryDirectory(prefix="tlh-home-") as home:
        env = dict(os.environ, TLH_HOME=home,
                   TLH_REQUIRE_IMAGENET="1")  # never record random weights as transfer
        started = time.perf_counter()
        done = subprocess.run([sys.executable, *command(run_args, seed)[1:]], cwd=ROOT,
                              env=env, capture_output=True, text=True)
        return {"returncode": done.returncode, "stdout": done.stdout,
                "stderr": done.stderr, "wall_seconds": time.perf_counter() - started}


def load_now() -> float:
    return round(os.getloadavg()[0], 2)


def run_entry(run_args, seed: int, outcome: dict, load: list[float],
              cores: int) -> dict:
    """What the record keeps of one run; a failed run keeps the end of its errors."""
    entry = {"command": "TLH_HOME=<empty> " + " ".join(command(run_args, seed)),
             "tlh_home": "empty (a new temporary folder)",
             "seed": seed, "wall_seconds": round(outcome["wall_seconds"], 1),
             "load_average_1min": load,
             # the run itself keeps about `cores` busy: more means another job
             "shared_machine": max(load) > 1.25 * cores}
    lines = outcome["stdout"].strip().splitlines()
    summary = None
    if outcome["returncode"] == 0 and lines:
        try:
            summary = json.loads(lines[-1])
        except json.JSONDecodeError:
            summary = None
    if summary is None:
        entry["status"] = "failed"
        entry["exit_code"] = outcome["returncode"]
        entry["error"] = "\n".join(outcome["stderr"].strip().splitlines()[-5:])
        return entry
    entry.update(status="done", printed=lines[-2] if len(lines) > 1 else "",
                 summary=summary)
    return entry


def summarize(runs: list[dict]) -> dict:
    done = [r["summary"] for r in runs if r["status"] == "done"]
    tests = [s.get("test_accuracy") for s in done]
    out = {"runs_done": len(done), "runs_failed": len(runs) - len(done),
           "test_accuracy": tests,
           "head_test_accuracy": [s.get("head_test_accuracy") for s in done],
           "seconds": [s.get("seconds") for s in done]}
    if tests and None not in tests:
        out.update(mean_test_accuracy=round(sum(tests) / len(tests), 4),
                   min_test_accuracy=min(tests))
    return out


def commit() -> str:
    """The commit the runs used, marked when the work tree had changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes" if dirty else "")


def write(record: dict, out: Path) -> None:
    from tlhelpers.atomic import replacing

    with replacing(out) as tmp:  # an interrupted write keeps the last record
        tmp.write_text(json.dumps(record, indent=1) + "\n")


def main(argv=None, runner=run_once) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tlhelpers import bench, distribute

    # As `run` sets TensorFlow up in each seed's process (oneDNN's rewrites,
    # quiet logs), so that the machine described here is the one the runs had.
    distribute.prepare_environment()
    machine = bench.machine_info()
    cores = machine.get("cpus_usable") or 1
    record = {"what": "python -m tlhelpers run " + " ".join(args.run_args)
                      + ", once per seed, each from an empty TLH_HOME",
              "date": time.strftime("%Y-%m-%d"), "commit": commit(),
              "seeds": args.seeds, "machine": machine, "runs": []}
    if args.note:
        record["note"] = args.note
    for seed in args.seeds:
        before = load_now()
        outcome = runner(args.run_args, seed)
        entry = run_entry(args.run_args, seed, outcome, [before, load_now()], cores)
        record["runs"].append(entry)
        record["summary"] = summarize(record["runs"])
        write(record, args.out)
        if entry["status"] != "done":
            print(f"seed {seed}: failed (exit {entry['exit_code']}); the record keeps "
                  f"the runs before it\n{entry['error']}", file=sys.stderr)
            return 1
        s = entry["summary"]
        print(f"seed {seed}: test {s.get('test_accuracy')}, head "
              f"{s.get('head_test_accuracy')}, {s.get('seconds')} s"
              + (" (another job shared the machine)" if entry["shared_machine"] else ""),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
