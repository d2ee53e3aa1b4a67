"""`python -m tlhelpers ...`: see `tlhelpers.cli`."""

import sys

from .cli import main

sys.exit(main())
