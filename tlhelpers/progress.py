"""Progress bars that read right live and in an executed copy of a notebook.

Used by the feature pass (notebook 02 on), the probes (05) and downloads (00).
tqdm's notebook widget keeps only its first state in an executed copy
("0%| | 0/400", which reads as stuck); its text bar, written to stdout, is
redrawn in place by JupyterLab and a terminal and keeps its last state.
"""

from __future__ import annotations

import sys


def progress_bar(iterable=None, **options):
    """A tqdm text bar on stdout that stays, finished, where it was drawn."""
    from tqdm import tqdm

    options.setdefault("leave", True)
    return tqdm(iterable, file=sys.stdout, **options)
