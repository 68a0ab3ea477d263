"""Just enough PDF text extraction to read back what fpdf2 writes (Type0 fonts, Identity-H
encoding, a ToUnicode ``bfchar`` map per font), so the tests need no PDF library."""

from __future__ import annotations

import re
import zlib

_OBJ = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.DOTALL)
_STREAM = re.compile(rb"/Length (\d+).*?stream\r?\n", re.DOTALL)
_SHOW = re.compile(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", re.DOTALL)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _stream(body: bytes) -> bytes:
    # Slice by /Length: compressed bytes may end in "\r", which a "\r?\nendstream" pattern would eat.
    m = _STREAM.search(body)
    raw = body[m.end() : m.end() + int(m[1])]
    return zlib.decompress(raw) if b"/FlateDecode" in body else raw


def _unescape(s: bytes) -> bytes:
    return re.sub(
        rb"\\([0-7]{1,3}|.)",
        lambda m: bytes([int(m[1], 8)]) if m[1][:1].isdigit() else _ESCAPES.get(m[1], m[1]),
        s,
        flags=re.DOTALL,
    )


def pdf_text(data: bytes) -> list[str]:
    """Every string the PDF draws, in drawing order (one per line of text)."""
    objs = {int(m[1]): m[2] for m in _OBJ.finditer(data)}
    cmaps: dict[bytes, dict[int, str]] = {}
    for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", data):
        to_unicode = objs[int(re.search(rb"/ToUnicode (\d+) 0 R", objs[int(ref)])[1])]
        cmaps[name] = {
            int(src, 16): bytes.fromhex(dst.decode()).decode("utf-16-be")
            for src, dst in re.findall(rb"<([0-9A-F]{4})> <([0-9A-F]+)>", _stream(to_unicode))
        }
    lines, font = [], b""
    for body in objs.values():
        if b"stream" not in body or b"/Subtype" in body or b"/Length1" in body:  # images, font files
            continue
        for m in _SHOW.finditer(_stream(body)):
            if m[1]:
                font = m[1]
                continue
            raw = _unescape(m[2])
            lines.append(
                "".join(cmaps[font].get(int.from_bytes(raw[i : i + 2], "big"), "\ufffd") for i in range(0, len(raw), 2))
            )
    return lines
