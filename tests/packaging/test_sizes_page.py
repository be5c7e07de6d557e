"""The size page writer (packaging/sizes.py), fed fake build-info dicts: no build needed.

Why: packaging/sizes.md is the only place the docs give bundle sizes, so a writer that drops
an artifact, miscomputes the budget margin or loses the command would silently mislead.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from packaging_modules import load

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
MiB = 1024 * 1024
MB = 1000 * 1000


sizes = load("denoiser_packaging_sizes", "sizes.py")


def fake_info() -> dict:
    return {
        "version": "9.9.9", "variant": "cpu", "platform": "linux",
        "bundle": "/tmp/dist/denoiser-studio", "models": ["a-int8.onnx", "b.onnx"],
        "artifacts": {"tar_gz": "/tmp/dist/denoiser-studio-9.9.9-linux-x86_64.tar.gz",
                      "deb": "/tmp/dist/denoiser-studio_9.9.9_amd64.deb"},
        "sizes": {"bundle_unpacked": 300 * MB, "tar_gz": 120 * MB, "deb": 110 * MB},
        "budget": {"bundle_unpacked": 400 * MB, "tar_gz": 150 * MB},
        "model_sizes": {"a-int8.onnx": 4 * MiB, "b.onnx": 16 * MiB},
        "top_entries": [["PySide6/Qt/lib", 60 * MB], ["onnxruntime/", 30 * MB]],
        "seconds": {"pyinstaller": 70.4, "total": 200.0},
        "command": "python packaging/build.py --deb-compression zstd --sizes-md x.md",
        "deb_compression": "zstd", "venv_reused": True,
        "machine": {"OS": "Debian GNU/Linux 12 (bookworm)", "PyInstaller": "6.22.3"},
        "warnings": [],
    }


def test_page_has_artifacts_budget_margin_models_and_provenance() -> None:
    page = sizes.sizes_markdown(fake_info())
    assert "python packaging/build.py --deb-compression zstd --sizes-md x.md" in page
    assert "| `.tar.gz`: `denoiser-studio-9.9.9-linux-x86_64.tar.gz` | 114.4 MiB (120.0 MB) " \
           "| 150 MB | 28.6 MiB (30.0 MB), 80% used |" in page
    assert "| bundle, unpacked: `denoiser-studio` | 286.1 MiB (300.0 MB) | 400 MB | " \
           "95.4 MiB (100.0 MB), 75% used |" in page
    assert "| `.deb` (zstd): `denoiser-studio_9.9.9_amd64.deb` | 104.9 MiB (110.0 MB) | — | — |" \
           in page
    # models biggest first, with their total
    assert page.index("`b.onnx`") < page.index("`a-int8.onnx`")
    assert "| all 2 | 20.0 MiB (21.0 MB), 7.0% of the unpacked bundle |" in page
    assert "| `PySide6/Qt/lib` | 57.2 MiB | 20.0% |" in page
    assert "| PyInstaller | 70 |" in page and "| total | 200 |" in page
    assert "- PyInstaller: 6.22.3" in page and "reused from an earlier build" in page
    assert "/tmp/dist" not in page, "artifact paths are machine-specific: names only"
    assert "## Warnings" not in page


def test_page_flags_a_budget_overrun_and_survives_missing_fields() -> None:
    info = fake_info()
    info["sizes"]["tar_gz"] = 151 * MB
    info["warnings"] = ["size budget exceeded"]
    page = sizes.sizes_markdown(info)
    assert "**over by 1.0 MiB (1.0 MB)**" in page
    assert "- size budget exceeded" in page
    bare = sizes.sizes_markdown({"version": "1", "sizes": {"bundle_unpacked": MiB}})
    assert "(not recorded)" in bare and "bundle, unpacked" in bare


def test_cli_writes_the_page_and_names_how(tmp_path: Path) -> None:
    info_file, out = tmp_path / "build-info.json", tmp_path / "docs" / "sizes.md"
    info_file.write_text(json.dumps(fake_info()))
    assert sizes.main([str(info_file), str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Bundle sizes")
    assert f"python packaging/sizes.py {info_file} {out}" in text


def test_build_info_from_build_py_has_what_the_page_reads() -> None:
    build = load("denoiser_packaging_build_for_sizes", "build.py")
    info = build.BuildInfo(version="1", variant="cpu", platform="linux",
                           sizes={"bundle_unpacked": 2 * MiB}, model_sizes={"m.onnx": MiB},
                           budget={"bundle_unpacked": build.BUDGET_UNPACKED},
                           command="python packaging/build.py", machine=build.host_facts())
    page = sizes.sizes_markdown(json.loads(json.dumps(asdict(info))))
    assert "python packaging/build.py" in page and "`m.onnx`" in page
    assert "400 MB" in page and "- CPUs: " in page
    opts = build.parse_args(["--sizes-md", "x.md", "--deb-compression", "zstd"])
    assert opts.command == "python packaging/build.py --sizes-md x.md --deb-compression zstd"
    assert opts.sizes_md == Path("x.md").resolve()
