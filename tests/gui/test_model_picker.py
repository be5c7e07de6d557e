"""The model details name Gaussian settings by sigma and named noise settings as they are."""

from __future__ import annotations

from denoiser.gui.model_picker import benchmark_lines


def test_benchmark_lines_put_sigma_only_before_noise_levels():
    lines = benchmark_lines({
        "CBSD68": {"25": {"psnr": 30.8, "ssim": 0.8764}, "bm3d": {"25": 31.0}},
        "CBSD68 camera noise": {"camera-low": {"psnr": 36.05}},
    })
    assert lines == ["CBSD68: σ 25: 30.80 dB, SSIM 0.876",
                     "CBSD68 camera noise: camera-low: 36.05 dB"]
