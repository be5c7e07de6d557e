"""Text metadata: PNG text chunks, or ``key: value`` lines in an XMP dc:description."""

from __future__ import annotations

import logging
import re
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from PIL import Image

log = logging.getLogger(__package__)


def _source_text(im: Image.Image, fmt: str) -> dict[str, str]:
    """PNG text chunks, or the ``key: value`` lines of an XMP dc:description."""
    if fmt == "PNG":
        chunks = getattr(im, "text", {})
        return {
            str(k): str(v)
            for k, v in chunks.items()
            if k != "XML:com.adobe.xmp" and not str(k).startswith("Raw profile type")
        }
    xmp = im.info.get("xmp")
    if isinstance(xmp, tuple) and xmp:  # TIFF keeps BYTE tags as tuples of one bytes value
        xmp = xmp[0]
    return _parse_text_lines(_xmp_description(xmp)) if isinstance(xmp, bytes) else {}


_TEXT_LINE = re.compile(r"^([^:\n]{1,79}): (.*)$")


def _text_lines(text: dict[str, str]) -> str:
    """``key: value`` lines, the one free-text form every non-PNG format here shares."""
    return "\n".join(f"{k}: {v}" for k, v in text.items())


def _parse_text_lines(description: str | None) -> dict[str, str]:
    """Inverse of :func:`_text_lines`; other descriptions come back under "Description"."""
    if not description:
        return {}
    matches = [_TEXT_LINE.match(line) for line in description.split("\n")]
    if all(matches):
        return {m.group(1): m.group(2) for m in matches if m}
    return {"Description": description}


_XMP_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def _xmp_description(xmp: bytes) -> str | None:
    """dc:description (x-default or first) from an XMP packet; None if absent or unreadable."""
    try:
        root = ElementTree.fromstring(xmp.strip(b"\x00 \r\n\t"))
    except ElementTree.ParseError as exc:
        log.debug("Ignoring unreadable XMP: %s", exc)
        return None
    items = root.findall(".//dc:description/rdf:Alt/rdf:li", _XMP_NS)
    for item in items:
        if item.get("{http://www.w3.org/XML/1998/namespace}lang") == "x-default":
            return item.text or ""
    return (items[0].text or "") if items else None


def _xmp_packet(description: str) -> bytes:
    """A minimal XMP packet holding ``description`` as dc:description (x-default)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF xmlns:rdf="{_XMP_NS["rdf"]}">'
        f'<rdf:Description rdf:about="" xmlns:dc="{_XMP_NS["dc"]}">'
        '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">'
        f"{escape(description)}"
        "</rdf:li></rdf:Alt></dc:description>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def _check_text(text: dict[str, str]) -> None:
    """Keys must suit PNG (1-79 Latin-1 characters, no colon/newline for the line form)."""
    for key, value in text.items():
        ok = isinstance(key, str) and 0 < len(key) < 80 and not set(key) & {":", "\n", "\0"}
        if ok:
            try:
                key.encode("latin-1")
            except UnicodeEncodeError:
                ok = False
        if not ok:
            raise ValueError(f"Unusable metadata key {key!r}: use 1-79 Latin-1 characters.")
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"Metadata value for {key!r} must be a string without NUL.")
