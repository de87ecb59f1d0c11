"""Codestream facts read before decoding: the end marker that says a frame is whole."""

from __future__ import annotations

from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, JPEGLSLossless, RLELossless

from napari_dicom_gpu.engine.codestream import END_MARKER_WINDOW, lacks_end_marker

WHOLE = b"\xff\xd8" + bytes(range(255)) * 8 + b"\xff\xd9"


def test_a_whole_frame_has_its_end_marker():
    for tsyntax in (JPEGBaseline8Bit, JPEGLSLossless, JPEG2000Lossless):
        assert not lacks_end_marker(WHOLE, tsyntax)


def test_padding_and_appended_bytes_after_the_end_marker_are_allowed():
    assert not lacks_end_marker(WHOLE + b"\x00", JPEGBaseline8Bit)
    assert not lacks_end_marker(WHOLE + b"\x01" * (END_MARKER_WINDOW - 8), JPEGBaseline8Bit)


def test_a_frame_cut_short_lacks_its_end_marker():
    assert lacks_end_marker(WHOLE[: len(WHOLE) // 2], JPEGBaseline8Bit)
    assert lacks_end_marker(WHOLE[:-2] + b"\x00\x00", JPEG2000Lossless)


def test_syntaxes_without_end_markers_are_never_judged():
    assert not lacks_end_marker(b"\x00" * 64, RLELossless)
