#!/usr/bin/env bash
# Make a compressed disk image holding the .app and a link to /Applications.
#   bash packaging/macos/make_dmg.sh "dist/Denoiser Studio.app" dist/denoiser-studio-X.Y.Z-macos-arm64.dmg
# build.py runs it on macOS after PyInstaller's BUNDLE step. Needs hdiutil (macOS only);
# not run in this repository's CI (no macOS runner), see packaging/README.md.
set -euo pipefail

app=${1:?usage: make_dmg.sh APP DMG}
dmg=${2:?usage: make_dmg.sh APP DMG}
[ -d "$app" ] || { echo "no such app bundle: $app" >&2; exit 1; }
command -v hdiutil >/dev/null || { echo "hdiutil not found: build the .dmg on macOS" >&2; exit 1; }

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
rm -f "$dmg"
hdiutil create -volname "Denoiser Studio" -srcfolder "$staging" -ov -format UDZO \
    -fs HFS+ "$dmg"
echo "wrote $dmg"
