"""The course site: executed lessons, the guides and the CLI pages as static HTML.

Built by `python -m tlhelpers site` (`make site`) from the executed copies a
course run leaves in `build/course/`; nothing is executed again. The pages
open from the file system with no network: the widget renderer and every
script are copied in.
"""
