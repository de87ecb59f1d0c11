"""Engine behaviour on any machine: routing, records, fallbacks, errors, progress, cancel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, generate_frames

from napari_dicom_gpu import (
    BackendUnavailableError,
    DicomDecodeError,
    decode,
    decode_frames,
    decode_series,
)
from napari_dicom_gpu.engine import resolve_mode
from napari_dicom_gpu.engine.api import DecodeCancelled
from napari_dicom_gpu.engine.backends import nvimgcodec
from tests.dicom_files import data_file, reference

GPU = nvimgcodec.availability(nvimgcodec.GPU)
no_gpu = pytest.mark.skipif(bool(GPU), reason="this machine has a GPU")


def corrupt_copy(path: str, folder: Path, bad_frame: int) -> str:
    """A copy of an encapsulated multi-frame file whose frame ``bad_frame`` is garbage."""
    ds = pydicom.dcmread(path)
    frames = list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    frames[bad_frame] = b"\xff\xd8\xff\xdb" + bytes(range(256)) * 4 + b"\xff\xd9"
    ds.PixelData = encapsulate(frames)
    out = folder / f"corrupt_{Path(path).name}"
    ds.save_as(out)
    return str(out)


def lossless12_dataset(folder: Path) -> str:
    """A DICOM file holding the engine's 12-bit precision lossless JPEG self-test frame."""
    from importlib import resources

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import JPEGLosslessSV1, SecondaryCaptureImageStorage, generate_uid

    frame = resources.files("napari_dicom_gpu.engine").joinpath("data/lossless12_probe.jpg").read_bytes()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 32, 48, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    path = folder / "lossless12.dcm"
    ds.save_as(path, enforce_file_format=True)
    return str(path)


def test_lossless_probe_is_a_true_twelve_bit_stream_that_pydicom_decodes(tmp_path):
    from napari_dicom_gpu.engine.codestream import jpeg_precision

    path = lossless12_dataset(tmp_path)
    frame = next(generate_frames(pydicom.dcmread(path).PixelData, number_of_frames=1))
    assert jpeg_precision(frame) == 12
    np.testing.assert_array_equal(reference(path), nvimgcodec.probe_expected())
    np.testing.assert_array_equal(decode_frames(path, "cpu"), nvimgcodec.probe_expected())


@no_gpu
def test_auto_uses_cpu_without_gpu_and_explicit_gpu_says_why():
    assert resolve_mode("auto") == "cpu"
    with pytest.raises(BackendUnavailableError, match="GPU decoding is not available: .+"):
        decode_frames(data_file("examples_ybr_color.dcm"), backend="gpu")


@no_gpu
def test_gpu_unavailable_reason_is_human():
    assert "CUDA" in GPU.reason or "GPU" in GPU.reason


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend must be one of"):
        decode_frames(data_file("CT_small.dcm"), backend="fast")


def test_record_names_backend_codec_and_stages():
    record = decode(data_file("examples_ybr_color.dcm"), "cpu").record.to_dict()
    assert record["backend"] == "cpu" and record["codec"] == nvimgcodec.CPU
    assert record["frames"] == 30 and record["transfer_syntax"].startswith("JPEG Baseline")
    assert set(record["seconds"]) >= {"read", "init", "decode", "to_host", "total"}
    assert record["seconds"]["decode"] > 0 and record["seconds"]["total"] >= record["seconds"]["decode"]


def test_decoder_is_created_once_per_thread():
    nvimgcodec.decoder(nvimgcodec.CPU)
    first, _ = nvimgcodec.decoder(nvimgcodec.CPU)
    again, init = nvimgcodec.decoder(nvimgcodec.CPU)
    assert again is first and init == 0.0


def test_cpu_mode_routes_jpeg_baseline_to_nvimgcodec_and_rle_to_pydicom():
    assert decode(data_file("color3d_jpeg_baseline.dcm"), "cpu").record.codecs == {nvimgcodec.CPU: 120}
    assert decode(data_file("emri_small_RLE.dcm"), "cpu").record.codecs == {"pydicom": 10}


def test_corrupt_frame_keeps_the_good_frames_and_records_the_bad_one(tmp_path):
    path = corrupt_copy(data_file("examples_ybr_color.dcm"), tmp_path, bad_frame=3)
    result = decode(path, "cpu")
    assert [e.frame for e in result.record.errors] == [3]
    assert [f.frame for f in result.record.fallbacks] == [3]
    assert result.record.fallbacks[0].source == nvimgcodec.CPU
    ref = reference(data_file("examples_ybr_color.dcm"))
    good = [i for i in range(30) if i != 3]
    np.testing.assert_array_equal(result.pixels[good], ref[good])
    assert not result.pixels[3].any()


def test_truncated_file_error_names_file_and_problem():
    path = data_file("MR_truncated.dcm")
    with pytest.raises(DicomDecodeError) as info:
        decode(path, "cpu")
    assert "MR_truncated.dcm" in str(info.value) and "holds only 8,130 bytes of pixel data" in str(info.value)


def test_file_without_pixel_data_error_names_file_and_problem():
    with pytest.raises(DicomDecodeError, match=r"rtstruct\.dcm.*no pixel data"):
        decode(data_file("rtstruct.dcm"), "cpu")


def test_non_dicom_file_error(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello " * 100)
    with pytest.raises(DicomDecodeError, match="notes.txt"):
        decode(junk, "cpu")


def test_progress_reports_every_frame_and_cancel_stops(tmp_path):
    seen = []
    decode(data_file("color3d_jpeg_baseline.dcm"), "cpu", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (120, 120) and len(seen) > 1
    with pytest.raises(DecodeCancelled):
        decode(data_file("color3d_jpeg_baseline.dcm"), "cpu", progress=lambda *_: None, cancel=lambda: True)


def test_series_stacks_files_in_one_volume(tmp_path):
    src = pydicom.dcmread(data_file("CT_small.dcm"))
    paths = []
    for k in (2, 0, 1):
        src.ImagePositionPatient = [0, 0, float(k)]
        src.InstanceNumber = k
        src.SOPInstanceUID = f"1.2.3.{k}"
        path = tmp_path / f"slice{k}.dcm"
        src.save_as(path)
        paths.append(str(path))
    result = decode_series(paths, "cpu")
    assert result.pixels.shape == (3, 128, 128) and result.record.files == 3
    np.testing.assert_array_equal(result.pixels[0], src.pixel_array)


def test_frames_without_preamble_decode_like_pydicom_forced(tmp_path):
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = pydicom.dcmread(data_file("CT_small.dcm"))
    expected = ds.pixel_array
    del ds.file_meta
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_dataset(buffer, ds)
    path = tmp_path / "nopreamble"
    path.write_bytes(buffer.getvalue())
    assert path.read_bytes()[128:132] != b"DICM"
    np.testing.assert_array_equal(decode_frames(path, "cpu"), expected)
