"""TensorFlow's C++ start-up lines, kept out of every notebook's Setup cell.

Taught in `00_setup_and_data.ipynb` (the Setup cell shows one line) and the
Troubleshooting page (docs/troubleshooting.md) (`TLH_TF_LOGS=1` brings the lines back).

`import tensorflow` writes absl's "before absl::InitializeLog()" warning and
I-lines (oneDNN, cudart_stub) straight to file descriptor 2, and the first
device listing writes a red `E0000 ... failed call to cuInit` on a machine
without a GPU. `TF_CPP_MIN_LOG_LEVEL` does not reach the first three (they
are written before TensorFlow reads it) and hides the cuInit line only at 3,
which hides every real error too (checked with TF 2.21). So, besides the
variable, fd 2 goes to a scratch file during exactly those two moments, and
is replayed if they fail. Nothing imports TensorFlow here.

Keras' two reminders about tf.data datasets (`hide_keras_reminders`) are
kept out too, since every training would repeat them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
import warnings

LOGS_ENV = "TLH_TF_LOGS"
LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
# 2 hides TensorFlow's later I- and W-lines (e.g. tf.data's "End of sequence"
# after every epoch); E-lines, real errors, still show.
QUIET_LEVEL = "2"


def logs_wanted() -> bool:
    """True when `TLH_TF_LOGS` asks for TensorFlow's own start-up logs."""
    return os.environ.get(LOGS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@contextlib.contextmanager
def silenced():
    """Send fd 2 to a scratch file for the block; replay it if the block raises.

    File descriptor 2 rather than `sys.stderr`: the lines come from C++, and
    ipykernel forwards what is written there into the notebook.
    """
    if logs_wanted():
        yield
        return
    for stream in (sys.stderr, sys.__stderr__):
        with contextlib.suppress(Exception):  # a closed or odd stream
            stream.flush()
    saved = os.dup(2)
    scratch = tempfile.TemporaryFile()
    try:
        os.dup2(scratch.fileno(), 2)
        yield
    except BaseException:
        # The lines may say why (a missing library, an unsupported CPU).
        os.dup2(saved, 2)
        scratch.seek(0)
        os.write(2, scratch.read())
        raise
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        scratch.close()


class _QuietFirstImport:
    """A `sys.meta_path` finder that silences fd 2 while TensorFlow first loads.

    The Setup cells import TensorFlow themselves, after `tlhelpers`; a hook
    catches that import, or Keras', without importing TensorFlow early (the
    command line's quick commands never load it).
    """

    _finding = False  # True while asking the other finders

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or self._finding:
            return None
        self._finding = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._finding = False
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        plain = loader.exec_module

        def exec_quietly(module):
            # Only now, not in find_spec: a mere probe (find_spec without
            # importing) must not use up the hook.
            uninstall_import_hook()
            del loader.exec_module
            with silenced():
                plain(module)
                _list_devices(module)  # cuInit's line, silenced with the rest

        loader.exec_module = exec_quietly
        return spec


def uninstall_import_hook() -> None:
    """Take the import hook out of `sys.meta_path` (nothing when absent)."""
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if not isinstance(finder, _QuietFirstImport)]


def prepare() -> None:
    """Before TensorFlow is imported: the log level, and the hook on its import.

    Does nothing with `TLH_TF_LOGS=1`, or once TensorFlow is loaded; an
    explicit `TF_CPP_MIN_LOG_LEVEL` is kept.
    """
    if logs_wanted() or "tensorflow" in sys.modules:
        return
    os.environ.setdefault(LEVEL_ENV, QUIET_LEVEL)
    if not any(isinstance(f, _QuietFirstImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFirstImport())


_devices_listed = False


def _list_devices(tf) -> None:
    # TensorFlow logs cuInit's failure at the first listing of a process only.
    global _devices_listed
    tf.config.list_physical_devices()
    _devices_listed = True


def list_devices_quietly() -> None:
    """List devices once, silenced: the first listing logs cuInit's failure.

    The import hook (`prepare`) does it as TensorFlow loads, so every command,
    and a Setup cell that calls `tlh.setup()` first, is quiet; `tlh.setup()`
    calls this for a session whose TensorFlow was loaded before it.
    """
    if _devices_listed:
        return
    import tensorflow as tf

    if not _devices_listed:  # unless the import just listed them
        with silenced():
            _list_devices(tf)


def hide_keras_reminders() -> None:
    """Keras' reminders about the course's datasets, which every fit would repeat.

    Called by `tlh.setup()` and `python -m tlhelpers run`. Our datasets are
    shuffled in tf.data, so "`shuffle=True` was passed" says nothing; and
    Keras 3 says "Your input ran out of data" at the end of the first epoch
    over any dataset whose length TensorFlow cannot know in advance, which ours
    cannot, since they leave out files that broke after the scan.
    """
    warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed")
    warnings.filterwarnings("ignore", message=r"Your input ran out of data",
                            module=r"keras\.src\.trainers\.epoch_iterator")
