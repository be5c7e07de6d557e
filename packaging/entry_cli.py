"""Frozen entry point of the bundled ``denoiser`` command (same as the pip entry point).

A file of its own because PyInstaller needs a script, not a ``module:function`` string.
Its name must not be ``denoiser.py``: that would shadow the package inside the bundle.
"""

import sys

from denoiser.cli import main

if __name__ == "__main__":
    sys.exit(main())
