"""The Setup cell in a real kernel shows its one line: no TensorFlow start-up logs.

TensorFlow's C++ lines reach a notebook only through ipykernel's forwarding of
file descriptor 2, so a kernel is the only faithful place to look. The second
test turns the logs back on, which shows the first can fail. The last runs
`python -m tlhelpers run` as a terminal would, where the same lines would show.
"""

from __future__ import annotations

import os
import re
import textwrap

SETUP_CELL = ("import tlhelpers as tlh\n"
              "report = tlh.setup(seed=42)\n"
              "import tensorflow as tf\n"
              "import keras\n")
# Later output must still come through: C++ writes to fd 2, Python warnings.
AFTER_CELL = ("import os, time, warnings\n"
              "os.write(2, b'fd 2 after setup\\n')\n"
              "warnings.warn('a warning after setup')\n"
              "time.sleep(1)  # ipykernel forwards fd 2 from a thread\n")
TF_LOG_LINE = re.compile(r"^(WARNING: All log messages before absl|[IWEF]\d{4} )", re.M)


def run_cells(cells: list[str], env: dict[str, str]) -> list[dict[str, str]]:
    """Run each cell in a fresh kernel; per cell, the text of each stream."""
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        outputs = []
        for cell in cells:
            msg_id = client.execute(cell)
            streams = {"stdout": "", "stderr": "", "error": ""}
            while True:
                msg = client.get_iopub_msg(timeout=300)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    streams[content["name"]] += content["text"]
                elif kind == "error":
                    streams["error"] += f"{content['ename']}: {content['evalue']}"
                elif kind == "status" and content["execution_state"] == "idle":
                    break
            outputs.append(streams)
        return outputs
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def kernel_env(**extra: str) -> dict[str, str]:
    # As a learner's kernel starts: no log level chosen by the test suite, and
    # no PYTEST_CURRENT_TEST, with which ipykernel stops forwarding fd 2.
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "TLH_TF_LOGS", "PYTEST_CURRENT_TEST")}
    return {**env, "TLH_PROFILE": "quick", **extra}


def test_setup_cell_shows_only_the_setup_line():
    setup, after = run_cells([SETUP_CELL, AFTER_CELL], kernel_env())
    assert setup["error"] == "", setup["error"]
    assert setup["stderr"] == "", f"start-up noise in the Setup cell:\n{setup['stderr']}"
    lines = setup["stdout"].splitlines()
    assert len(lines) == 1 and lines[0].startswith("profile=quick"), setup["stdout"]
    assert "fd 2 after setup" in after["stderr"], after
    assert "a warning after setup" in after["stderr"], after


def test_tlh_tf_logs_brings_the_logs_back():
    (setup,) = run_cells([SETUP_CELL], kernel_env(TLH_TF_LOGS="1"))
    assert setup["error"] == "", setup["error"]
    assert TF_LOG_LINE.search(setup["stderr"]), setup["stderr"]
    assert setup["stdout"].startswith("profile=quick")


def test_the_run_command_shows_no_start_up_logs(tmp_path):
    import subprocess
    import sys

    import imagefactory

    folder = imagefactory.make_folder(tmp_path / "d", ("red", "blue"), per_class=6,
                                      layout="split", val_per_class=3)
    done = subprocess.run(
        [sys.executable, "-m", "tlhelpers", "run", "scratch", "--data", str(folder),
         "--profile", "quick", "--image-size", "32", "--epochs", "1"],
        env=kernel_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "best validation accuracy" in done.stdout
    assert not TF_LOG_LINE.search(done.stderr), done.stderr
    assert "shuffle=True" not in done.stderr and "ran out of data" not in done.stderr


def test_a_plain_import_changes_nothing_global():
    # A program that imports the package (for `tlhelpers.predict`, say) keeps
    # its environment, its import machinery, its stderr and TensorFlow's
    # warnings: the course's quiet start happens in tlh.setup() only.
    import subprocess
    import sys

    script = textwrap.dedent("""
        import os, sys

        def state():
            err = os.fstat(2)
            return dict(os.environ), list(sys.meta_path), (err.st_dev, err.st_ino)

        def same(before, after):
            assert after[0] == before[0], set(after[0].items()) ^ set(before[0].items())
            assert after[1] == before[1], after[1]
            assert after[2] == before[2], "fd 2 was redirected"

        before = state()  # before TensorFlow: the package and its light modules
        import tlhelpers, tlhelpers.config, tlhelpers.data
        same(before, state())
        assert "tensorflow" not in sys.modules
        # TensorFlow sets variables of its own as it loads: judge ours after it.
        import tensorflow, keras
        before = state()
        import tlhelpers.predict, tlhelpers.models, tlhelpers.features
        import tlhelpers.training, tlhelpers.viz, tlhelpers.widgets
        same(before, state())
        print("unchanged")
    """)
    done = subprocess.run([sys.executable, "-c", script], env=kernel_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "unchanged\n"


def test_a_script_calling_setup_first_shows_no_start_up_logs():
    # What a learner's own script does when it follows the Setup cell.
    import subprocess
    import sys

    script = ("import tlhelpers as tlh\ntlh.setup(verbose=False)\n"
              "import tensorflow as tf\n"
              "print(float(tf.reduce_sum(tf.ones(3))))\n")
    done = subprocess.run([sys.executable, "-c", script], env=kernel_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3.0\n"
    assert not TF_LOG_LINE.search(done.stderr), done.stderr
