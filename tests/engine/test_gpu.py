"""GPU path, on the lent GPU machine (skipped cleanly elsewhere). Nothing here is mocked."""

from __future__ import annotations

import numpy as np
import pytest

from napari_dicom_gpu import decode, decode_series
from napari_dicom_gpu.engine.api import HOST_PATHS
from napari_dicom_gpu.engine.backends import nvimgcodec
from tests.dicom_files import data_file, psnr, reference

pytestmark = pytest.mark.gpu


def test_gpu_availability_names_the_card():
    state = nvimgcodec.availability(nvimgcodec.GPU)
    assert state and state.details["gpu"]


def test_seed_file_decodes_in_one_gpu_batch():
    path = data_file("examples_ybr_color.dcm")
    result = decode(path, "gpu")
    assert result.record.codecs == {nvimgcodec.GPU: 30}
    assert result.record.backend == "gpu" and not result.record.fallbacks
    assert psnr(result.pixels, reference(path)) >= 40


def test_auto_uses_the_gpu_when_there_is_one():
    assert decode(data_file("examples_ybr_color.dcm"), "auto").record.backend == "gpu"


def test_device_cuda_returns_a_gpu_volume_equal_to_the_host_one():
    cupy = pytest.importorskip("cupy")
    path = data_file("emri_small_jpeg_2k_lossless.dcm")
    on_gpu = decode(path, "gpu", device="cuda").pixels
    assert hasattr(on_gpu, "__cuda_array_interface__") and hasattr(on_gpu, "__dlpack__")
    np.testing.assert_array_equal(cupy.asnumpy(on_gpu), reference(path))


@pytest.mark.parametrize("host_path", HOST_PATHS)
@pytest.mark.parametrize("name", ["color3d_jpeg_baseline.dcm", "MR_small_bigendian.dcm", "JPEG2000.dcm"])
def test_every_host_path_gives_the_same_pixels(monkeypatch, host_path, name):
    path = data_file(name)
    monkeypatch.setenv("NAPARI_DICOM_GPU_HOST_PATH", "direct-pageable")
    expected = decode(path, "gpu").pixels
    monkeypatch.setenv("NAPARI_DICOM_GPU_HOST_PATH", host_path)
    result = decode(path, "gpu")
    assert isinstance(result.pixels, np.ndarray) and result.pixels.dtype == expected.dtype
    np.testing.assert_array_equal(result.pixels, expected)
    if result.record.codecs.get(nvimgcodec.GPU):
        assert result.record.host_path == host_path
        assert (result.record.seconds["to_host"] > 0) == host_path.startswith("staged")


def test_gpu_none_result_is_reported_as_a_failure():
    path = data_file("JPGExtended.dcm")  # 12-bit JPEG extended: nvJPEG returns None
    from pydicom import dcmread
    from pydicom.encaps import generate_frames

    frame = next(generate_frames(dcmread(path).PixelData, number_of_frames=1))
    target = np.zeros((1, 256, 1024, 1), np.uint16)
    failures = nvimgcodec.decode_into(nvimgcodec.GPU, nvimgcodec.code_streams([frame]), [target[0]], "UNCHANGED")
    assert [f.slot for f in failures] == [0]


def test_syntaxes_without_gpu_decoder_are_routed_to_cpu_and_recorded():
    result = decode(data_file("emri_small_RLE.dcm"), "gpu")
    assert result.record.codecs == {"pydicom": 10}
    assert "RLE" in result.record.cpu_routed[0]["reason"]
    np.testing.assert_array_equal(result.pixels, reference(data_file("emri_small_RLE.dcm")))


def test_sixteen_bit_precision_lossless_jpeg_decodes_exactly_on_gpu():
    path = data_file("bad_sequence.dcm")  # 12 bits stored, 16-bit precision stream
    result = decode(path, "gpu")
    assert result.record.codecs == {nvimgcodec.GPU: 1}
    np.testing.assert_array_equal(result.pixels[0], reference(path))


def test_twelve_bit_precision_lossless_jpeg_is_exact_and_routed_by_the_self_test(tmp_path):
    from tests.engine.test_decode import lossless12_dataset

    path = lossless12_dataset(tmp_path)
    safe = nvimgcodec.high_bit_lossless_jpeg_is_safe(nvimgcodec.GPU)
    result = decode(path, "gpu")
    np.testing.assert_array_equal(result.pixels[0], nvimgcodec.probe_expected())
    routed = [r["reason"] for r in result.record.cpu_routed]
    assert any("issue #50" in r for r in routed) == (not safe)
    print(f"nvJPEG 12-bit lossless self-test: {'passed' if safe else 'failed'}")


def test_corrupt_frame_on_gpu_falls_back_and_keeps_the_others(tmp_path):
    from tests.engine.test_decode import corrupt_copy

    path = corrupt_copy(data_file("examples_ybr_color.dcm"), tmp_path, bad_frame=5)
    result = decode(path, "gpu")
    assert [f.frame for f in result.record.errors] == [5]
    assert any(f.frame == 5 and f.source == nvimgcodec.GPU for f in result.record.fallbacks)
    ref = reference(data_file("examples_ybr_color.dcm"))
    good = [i for i in range(30) if i != 5]
    assert psnr(result.pixels[good], ref[good]) >= 40


@pytest.mark.parametrize("name", ["693_J2KR.dcm", "MR2_J2KR.dcm"])  # CT in HU; MR with a float slope
def test_values_applied_on_the_gpu_equal_the_host_values(name):
    path = data_file(name)
    on_gpu = decode_series([path], "gpu", values=True)
    on_cpu = decode_series([path], "cpu", values=True)
    assert on_gpu.record.codecs == {nvimgcodec.GPU: 1}
    assert on_gpu.values_applied and on_gpu.pixels.dtype == on_cpu.pixels.dtype
    np.testing.assert_array_equal(on_gpu.pixels, on_cpu.pixels)


def test_a_small_gpu_memory_budget_decodes_in_batches_straight_to_host(monkeypatch):
    # 0.01 of free memory is still far more than the cine: force the batches down to 2 frames.
    from napari_dicom_gpu.engine import run

    monkeypatch.setattr(run, "gpu_memory_budget", lambda: 4 * 240 * 320 * 3)
    path = data_file("examples_ybr_color.dcm")
    result = decode(path, "gpu")
    assert result.record.host_path.startswith("direct")
    assert psnr(np.asarray(result.pixels), reference(path)) >= 40


def test_gpu_a_frame_cut_short_is_listed_and_black(tmp_path):
    from tests.engine.test_hostile import _cut_short

    expected = np.asarray(decode(data_file("examples_ybr_color.dcm"), "gpu").pixels)
    result = decode(_cut_short(tmp_path, "examples_ybr_color.dcm", frame=2), "gpu")
    pixels = np.asarray(result.pixels)
    assert [e.frame for e in result.record.errors] == [2]
    assert not pixels[2].any()
    np.testing.assert_array_equal(np.delete(pixels, 2, axis=0), np.delete(expected, 2, axis=0))
