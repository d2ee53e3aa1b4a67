"""Drive a real JupyterLab in headless Chromium: server, notebook, widget panel.

The traps this works around are in `FIELD_NOTES.md` ("Real browser"): JupyterLab 4
virtualises the notebook (so `windowingMode` is set to `none`), and the execution
indicator is not a readiness signal (so we wait in the page for the kernel).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
# The registry entry shipped in data/: the lab needs no network and no path
# outside the repository (an outer TLH_DATASET still wins).
DEFAULT_DATASET = "flowers-small"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

# Settings a learner would never need but a cold, unattended run does.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    # A long run must never write outputs back into the repository's notebooks.
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {
        "autosave": False,
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

# The panel's DOM contract (see tlhelpers.widgets.fine_tuning_panel).
PANEL = ".tlh-fine-tuning-panel"
UNFREEZE = f"{PANEL} .tlh-unfreeze"
LAYER_TABLE = f"{PANEL} .tlh-layer-table"
LR = f"{PANEL} .tlh-lr"
EPOCHS = f"{PANEL} .tlh-epochs"
# add_class on a Button puts the class on the <button> itself; a wrapping box
# would put it one level up. Accept both.
TRAIN = f"{PANEL} button.tlh-train, {PANEL} .tlh-train button"
PLOT = f"{PANEL} .tlh-plot"
RUNLOG_ROWS = f"{PANEL} .tlh-runlog tbody tr"
# The panel reports a failed run in a message box rather than a traceback.
ERROR_MESSAGE = f"{PANEL} .tlh-message-error"

# "non-trainable parameters: N" must not match, hence the look-behind.
TRAINABLE_PATTERN = (
    r"(?<![\w-])trainable parameters\W*(\d{1,3}(?:[,\u00a0\u202f _]\d{3})+|\d+)"
)
TRAINABLE_RE = re.compile(TRAINABLE_PATTERN, re.IGNORECASE)


def chromium_path() -> str:
    """Return the Chromium binary to drive (`TLH_CHROMIUM` overrides Debian's)."""
    return os.environ.get("TLH_CHROMIUM", "/usr/bin/chromium")


def browser_missing_reason() -> str | None:
    """Return why the browser test cannot run here, or None when it can."""
    exe = chromium_path()
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        return f"{exe} not found (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed (pip install -e '.[browser]')"
    return None


def launch_chromium(playwright):
    """Launch the system Chromium headless (never a downloaded one)."""
    return playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab: its process, address, token and log file."""

    proc: subprocess.Popen
    port: int
    token: str
    log_path: Path
    workdir: Path
    root: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, notebook: str) -> str:
        """URL opening `notebook` (relative to the repo) in a fresh workspace."""
        workspace = "tlh-" + secrets.token_hex(6)
        path = urllib.parse.quote(notebook)
        return (
            f"{self.base_url}/lab/workspaces/{workspace}/tree/{path}"
            f"?reset&token={self.token}"
        )

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(lines[-n:])


def lab_env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the server and its kernels: fresh Jupyter dirs, quick profile."""
    env = dict(os.environ)
    # An outer MPLBACKEND (e.g. Agg) would stop the inline backend drawing figures.
    env.pop("MPLBACKEND", None)
    for name, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        # Only the per-user data dir moves; the venv's share/jupyter (with the
        # widgets labextension and the python3 kernel) stays on the path.
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("IPYTHONDIR", "ipython"),
        ("TLH_HOME", "tlh_home"),
    ]:
        env[name] = str(workdir / sub)
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    env["TLH_PROFILE"] = "quick"
    env["TLH_DATASET"] = os.environ.get("TLH_DATASET", DEFAULT_DATASET)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def write_lab_settings(settings_dir: Path) -> None:
    for rel, values in LAB_SETTINGS.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))


def start_lab(
    workdir: Path,
    root: Path = REPO_ROOT,
    env_extra: dict[str, str] | None = None,
    timeout: float = 90.0,
) -> LabServer:
    """Start JupyterLab on 127.0.0.1 with a random port and token; wait for it."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = lab_env(workdir, env_extra)
    write_lab_settings(Path(env["JUPYTERLAB_SETTINGS_DIR"]))
    port = free_port()
    token = secrets.token_hex(24)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={env['JUPYTERLAB_SETTINGS_DIR']}",
        f"--LabApp.workspaces_dir={env['JUPYTERLAB_WORKSPACES_DIR']}",
        # An absolute path keeps .ipynb_checkpoints out of the repository.
        f"--FileCheckpoints.checkpoint_dir={workdir / 'checkpoints'}",
    ]
    log_path = workdir / "jupyterlab.log"
    log = open(log_path, "wb")
    try:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    finally:
        log.close()  # the child holds its own descriptor
    server = LabServer(proc, port, token, log_path, workdir, Path(root))
    try:
        wait_for_status(server, timeout)
    except BaseException:
        stop_lab(server)
        raise
    return server


def wait_for_status(server: LabServer, timeout: float) -> None:
    """Poll `/api/status` with the token until the server answers."""
    url = f"{server.base_url}/api/status"
    request = urllib.request.Request(
        url, headers={"Authorization": f"token {server.token}"}
    )
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {server.proc.returncode}:\n"
                + server.log_tail()
            )
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                if resp.status == 200:
                    json.load(resp)
                    return
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = repr(exc)
        time.sleep(0.25)
    raise TimeoutError(
        f"JupyterLab did not answer {url} within {timeout:.0f} s ({last}):\n"
        + server.log_tail()
    )


def stop_lab(server: LabServer, grace: float = 15.0) -> None:
    """Stop the server's process group, then any kernel it left, by process id."""
    pid = server.proc.pid
    try:
        # Kernels run in their own sessions, so the group kill does not reach them.
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        children = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        try:
            server.proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait(timeout=grace)
    alive = [p for p in children if p.is_running()]
    for proc in alive:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(alive, timeout=5)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass


# ---------------------------------------------------------------- in the page

_NOTEBOOK_STATE_JS = """
(path) => {
  const app = window.jupyterapp;
  if (!app) return {stage: 'no jupyterapp yet'};
  const w = app.shell.currentWidget;
  if (!w || !w.content || !w.sessionContext || !w.context)
    return {stage: 'no notebook widget yet'};
  if (w.context.path !== path)
    return {stage: 'current widget is ' + w.context.path};
  const sc = w.sessionContext;
  const k = sc.session ? sc.session.kernel : null;
  return {
    stage: 'notebook',
    contextReady: w.context.isReady,
    sessionReady: sc.isReady,
    connection: k ? k.connectionStatus : null,
    status: k ? k.status : null,
    cells: w.content.widgets.length,
  };
}
"""


def _is_idle(state: dict) -> bool:
    return (
        state.get("stage") == "notebook"
        and state.get("contextReady")
        and state.get("sessionReady")
        and state.get("connection") == "connected"
        and state.get("status") == "idle"
        and state.get("cells", 0) > 0
    )


def wait_kernel_idle(page, notebook: str, timeout: float = 120.0) -> dict:
    """Wait until the notebook's kernel is ready, connected and idle (twice in a row).

    Accepts the kernel-selection dialog if JupyterLab shows one.
    """
    deadline = time.monotonic() + timeout
    idle_seen = 0
    state: dict = {}
    dialog_accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    while time.monotonic() < deadline:
        if dialog_accept.count():
            try:
                dialog_accept.first.click(timeout=2000)
            except Exception:  # the dialog may close on its own meanwhile
                pass
        state = page.evaluate(_NOTEBOOK_STATE_JS, notebook)
        idle_seen = idle_seen + 1 if _is_idle(state) else 0
        if idle_seen >= 2:
            return state
        time.sleep(0.25)
    raise TimeoutError(f"kernel not ready and idle after {timeout:.0f} s: {state}")


_FIND_CELL_JS = """
([heading, contains]) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const cells = nb.widgets;
  const norm = (s) => s.replace(/\\s+/g, ' ').trim().toLowerCase();
  const want = norm(heading);
  for (let i = 0; i < cells.length; i++) {
    const m = cells[i].model;
    if (m.type !== 'markdown') continue;
    const lines = m.sharedModel.getSource().split('\\n');
    const hit = lines.some(
      (l) => /^#+\\s/.test(l) && norm(l.replace(/^#+\\s*/, '')).startsWith(want));
    if (!hit) continue;
    for (let j = i + 1; j < cells.length; j++) {
      const m2 = cells[j].model;
      if (m2.type !== 'code') continue;
      if (!contains || m2.sharedModel.getSource().includes(contains))
        return {heading: i, cell: j};
    }
    return {heading: i, cell: -1};
  }
  return {heading: -1, cell: -1};
}
"""

_RUN_THROUGH_JS = """
(idx) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  window.__tlhRun = {done: false};
  const run = async () => {
    let above = true;
    if (idx > 0) {
      nb.activeCellIndex = idx;
      above = await app.commands.execute('notebook:run-all-above');
      // the panel cell would run on a half-built state: stop here
      if (!above) return {above, cell: false};
    }
    nb.activeCellIndex = idx;
    nb.deselectAll();
    const cell = await app.commands.execute('notebook:run-cell');
    return {above, cell};
  };
  run().then(
    (result) => { window.__tlhRun = {done: true, result}; },
    (err) => { window.__tlhRun = {done: true, error: String(err)}; });
}
"""

_CELL_REPORT_JS = """
() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  return nb.widgets.map((c, i) => {
    const m = c.model;
    if (m.type !== 'code') return {index: i, type: m.type};
    const outs = m.outputs.toJSON();
    return {
      index: i, type: 'code', count: m.executionCount,
      errors: outs.filter((o) => o.output_type === 'error')
                  .map((o) => o.ename + ': ' + o.evalue),
    };
  });
}
"""


def find_panel_cell(page, heading: str, contains: str | None = None) -> int:
    """Index of the first code cell after the markdown heading that starts with
    `heading` (and whose source contains `contains`, when given)."""
    found = page.evaluate(_FIND_CELL_JS, [heading, contains])
    if found["heading"] < 0:
        raise AssertionError(f"no markdown heading {heading!r} in the notebook")
    if found["cell"] < 0:
        raise AssertionError(
            f"no code cell after the heading {heading!r}"
            + (f" containing {contains!r}" if contains else "")
        )
    return found["cell"]


def run_through(page, notebook: str, index: int, timeout: float) -> list[dict]:
    """Run every cell up to and including `index`; fail on any error output."""
    page.evaluate(_RUN_THROUGH_JS, index)
    page.wait_for_function(
        "() => window.__tlhRun && window.__tlhRun.done", timeout=timeout * 1000,
        polling=500,
    )
    outcome = page.evaluate("() => window.__tlhRun")
    wait_kernel_idle(page, notebook, timeout=60)
    report = page.evaluate(_CELL_REPORT_JS)
    errors = [f"cell {c['index']}: {e}" for c in report for e in c.get("errors", [])]
    flags = outcome.get("result") or {}
    if "error" in outcome or errors or not (flags.get("above") and flags.get("cell")):
        raise AssertionError(
            f"running cells 0..{index} failed: {outcome} " + "; ".join(errors)
        )
    not_run = [c["index"] for c in report[: index + 1]
               if c["type"] == "code" and c["count"] is None]
    ran_past = [c["index"] for c in report[index + 1:]
                if c["type"] == "code" and c["count"] is not None]
    if not_run or ran_past:
        raise AssertionError(
            f"cells not run: {not_run}; cells past the panel that ran: {ran_past}"
        )
    return report


# ------------------------------------------------------------ the panel itself


def trainable_count(text: str) -> int:
    """Parse "trainable parameters: 1,234" out of the layer table's text."""
    match = TRAINABLE_RE.search(text)
    if not match:
        raise AssertionError(f"no 'trainable parameters: N' in {text[:300]!r}")
    return int(re.sub(r"\D", "", match.group(1)))


# The same pattern, run in the page, so waits can watch the number itself.
_COUNT_JS = """
([sel, pattern, old]) => {
  const e = document.querySelector(sel);
  if (!e) return false;
  const m = new RegExp(pattern, 'i').exec(e.innerText);
  if (!m) return false;
  const n = Number(m[1].replace(/\\D/g, ''));
  // an object, because a count of 0 would read as 'not yet'
  return n !== old ? {n} : false;
}
"""


def wait_count_change(page, old: int | None, timeout: float) -> int:
    """Wait until the layer table shows a trainable count other than `old`."""
    handle = page.wait_for_function(
        _COUNT_JS, arg=[LAYER_TABLE, TRAINABLE_PATTERN, old],
        timeout=timeout * 1000, polling=250,
    )
    return int(handle.json_value()["n"])


def slider_state(page, selector: str) -> dict:
    """aria values of a noUiSlider handle and the widget's readout text."""
    handle = page.locator(f"{selector} .noUi-handle").first
    readout = page.locator(f"{selector} .widget-readout").first
    return {
        "now": handle.get_attribute("aria-valuenow"),
        "min": handle.get_attribute("aria-valuemin"),
        "max": handle.get_attribute("aria-valuemax"),
        "readout": readout.inner_text() if readout.count() else "",
    }


def slider_key(state: dict) -> str:
    """Arrow key that moves the slider towards whichever end has room."""
    try:
        if float(state["now"]) >= float(state["max"]):
            return "ArrowLeft"
    except (TypeError, ValueError):
        pass
    return "ArrowRight"


def press_slider(page, selector: str, key: str, presses: int) -> dict:
    """Focus a slider handle, press `key` `presses` times; return the new state."""
    handle = page.locator(f"{selector} .noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(presses):
        handle.press(key)
        page.wait_for_timeout(150)
    return slider_state(page, selector)


@dataclass
class PanelRun:
    """What the browser saw while exercising one fine-tuning panel."""

    notebook: str
    trainable_before: int = 0
    trainable_after: int = 0
    unfreeze_before: str = ""
    unfreeze_after: str = ""
    lr_before: str = ""
    lr_after: str = ""
    runs_before: int = 0
    runs_after: int = 0
    screenshots: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        times = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        return (
            f"{self.notebook}: trainable {self.trainable_before} -> "
            f"{self.trainable_after}, unfreeze {self.unfreeze_before} -> "
            f"{self.unfreeze_after}, lr {self.lr_before} -> {self.lr_after}, "
            f"runs {self.runs_before} -> {self.runs_after}; {times}"
        )


def stored_outputs(path: Path) -> int:
    """Count code cells the file on disk holds with outputs or execution counts."""
    cells = json.loads(path.read_text())["cells"]
    return sum(
        1 for c in cells
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    )


def move_unfreeze(page, notebook: str, result: PanelRun, presses: int,
                  rounds: int = 3) -> None:
    """Move the unfreeze slider until the trainable count changes.

    Some stops add only weightless layers (pooling), so a few presses may leave
    the count where it was; press again, up to `rounds` times.
    """
    before = slider_state(page, UNFREEZE)
    result.unfreeze_before = before["readout"]
    table = page.locator(LAYER_TABLE).first
    result.trainable_before = trainable_count(table.inner_text())
    key = slider_key(before)
    state = before
    for _ in range(rounds):
        state = press_slider(page, UNFREEZE, key, presses)
        try:
            wait_count_change(page, result.trainable_before, timeout=20)
            break
        except Exception as exc:
            # Playwright's TimeoutError; playwright is imported lazily, so by name.
            if type(exc).__name__ != "TimeoutError":
                raise
    else:
        text = table.inner_text()
        raise AssertionError(
            f"trainable parameter count stayed {result.trainable_before} after "
            f"{rounds * presses} x {key} on the unfreeze slider "
            f"({before['readout']} -> {state['readout']}); table: {text[:300]!r}"
        )
    # Let the kernel catch up with every key press before reading the final table.
    wait_kernel_idle(page, notebook, timeout=120)
    result.unfreeze_after = slider_state(page, UNFREEZE)["readout"]
    result.trainable_after = trainable_count(table.inner_text())
    assert result.trainable_after != result.trainable_before, (
        f"trainable count back at {result.trainable_before} once the kernel was idle"
    )


def move_lr(page, result: PanelRun, presses: int, max_presses: int = 12) -> None:
    """Move the learning-rate slider until its readout shows a new value."""
    before = slider_state(page, LR)
    key = slider_key(before)
    state = press_slider(page, LR, key, presses)
    done = presses
    while state["readout"] == before["readout"] and done < max_presses:
        state = press_slider(page, LR, key, 1)
        done += 1
    result.lr_before, result.lr_after = before["readout"], state["readout"]
    assert state["readout"] != before["readout"], (
        f"learning-rate readout stayed {before['readout']!r} after {done} x {key}"
    )


def shoot_panel(page, panel, path: Path) -> Path:
    """Screenshot the whole panel: grow the window first so no part is cut off."""
    box = panel.bounding_box()
    size = page.viewport_size or {"width": 1400, "height": 1000}
    if box is not None:
        # room for JupyterLab's menu, toolbar and status bar around the panel
        height = min(4000, max(size["height"], int(box["height"]) + 300))
        if height != size["height"]:
            page.set_viewport_size({"width": size["width"], "height": height})
            page.wait_for_timeout(300)  # let JupyterLab lay out again
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=path)
    return path


def exercise_panel(
    page,
    server: LabServer,
    notebook: str,
    heading: str,
    shot_prefix: str,
    contains: str | None = None,
    run_timeout: float = 600.0,
    train_timeout: float = 240.0,
    unfreeze_presses: int = 4,
    lr_presses: int = 2,
) -> PanelRun:
    """Open `notebook`, run it through the panel cell under `heading`, drive the panel.

    The panel cell is the first code cell after the markdown heading starting with
    `heading` (and containing `contains`, when given); cells after it are not run.
    Checks: the panel renders; moving the unfreeze slider changes the trainable
    parameter count; the learning-rate slider moves; Train adds a run-log row and
    draws a new figure; the notebook on disk gains no outputs. Screenshots go to
    build/screenshots/<shot_prefix>_panel.png and <shot_prefix>_after_train.png.
    """
    result = PanelRun(notebook)
    outputs_on_disk = stored_outputs(server.root / notebook)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        result.seconds[name] = now - clock
        clock = now

    page.goto(server.notebook_url(notebook), wait_until="domcontentloaded")
    page.wait_for_function("() => !!window.jupyterapp", timeout=60_000)
    wait_kernel_idle(page, notebook)
    lap("open+kernel")

    index = find_panel_cell(page, heading, contains)
    run_through(page, notebook, index, run_timeout)
    lap("run cells")

    panel = page.locator(PANEL).first
    try:
        panel.wait_for(state="attached", timeout=60_000)
    except Exception as exc:
        raise AssertionError(
            f"no {PANEL} in the page after running cells 0..{index}"
        ) from exc
    panel.scroll_into_view_if_needed()
    panel.wait_for(state="visible", timeout=30_000)
    for sel in (UNFREEZE, LR, EPOCHS, TRAIN):
        page.locator(sel).first.wait_for(state="visible", timeout=30_000)
    for sel in (LAYER_TABLE, PLOT, f"{PANEL} .tlh-runlog"):
        page.locator(sel).first.wait_for(state="attached", timeout=30_000)
    wait_count_change(page, None, timeout=30)  # the table shows some count
    result.screenshots.append(
        shoot_panel(page, panel, SCREENSHOTS / f"{shot_prefix}_panel.png"))
    lap("panel shown")

    move_unfreeze(page, notebook, result, unfreeze_presses)
    move_lr(page, result, lr_presses)
    lap("sliders")

    result.runs_before = page.locator(RUNLOG_ROWS).count()
    old_imgs = page.eval_on_selector_all(
        f"{PLOT} img", "(els) => els.map((e) => e.src)"
    )
    page.locator(TRAIN).first.click()
    try:
        page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length > n",
            arg=[RUNLOG_ROWS, result.runs_before],
            timeout=train_timeout * 1000, polling=500,
        )
    except Exception as exc:
        text = panel.inner_text()[-1500:]
        raise AssertionError(
            f"no new run-log row {train_timeout:.0f} s after clicking Train; "
            f"panel text ends with:\n{text}"
        ) from exc
    result.runs_after = page.locator(RUNLOG_ROWS).count()
    try:
        page.wait_for_function(
            "([sel, old]) => Array.from(document.querySelectorAll(sel)).some("
            "(e) => e.complete && e.naturalWidth > 0 && !old.includes(e.src))",
            arg=[f"{PLOT} img", old_imgs], timeout=60_000,
        )
    except Exception as exc:
        raise AssertionError("Train added a run but drew no new figure") from exc
    lap("train")

    wait_kernel_idle(page, notebook, timeout=120)
    cell_text = page.locator(".jp-Cell", has=page.locator(PANEL)).first.inner_text()
    assert "Traceback (most recent call last)" not in cell_text, (
        f"the panel cell shows a traceback:\n{cell_text[-1500:]}"
    )
    errors = page.locator(ERROR_MESSAGE).all_inner_texts()
    assert not errors, f"the panel reports an error: {errors}"
    result.screenshots.append(
        shoot_panel(page, panel, SCREENSHOTS / f"{shot_prefix}_after_train.png"))
    assert stored_outputs(server.root / notebook) == outputs_on_disk, (
        f"{notebook} on disk gained outputs during the browser run (autosave?)"
    )
    return result


def save_failure_artifacts(page, name: str, console: list[str], server=None) -> None:
    """Screenshot the page and keep the browser console and server log tail."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=SCREENSHOTS / f"{name}_failure.png", full_page=True)
    except Exception:  # the page may be gone; the logs still help
        pass
    text = "\n".join(console)
    if server is not None:
        text += "\n\n--- server log ---\n" + server.log_tail(200)
    (SCREENSHOTS / f"{name}_failure.log").write_text(text)
