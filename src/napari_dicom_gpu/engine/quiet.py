"""Keep C codecs' terminal chatter out of the user's terminal and put it where it helps.

OpenJPEG ("Marker handler function failed ..."), OpenCV ("[ WARN:0@0.4] ..."), nvImageCodec
("[ERROR] [opencv_jpeg_decoder] ...", nvTIFF load errors) and libjpeg ("Unsupported color
conversion request") write straight to file descriptors 1 and 2, past Python. While codecs run,
both descriptors point at a scratch file; afterwards each distinct line goes to the
``napari_dicom_gpu.codecs`` logger (DEBUG) and to the caller, who puts it in the decode record.

The redirection is process-wide, so nested and concurrent captures share one: the first to
enter redirects, the last to leave restores and collects.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("napari_dicom_gpu.codecs")
_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int] | None = None
_scratch = None
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: at most this many distinct lines are kept per capture
MAX_LINES = 50
#: lines that say nothing about the file being decoded: logged, never put in a record
#: (nvImageCodec reports its optional TIFF extension missing each time it loads)
NOT_ABOUT_THE_FILE = re.compile(r"nvtiff|nvTIFF", re.IGNORECASE)


def _enter() -> None:
    global _depth, _saved, _scratch
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
            if _scratch is None:
                _scratch = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the process
            _scratch.seek(0)
            _scratch.truncate()
            _saved = (os.dup(1), os.dup(2))
            os.dup2(_scratch.fileno(), 1)
            os.dup2(_scratch.fileno(), 2)
        except (OSError, ValueError, AttributeError):
            _saved = None  # no usable descriptors (embedded interpreter): leave output alone


def _leave() -> list[str]:
    global _depth, _saved
    with _lock:
        _depth -= 1
        if _depth > 0 or _saved is None:
            return []
        out, err = _saved
        _saved = None
        try:
            os.dup2(out, 1)
            os.dup2(err, 2)
        finally:
            os.close(out)
            os.close(err)
        _scratch.seek(0)
        text = _scratch.read().decode("utf-8", "replace")
    lines = []
    for line in text.splitlines():
        line = _ANSI.sub("", line).strip()
        if not line or line in lines:
            continue
        log.debug("%s", line)
        if not NOT_ABOUT_THE_FILE.search(line) and len(lines) < MAX_LINES:
            lines.append(line)
    return lines


@contextmanager
def captured() -> Iterator[list[str]]:
    """Capture fd 1 and 2 while the block runs; the yielded list holds the lines afterwards."""
    lines: list[str] = []
    _enter()
    try:
        yield lines
    finally:
        lines.extend(_leave())
