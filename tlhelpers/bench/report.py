"""The benchmark's report: an aligned table on the terminal, a JSON file in bench/results/.

Part of `python -m tlhelpers bench`; `bench/README.md` explains the figures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .machine import host_kind


def table(result: dict) -> str:
    """The figures as an aligned text table, goals and whether each is met."""
    rows = [("figure", "value", "goal", "met")]
    for name, goal in result["goals"].items():
        rows.append((name, f"{goal['value']:g}", goal["goal"],
                     "yes" if goal["met"] else "NO"))
    for entry in result["extraction"]:
        rows.append((f"extraction_seconds_per_image @ {entry['images']}",
                     f"{entry['seconds_per_image']:.4f}", "", ""))
        rows.append((f"  peak memory above start @ {entry['images']} (MB)",
                     f"{entry['peak_memory_mb']:.1f}", "", ""))
        rows.append((f"  peak process memory @ {entry['images']} (MB)",
                     f"{entry['peak_process_rss_mb']:.0f}", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    m, p = result["machine"], result["prefix_detail"]
    mm = result["matmul_gflops"]
    lines += [
        "",
        f"machine: {m['cpu_model']}, {m['cpu_count']} CPUs, {m['memory_gb']} GB, "
        f"TF {m['tensorflow']}, Keras {m['keras']}"
        + ("  (BUSY: load average "
           f"{result['load_average_start'][0]} -> {result['load_average_end'][0]})"
           if result["machine_busy"] else ""),
        f"data: {result['data']['source']}, {result['data']['image_size']}px; "
        f"VGG16 weights {result['weights']}",
        f"extraction: {result['conv_gflops_per_image']} GFLOP per image, batch "
        f"{result['batch_size']}, {result['extraction'][-1]['gflops_per_second']} "
        f"GFLOP/s; matrix product {result['extraction'][-1]['peak_gflops_around']}"
        f" GFLOP/s around it (against the best of the run, {mm['best']}: "
        f"{result['extraction_fraction_of_best_peak']}; per CPU-second: "
        f"{result['extraction_fraction_of_peak_per_cpu_second']})",
        f"features: computed in {result['feature_compute_seconds']} s, loaded in "
        f"{result['feature_load_seconds']} s",
        f"fine-tuning epoch ({p['images']} images): full model "
        f"{p['full_model_epoch_seconds']} s, on stored {p['stored_layer']} "
        f"activations {p['stored_epoch_seconds']} s (storing them once: "
        f"{p['storing_activations_seconds']} s)",
        f"memory: {result['memory_method']}; whole run {result['bench_seconds']} s",
    ]
    return "\n".join(lines)


def save(result: dict, out_dir: Path) -> Path:
    """Write the result to `out_dir/<date>-<host kind>.json` (atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    date = result["date"][:10]
    path = out_dir / f"{date}-{host_kind(result['machine'])}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path
