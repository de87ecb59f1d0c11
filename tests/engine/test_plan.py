"""Plans per source: codec chains from the registry, in fallback order, with reasons."""

from __future__ import annotations

import pytest

from napari_dicom_gpu.engine.backends import native, nvimgcodec, pydicom_cpu, registry
from napari_dicom_gpu.engine.modes import Mode
from napari_dicom_gpu.engine.plan import plan_source
from napari_dicom_gpu.engine.source import load_source
from tests.dicom_files import data_file

CPU_OK = bool(nvimgcodec.availability(nvimgcodec.CPU))


def plan(name: str, mode: Mode):
    return plan_source(load_source(data_file(name)), 0, mode)


def test_pydicom_mode_uses_only_the_reference():
    assert plan("examples_ybr_color.dcm", Mode.PYDICOM).codecs == [pydicom_cpu.NAME]


def test_native_data_is_copied_and_pydicom_is_its_fallback():
    assert plan("CT_small.dcm", Mode.CPU).codecs == [native.NAME, pydicom_cpu.NAME]


def test_big_endian_native_data_goes_to_pydicom():
    assert plan("MR_small_bigendian.dcm", Mode.CPU).codecs == [pydicom_cpu.NAME]


@pytest.mark.skipif(not CPU_OK, reason="nvImageCodec's CPU backend is not available")
def test_jpeg_baseline_chain_is_fast_cpu_then_pydicom():
    chosen = plan("examples_ybr_color.dcm", Mode.CPU)
    assert chosen.codecs == [nvimgcodec.CPU, pydicom_cpu.NAME]
    assert chosen.after(nvimgcodec.CPU) == pydicom_cpu.NAME and chosen.after(pydicom_cpu.NAME) is None
    assert chosen.colour == "SRGB"  # YBR_FULL_422 becomes RGB, as pydicom returns it


def test_rle_in_gpu_mode_says_why_the_gpu_was_not_used():
    chosen = plan("emri_small_RLE.dcm", Mode.GPU)
    assert chosen.codecs == [pydicom_cpu.NAME]
    assert any("RLE Lossless has no GPU decoder" in why for why in chosen.routed)


def test_every_chain_ends_with_pydicom():
    for syntax in (*registry.NATIVE_SYNTAXES, *registry.ENCAPSULATED_GPU, *registry.PYDICOM_ONLY):
        assert registry.chain(syntax)[-1].name == pydicom_cpu.NAME


def test_a_reused_plan_never_crosses_files_whose_codestreams_differ():
    from napari_dicom_gpu.engine import plan as plan_module

    for mode in (Mode.CPU, Mode.GPU):
        plan_module._PLANS.clear()
        fresh = {name: plan(name, mode).codecs for name in ("693_J2KI.dcm", "MR2_J2KR.dcm")}
        # now each from the other's cached plans, in the other order
        assert {name: plan(name, mode).codecs for name in ("MR2_J2KR.dcm", "693_J2KI.dcm")} == fresh


def test_a_reused_plan_is_a_copy_for_its_own_source():
    first, second = plan("CT_small.dcm", Mode.CPU), plan("CT_small.dcm", Mode.CPU)
    first.codecs.append("something")
    assert second.codecs == [native.NAME, pydicom_cpu.NAME]


@pytest.mark.skipif(not CPU_OK, reason="nvImageCodec's CPU backend is not available")
@pytest.mark.parametrize(("cores", "files", "expected"), [(16, 300, nvimgcodec.CPU), (16, 1, pydicom_cpu.NAME), (2, 300, pydicom_cpu.NAME)])
def test_unsigned_lossless_j2k_series_uses_the_threaded_cpu_codec_on_many_cores(monkeypatch, cores, files, expected):
    from napari_dicom_gpu.engine import plan as plan_module

    monkeypatch.setattr("os.cpu_count", lambda: cores)
    plan_module._PLANS.clear()
    chosen = plan_source(load_source(data_file("MR2_J2KR.dcm")), 0, Mode.CPU, files)
    plan_module._PLANS.clear()
    assert chosen.codecs[0] == expected and chosen.codecs[-1] == pydicom_cpu.NAME


@pytest.mark.skipif(not CPU_OK, reason="nvImageCodec's CPU backend is not available")
def test_signed_j2k_stays_with_pydicom_even_on_many_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert plan_source(load_source(data_file("693_J2KR.dcm")), 0, Mode.CPU, 300).codecs == [pydicom_cpu.NAME]
