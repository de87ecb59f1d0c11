"""Codec chatter stays out of the user's terminal and lands in the decode record."""

from __future__ import annotations

import os

from napari_dicom_gpu.engine import decode, quiet


def test_output_written_to_the_descriptors_is_captured_not_shown(capfd):
    with quiet.captured() as lines:
        os.write(2, b"Marker handler function failed to read the marker segment\n")
        os.write(1, b"[ WARN:0@0.4] global grfmt_jpeg2000_openjpeg.cpp:617 readData\n")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert lines == [
        "Marker handler function failed to read the marker segment",
        "[ WARN:0@0.4] global grfmt_jpeg2000_openjpeg.cpp:617 readData",
    ]


def test_nested_captures_share_one_redirection(capfd):
    with quiet.captured() as outer:
        with quiet.captured() as inner:
            os.write(2, b"inner line\n")
        os.write(2, b"outer line\n")
    assert capfd.readouterr().err == ""
    assert inner == [] and outer == ["inner line", "outer line"]


def test_a_decode_whose_codec_complains_keeps_the_terminal_clean(tmp_path, capfd):
    from tests.engine.test_hostile import _damage_frame

    result = decode(_damage_frame(tmp_path, "examples_ybr_color.dcm", 2), "cpu")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert any("Corrupt JPEG data" in line for line in result.record.messages)
    assert not any("nvtiff" in line.lower() for line in result.record.messages)
