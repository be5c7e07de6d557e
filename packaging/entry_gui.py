"""Frozen entry point of the bundled ``denoiser-gui`` app (same as the pip gui-script).

A file of its own because PyInstaller needs a script, not a ``module:function`` string.
"""

import sys

from denoiser.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
