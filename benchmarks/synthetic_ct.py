"""A synthetic CT series (uint16, 512x512 slices): HTJ2K, JPEG 2000 lossless or native files.

HTJ2K can only be encoded on the GPU (nvImageCodec's nvJPEG2000 encoder); JPEG 2000 lossless is
encoded on the GPU when one is here, else on the CPU with OpenJPEG (pylibjpeg-openjpeg). Native
(Explicit VR Little Endian) needs no encoder.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    JPEG2000Lossless,
    generate_uid,
)

SYNTAXES = {
    "htj2k": HTJ2KLossless, "j2k": JPEG2000Lossless, "j2k-signed": JPEG2000Lossless, "native": ExplicitVRLittleEndian,
}


def phantom(slices: int = 300, size: int = 512, seed: int = 0) -> np.ndarray:
    """Stored values (HU + 1024) of an elliptical body with organs, bone and noise.

    The shapes are computed once and the noise comes from a pool of 16 fields, so that 2,000
    slices take seconds, not a minute; each slice still differs (body outline, organ values).
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    body_radius = (x / 0.85) ** 2 + (y / 0.65) ** 2
    organ = ((x - 0.3) / 0.2) ** 2 + (y / 0.25) ** 2 < 1
    lung = ((x + 0.3) / 0.25) ** 2 + ((y + 0.1) / 0.3) ** 2 < 1
    bone = (x / 0.08) ** 2 + ((y - 0.45) / 0.08) ** 2 < 1
    noise = np.rint(rng.normal(0, 12, (16, size, size))).astype(np.int16)
    volume = np.empty((slices, size, size), np.uint16)
    for k in range(slices):
        z = k / max(slices - 1, 1) * 2 - 1
        hu = np.where(body_radius < 1 - 0.2 * z**2, np.int16(40), np.int16(-1000))
        hu[organ] = int(60 + 10 * z)
        hu[lung] = -800
        hu[bone] = 900
        hu += noise[k % len(noise)]
        np.clip(hu + 1024, 0, 4095, out=hu)
        volume[k] = hu
    return volume


def gpu_encoder_reason() -> str | None:
    """None when nvImageCodec can encode on a GPU here, else why not."""
    try:
        from nvidia import nvimgcodec as nv

        nv.Encoder()
    except Exception as exc:  # no CUDA device, no driver, no nvImageCodec
        return f"no GPU encoder ({type(exc).__name__}: {str(exc)[:80]})"
    return None


def encode_frames(volume: np.ndarray, ht: bool) -> list[bytes]:
    """Lossless JPEG 2000 (``ht``: High-Throughput) codestreams, one per slice."""
    reason = gpu_encoder_reason()
    if reason is not None:
        if ht:
            raise RuntimeError(f"HTJ2K needs nvImageCodec's GPU encoder: {reason}")
        import openjpeg

        return [bytes(openjpeg.encode(np.ascontiguousarray(s), bits_stored=16)) for s in volume]
    from nvidia import nvimgcodec as nv

    params = nv.EncodeParams(
        quality_type=nv.QualityType.LOSSLESS,
        jpeg2k_encode_params=nv.Jpeg2kEncodeParams(
            bitstream_type=nv.Jpeg2kBitstreamType.J2K, ht=ht
        ),
    )
    encoder = nv.Encoder()
    out = []
    for start in range(0, len(volume), 256):  # bounded GPU memory for long series
        images = [np.ascontiguousarray(s[..., None]) for s in volume[start : start + 256]]
        for stream in encoder.encode(images, "jpeg2k", params=params):
            if stream is None:
                raise RuntimeError("nvImageCodec could not encode a slice")
            out.append(bytes(memoryview(stream)[: stream.size]))
    return out


def _dataset(syntax, study: str, series: str, k: int, shape: tuple[int, int], signed: bool = False) -> Dataset:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = syntax
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.Modality, ds.SeriesDescription = "CT", f"Synthetic CT ({syntax.name})"
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [-250.0, -250.0, float(k)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.98, 0.98]
    ds.SliceThickness = 1.0
    ds.Rows, ds.Columns = shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, int(signed)
    ds.RescaleIntercept, ds.RescaleSlope = (0 if signed else -1024), 1
    ds.WindowCenter, ds.WindowWidth = 40, 400
    return ds


def write_series(
    volume: np.ndarray, folder: Path, ht: bool | None = None, syntax: str | None = None
) -> list[str]:
    """One DICOM file per slice; returns the paths.

    ``syntax`` is ``"htj2k"``, ``"j2k"``, ``"j2k-signed"`` (HU stored as int16, encoded on the CPU
    by OpenJPEG: signed samples, as many CT scanners write them) or ``"native"``; ``ht`` (older
    callers) picks HTJ2K or J2K.
    """
    if syntax is None:
        syntax = "htj2k" if ht else "j2k"
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    uid = SYNTAXES[syntax]
    signed = syntax == "j2k-signed"
    if signed:
        import openjpeg

        volume = (volume.astype(np.int32) - 1024).astype(np.int16)
        frames = [bytes(openjpeg.encode(np.ascontiguousarray(s), bits_stored=16)) for s in volume]
    else:
        frames = None if syntax == "native" else encode_frames(volume, syntax == "htj2k")
    series, study = generate_uid(), generate_uid()
    paths = []
    for k in range(len(volume)):
        ds = _dataset(uid, study, series, k, volume.shape[1:], signed)
        if frames is None:
            ds.PixelData = np.ascontiguousarray(volume[k]).tobytes()
            ds["PixelData"].VR = "OW"
        else:
            ds.PixelData = encapsulate([frames[k]])
            ds["PixelData"].VR = "OB"
        path = folder / f"slice_{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths


def link_subset(paths: list[str], folder: Path, count: int) -> Path:
    """A folder holding the first ``count`` files of ``paths`` as hard links (copies if links fail)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths[:count]:
        target = folder / Path(path).name
        if target.exists():
            continue
        try:
            os.link(path, target)
        except OSError:
            target.write_bytes(Path(path).read_bytes())
    return folder
