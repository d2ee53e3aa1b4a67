"""bench/notebook03_seeds.py's command line: the rate, and the command a record keeps."""

from __future__ import annotations

import pytest
from benchscript import bench_script


@pytest.fixture(scope="module")
def seeds_script():
    with bench_script("notebook03_seeds") as module:
        yield module


def test_the_rate_defaults_to_the_profile_and_is_kept_in_the_command(seeds_script):
    args = seeds_script.parse_args(["--out", "r.json"])
    assert args.lr is None  # main() then takes profile.fine_tune_lr
    assert "--lr" not in seeds_script.command_line(args)
    args = seeds_script.parse_args(["--out", "r.json", "--lr", "1e-4", "--seeds", "2,3",
                                    "--variants", "float32-flip", "--epochs", "5"])
    assert args.lr == pytest.approx(1e-4) and args.seeds == [2, 3]
    command = seeds_script.command_line(args)
    assert command == ("bench/notebook03_seeds.py --seeds 2,3 --variants float32-flip "
                       "--epochs 5 --lr 0.0001")
    assert "r.json" not in command  # a record names no machine's folders


def test_an_unknown_variant_or_rate_is_refused(seeds_script, capsys):
    with pytest.raises(SystemExit):
        seeds_script.parse_args(["--out", "r.json", "--variants", "float16-flip"])
    assert "unknown variants ['float16-flip']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        seeds_script.parse_args(["--out", "r.json", "--lr", "fast"])


def test_test_time_averaging_is_kept_in_the_command(seeds_script):
    args = seeds_script.parse_args(["--out", "r.json"])
    assert args.tta is False and "--tta" not in seeds_script.command_line(args)
    args = seeds_script.parse_args(["--out", "r.json", "--tta"])
    assert seeds_script.command_line(args).endswith(" --tta")
