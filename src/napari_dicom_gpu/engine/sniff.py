"""Decide cheaply whether a path is DICOM: at most 132 bytes of a file are read."""

from __future__ import annotations

import os
import struct
from pathlib import Path

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}
_VRS = {
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
}
#: groups a dataset without preamble plausibly starts with
_FIRST_GROUPS = {0x0002, 0x0008}


def looks_like_dicom_bytes(head: bytes) -> bool:
    """'DICM' at byte 128, or a first element that reads as a DICOM data element."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    for order in ("<", ">"):
        group, element = struct.unpack(f"{order}HH", head[:4])
        if group not in _FIRST_GROUPS or element > 0x0100:
            continue
        if head[4:6] in _VRS:
            return True  # explicit VR
        (length,) = struct.unpack(f"{order}I", head[4:8])
        if order == "<" and length < 0x10000 and element in (0x0000, 0x0001, 0x0005, 0x0008):
            return True  # implicit VR little endian: a short first element
    return False


def is_dicom_file(path: str | os.PathLike) -> bool:
    """Sniff a file's first 132 bytes. Never raises."""
    try:
        with open(path, "rb") as fh:
            return looks_like_dicom_bytes(fh.read(132))
    except OSError:
        return False


def is_dicomdir(path: str | os.PathLike) -> bool:
    return Path(path).name.upper() == "DICOMDIR"


def claims(path: str | os.PathLike) -> bool:
    """Whether the reader should take this path. Never raises."""
    try:
        p = Path(path)
        if p.is_dir():
            return folder_has_dicom(p)
        if p.suffix.lower() in DICOM_SUFFIXES or is_dicomdir(p):
            return True
        return p.is_file() and is_dicom_file(p)
    except Exception:
        return False


def folder_has_dicom(folder: Path, limit: int = 200) -> bool:
    """Whether a folder (searched breadth-first, ``limit`` files at most) holds DICOM."""
    seen = 0
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            if path.suffix.lower() in DICOM_SUFFIXES or is_dicomdir(path) or is_dicom_file(path):
                return True
            seen += 1
            if seen >= limit:
                return False
    return False
