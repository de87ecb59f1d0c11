"""The headless command line on real files."""

from __future__ import annotations

import json

import numpy as np

from napari_dicom_gpu.cli import main
from tests.dicom_files import data_file, reference


def test_info_lists_every_backend(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "nvimgcodec-gpu" in out and "nvimgcodec-cpu" in out and "pydicom" in out


def test_bench_json_reports_times_and_difference_to_pydicom(capsys):
    assert main(["bench", data_file("examples_ybr_color.dcm"), "--repeat", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["rows"]
    assert row["frames"] == 30 and row["pydicom_s"] > 0 and row["cpu_s"] > 0
    assert row["cpu_max_diff"] == 0


def test_bench_table_has_a_row_per_input(capsys):
    assert main(["bench", data_file("CT_small.dcm"), data_file("MR_small.dcm"), "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "CT_small.dcm" in out and "MR_small.dcm" in out and "pydicom ms" in out


def test_decode_saves_the_volume(tmp_path, capsys):
    target = tmp_path / "out.npy"
    assert main(["decode", data_file("CT_small.dcm"), "--backend", "cpu", "--save", str(target)]) == 0
    record = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert record["backend"] == "cpu" and record["frames"] == 1
    np.testing.assert_array_equal(np.load(target)[0], reference(data_file("CT_small.dcm")))


def test_decode_of_a_bad_file_is_one_clear_line(capsys):
    assert main(["decode", data_file("rtstruct.dcm")]) == 1
    assert "rtstruct.dcm" in capsys.readouterr().err
