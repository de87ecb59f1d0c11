"""The engine's modality rescale (HU) equals pydicom's, in the smallest exact dtype."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from napari_dicom_gpu.engine import decode, decode_series
from napari_dicom_gpu.engine.values import apply_rescale, holding_int_dtype
from tests.dicom_files import data_file


def test_ct_series_values_are_hounsfield_units_in_int16():
    result = decode_series([data_file("CT_small.dcm")], "cpu", values=True)
    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    assert result.values_applied and result.pixels.dtype == np.int16
    np.testing.assert_array_equal(result.pixels[0], apply_modality_lut(ds.pixel_array, ds))


def test_values_are_left_to_presentation_for_multiframe_files():
    result = decode_series([data_file("emri_small.dcm")], "cpu", values=True)
    assert not result.values_applied


def test_without_values_the_stored_values_come_back():
    assert not decode(data_file("CT_small.dcm"), "cpu").values_applied


@pytest.mark.parametrize(
    ("slopes", "intercepts", "dtype"),
    [([1.0, 1.0], [-1024.0, -1024.0], np.int16), ([2.0, 1.0], [0.0, 5.0], np.uint16), ([0.5, 0.5], [0.0, 0.0], np.float32)],
)
def test_rescale_per_frame_is_exact_in_the_smallest_dtype(slopes, intercepts, dtype):
    pixels = np.array([[[0, 4095]], [[7, 100]]], np.uint16)
    out = apply_rescale(pixels.copy(), np.array(slopes), np.array(intercepts))
    expected = pixels * np.array(slopes)[:, None, None] + np.array(intercepts)[:, None, None]
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)


def test_holding_dtype_falls_back_to_float64_beyond_int64():
    assert holding_int_dtype(-1.0, 2.0**70) == np.float64
