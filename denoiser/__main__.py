"""``python -m denoiser``: the same command line as ``denoiser``."""

import sys

from denoiser.cli import main

if __name__ == "__main__":
    sys.exit(main())
