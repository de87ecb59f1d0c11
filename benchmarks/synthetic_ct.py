"""A synthetic CT series (uint16, 512x512 slices) encoded as HTJ2K or JPEG 2000 lossless on the GPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import CTImageStorage, HTJ2KLossless, JPEG2000Lossless, generate_uid


def phantom(slices: int = 300, size: int = 512, seed: int = 0) -> np.ndarray:
    """Stored values (HU + 1024) of an elliptical body with organs, bone and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    volume = np.empty((slices, size, size), np.uint16)
    for k in range(slices):
        z = k / max(slices - 1, 1) * 2 - 1
        hu = np.full((size, size), -1000.0)
        body = (x / 0.85) ** 2 + (y / 0.65) ** 2 < 1 - 0.2 * z**2
        hu[body] = 40
        hu[((x - 0.3) / 0.2) ** 2 + (y / 0.25) ** 2 < 1] = 60 + 10 * z
        hu[((x + 0.3) / 0.25) ** 2 + ((y + 0.1) / 0.3) ** 2 < 1] = -800
        hu[(x / 0.08) ** 2 + ((y - 0.45) / 0.08) ** 2 < 1] = 900
        hu += rng.normal(0, 12, hu.shape)
        volume[k] = np.clip(hu + 1024, 0, 4095).astype(np.uint16)
    return volume


def encode_frames(volume: np.ndarray, ht: bool) -> list[bytes]:
    from nvidia import nvimgcodec as nv

    params = nv.EncodeParams(
        quality_type=nv.QualityType.LOSSLESS,
        jpeg2k_encode_params=nv.Jpeg2kEncodeParams(bitstream_type=nv.Jpeg2kBitstreamType.J2K, ht=ht),
    )
    encoder = nv.Encoder()
    images = [np.ascontiguousarray(volume[k][..., None]) for k in range(len(volume))]
    streams = encoder.encode(images, "jpeg2k", params=params)
    out = []
    for stream in streams:
        if stream is None:
            raise RuntimeError("nvImageCodec could not encode a slice")
        out.append(bytes(memoryview(stream)[: stream.size]))
    return out


def write_series(volume: np.ndarray, folder: Path, ht: bool) -> list[str]:
    """One DICOM file per slice; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = encode_frames(volume, ht)
    syntax = HTJ2KLossless if ht else JPEG2000Lossless
    series, study = generate_uid(), generate_uid()
    paths = []
    for k, frame in enumerate(frames):
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
        ds.Rows, ds.Columns = volume.shape[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = encapsulate([frame])
        ds["PixelData"].VR = "OB"
        path = folder / f"slice_{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths
