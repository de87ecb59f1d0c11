"""Sample data from files that ship inside pydicom (no download)."""

from __future__ import annotations

from pydicom.data import get_testdata_file

SAMPLES = {
    "ultrasound": "examples_ybr_color.dcm",  # 30-frame YBR_FULL_422 JPEG baseline cine
    "ct": "CT_small.dcm",
    "mr": "MR_small.dcm",
}


def sample_path(key: str) -> str:
    path = get_testdata_file(SAMPLES[key])
    if path is None:  # pragma: no cover - pydicom always bundles these
        raise FileNotFoundError(SAMPLES[key])
    return str(path)


def _read(key: str) -> list[tuple]:
    from ._reader import read_dicom

    return read_dicom(sample_path(key))


def ultrasound_cine() -> list[tuple]:
    return _read("ultrasound")


def ct_slice() -> list[tuple]:
    return _read("ct")


def mr_image() -> list[tuple]:
    return _read("mr")
