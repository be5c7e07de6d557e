"""Draw the application icon: resources/icons/denoiser-studio.svg and a 256 px PNG.

The PNG comes from the same QPainter drawing the app falls back to
(denoiser.gui.icons.draw_icon); the SVG is rendered with QSvgGenerator from that drawing,
so both files always match. Run: python scripts/make_icon.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRect, QSize  # noqa: E402
from PySide6.QtGui import QGuiApplication, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgGenerator  # noqa: E402

from denoiser.gui.icons import ICON_DIR, ICON_NAME, draw_icon, render_icon  # noqa: E402


def main(out_dir: Path = ICON_DIR) -> int:
    QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{ICON_NAME}.png"
    if not render_icon(256).save(str(png)):
        print(f"could not write {png}", file=sys.stderr)
        return 1
    svg = out_dir / f"{ICON_NAME}.svg"
    gen = QSvgGenerator()
    gen.setFileName(str(svg))
    gen.setSize(QSize(256, 256))
    gen.setViewBox(QRect(0, 0, 256, 256))
    gen.setTitle("denoiser-studio")
    gen.setDescription("Application icon: noisy and clean halves split by a divider")
    p = QPainter(gen)
    draw_icon(p, 256.0)
    p.end()
    print(f"wrote {png} and {svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
