"""Whether a video's container opens, from its first bytes and its top-level structure: no
decoder, no torch.

Before a run trains, every video of its splits is probed (:mod:`omnibench.protocols.preflight`).
A few small reads tell a missing, unreadable or empty file, and a container a decoder would
refuse to open: an MP4 / MOV whose ``moov`` header is missing or cut off (a truncated copy), an AVI
shorter than its RIFF header says or without its ``hdrl`` and ``movi`` lists. Matroska / WebM,
MPEG, FLV, Ogg and ASF are known from their first bytes. Anything in doubt (no known container, a
structure that looks cut) is left to the decoder (:func:`omnibench.data.video.open_video`), which
decides: a doubt never makes a video unreadable by itself.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from omnibench.data.readable import EMPTY, unreadable_reason

HEADER_BYTES = 12
MAX_BOXES = 64  # top-level boxes or chunks walked; a fragmented MP4 has its moov among the first
NO_CONTAINER = "no known video container"
ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid")  # MP4 / MOV
EBML = b"\x1a\x45\xdf\xa3"  # Matroska / WebM: the EBML header's id
SEGMENT, TRACKS, CLUSTER = 0x18538067, 0x1654AE6B, 0x1F43B675  # Matroska element ids
SIGNATURES = (
    b"\x00\x00\x01\xba",  # MPEG program stream
    b"\x00\x00\x01\xb3",  # MPEG video elementary stream
    b"FLV",
    b"OggS",
    b"\x30\x26\xb2\x75",  # ASF / WMV
)
Chunk = tuple[bytes, int, int]  # (type, first byte, end), end past the file's end when cut


def video_problem(path: Path) -> tuple[str | None, str | None]:
    """``(why path cannot be read, why its container may not open)``: the first is certain
    (missing, permission denied, a folder, an error of the filesystem, empty); the second is for
    the decoder to confirm. ``(None, None)``: a whole container of a known kind."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEADER_BYTES)
            if not head:
                return EMPTY, None
            return None, container_doubt(handle, head, os.fstat(handle.fileno()).st_size)
    except OSError as error:
        return unreadable_reason(error), None


def container_doubt(handle: BinaryIO, head: bytes, size: int) -> str | None:
    """Why the container that starts with ``head`` may not open (None: it is whole)."""
    if head[4:8] in ISO_BOXES:
        return _iso_doubt(handle, size)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return _avi_doubt(handle, size)
    if head.startswith(EBML):
        return _matroska_doubt(handle, size)
    if head[:1] == b"\x47" or head.startswith(SIGNATURES):  # 0x47: MPEG transport stream
        return None
    return NO_CONTAINER


def _cut(kind: str, chunk: Chunk, size: int) -> str:
    name = chunk[0].decode("latin-1")
    return (
        f"truncated {kind}: its '{name}' at byte {chunk[1]} ends at byte {chunk[2]}, past the end "
        f"of the file ({size} bytes)"
    )


def _iso_boxes(handle: BinaryIO, size: int) -> Iterator[Chunk]:
    """The top-level boxes of an MP4 / MOV (ISO/IEC 14496-12 §4.2: 32-bit size, type; size 1: a
    64-bit size follows; size 0: to the end of the file)."""
    offset = 0
    for _ in range(MAX_BOXES):
        if offset >= size:
            return
        handle.seek(offset)
        header = handle.read(16)
        if len(header) < 8:
            yield b"box header", offset, offset + 8
            return
        length, kind = struct.unpack(">I4s", header[:8])
        if length == 1:
            length = struct.unpack(">Q", header[8:16])[0] if len(header) == 16 else 16
        length = size - offset if length == 0 else length
        yield kind, offset, offset + max(length, 8)
        offset += max(length, 8)


def _iso_doubt(handle: BinaryIO, size: int) -> str | None:
    """A whole ``moov`` box, and no box cut by the end of the file."""
    moov = False
    for chunk in _iso_boxes(handle, size):
        if chunk[2] > size:
            return _cut("MP4/MOV", chunk, size)
        moov = moov or chunk[0] == b"moov"
    return None if moov else f"no 'moov' header in its {size} bytes (truncated or not an MP4/MOV)"


def _riff_chunks(handle: BinaryIO, start: int, stop: int) -> Iterator[Chunk]:
    """The chunks of a RIFF file between ``start`` and ``stop`` (four-character code, 32-bit
    little-endian size, data padded to an even length); a ``LIST``'s type is its name."""
    offset = start
    for _ in range(MAX_BOXES):
        if offset + 8 > stop:
            return
        handle.seek(offset)
        header = handle.read(12)
        if len(header) < 8:
            return
        kind, length = struct.unpack("<4sI", header[:8])
        name = header[8:12] if kind in (b"LIST", b"RIFF") else kind
        yield name, offset, offset + 8 + length + (length & 1)
        offset += 8 + length + (length & 1)


def _avi_doubt(handle: BinaryIO, size: int) -> str | None:
    """The RIFF files the AVI is made of (``AVI `` then OpenDML ``AVIX``) whole; the first with
    its ``hdrl`` header and ``movi`` data lists."""
    first = None
    for chunk in _riff_chunks(handle, 0, size):
        if chunk[2] > size + 1:  # a writer may leave out the last pad byte
            return _cut("AVI", chunk, size)
        first = first or chunk
    lists = {chunk[0] for chunk in _riff_chunks(handle, 12, first[2])} if first else set()
    missing = [name for name in ("hdrl", "movi") if name.encode() not in lists]
    return f"an AVI without its {' and '.join(missing)} list" if missing else None


def _vint(data: bytes, at: int, marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``at``: (value, length in bytes); ``marker``: keep the
    length marker bit (element ids do); None where ``data`` ends first."""
    if at >= len(data) or data[at] == 0:
        return None
    length = 9 - data[at].bit_length()
    if at + length > len(data):
        return None
    value = int.from_bytes(data[at : at + length], "big")
    return (value if marker else value & ((1 << 7 * length) - 1)), length


Element = tuple[int, int, int, int]  # EBML: (id, first byte, first data byte, end)


def _ebml_elements(handle: BinaryIO, start: int, size: int) -> Iterator[Element]:
    """The EBML elements from ``start`` on, one level (RFC 8794 §4-6); an element of unknown size
    (a live stream's) has end -1 and ends the walk."""
    offset = start
    for _ in range(MAX_BOXES):
        if offset >= size:
            return
        handle.seek(offset)
        header = handle.read(12)
        element = _vint(header, 0, marker=True)
        length = _vint(header, element[1], marker=False) if element else None
        if element is None or length is None:
            return
        data = offset + element[1] + length[1]
        if length[0] == (1 << 7 * length[1]) - 1:
            yield element[0], offset, data, -1
            return
        yield element[0], offset, data, data + length[0]
        offset = data + length[0]


def _matroska_doubt(handle: BinaryIO, size: int) -> str | None:
    """A Matroska / WebM segment not cut by the end of the file, with its ``Tracks`` header whole
    before the first cluster (what a demuxer reads on opening)."""
    segment = next((e for e in _ebml_elements(handle, 0, size) if e[0] == SEGMENT), None)
    if segment is None:
        return f"no Matroska segment in its {size} bytes (truncated or not a Matroska/WebM)"
    if segment[3] > size:
        return _cut("Matroska/WebM", (b"Segment", segment[1], segment[3]), size)
    for element, _, _, end in _ebml_elements(handle, segment[2], size):
        if element == CLUSTER:
            break
        if element == TRACKS:
            return None if 0 <= end <= size else "truncated Matroska/WebM: its Tracks header is cut"
    return "a Matroska/WebM without a whole Tracks header before its first cluster"
