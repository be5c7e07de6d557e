"""Training, evaluation and export of the denoising models shipped with the app."""

import os

# OpenMP threads that spin while waiting collapse throughput as soon as another process
# shares the cores (seen here: 2.2 -> 0.3 steps/s); passive waiting keeps ~1.2 steps/s.
# It must be set before torch loads libgomp, hence here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
