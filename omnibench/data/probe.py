"""Whether a video file can be opened, from its first bytes: no decoder, no torch.

Before a run trains, every video of its splits is probed (:mod:`omnibench.protocols.preflight`):
reading a few bytes tells a missing, unreadable, empty or foreign file from a video container
(MP4 / MOV, AVI, Matroska / WebM, MPEG, FLV, Ogg, ASF) in one system call each, where opening it
with a decoder would parse the whole header. A file whose first bytes name no known container is
left to the decoder (:func:`omnibench.data.video.open_video`).
"""

from __future__ import annotations

from pathlib import Path

HEADER_BYTES = 12
MISSING = "missing video file"
ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid")  # MP4 / MOV
SIGNATURES = (
    b"\x1a\x45\xdf\xa3",  # Matroska / WebM (EBML)
    b"\x00\x00\x01\xba",  # MPEG program stream
    b"\x00\x00\x01\xb3",  # MPEG video elementary stream
    b"FLV",
    b"OggS",
    b"\x30\x26\xb2\x75",  # ASF / WMV
)


def file_problem(path: Path) -> tuple[str | None, bytes]:
    """``(why path cannot be read as a file, its first bytes)``: missing, permission denied, a
    folder, an error of the filesystem, or empty; ``(None, head)`` when it reads."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEADER_BYTES)
    except FileNotFoundError:
        return MISSING, b""
    except PermissionError:
        return (
            "permission denied (the file or a folder above it is not readable by this user)",
            b"",
        )
    except IsADirectoryError:
        return "a folder, not a video file", b""
    except OSError as error:
        return f"cannot read ({error.strerror})", b""
    return ("empty (zero-byte) video file" if not head else None), head


def known_container(head: bytes) -> bool:
    """True when ``head`` starts a video container omnibench's decoder reads."""
    if head[4:8] in ISO_BOXES or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return True
    return head[:1] == b"\x47" or head.startswith(SIGNATURES)  # 0x47: MPEG transport stream
