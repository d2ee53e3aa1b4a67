"""`python -m tlhelpers.bench`, the same as `python -m tlhelpers bench`."""

from . import main

if __name__ == "__main__":
    raise SystemExit(main())
