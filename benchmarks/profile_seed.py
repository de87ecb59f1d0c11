"""Where do the milliseconds of one small multi-frame GPU decode go? (seed cine by default)"""

from __future__ import annotations

import sys

import cupy
import cupyx
import numpy as np
from pydicom.data import get_testdata_file

from napari_dicom_gpu.bench import median_seconds
from napari_dicom_gpu.engine import decode
from napari_dicom_gpu.engine.backends import nvimgcodec
from napari_dicom_gpu.engine.source import load_source

path = sys.argv[1] if len(sys.argv) > 1 else get_testdata_file("examples_ybr_color.dcm")
nv = nvimgcodec._module()
dec, _ = nvimgcodec.decoder(nvimgcodec.GPU)
params = nv.DecodeParams(allow_any_depth=True, color_spec=nv.ColorSpec.SRGB)
src = load_source(path)
n, shape = src.layout.number_of_frames, src.layout.frame_shape
streams = nvimgcodec.code_streams(src.encoded)
vol = cupy.empty((n, *shape), np.uint8)
host = cupyx.empty_pinned((n, *shape), np.uint8)


def sync(x=None):
    cupy.cuda.runtime.deviceSynchronize()
    return x


def views_images():
    return [nv.as_image(vol[i]) for i in range(n)]


images = views_images()
timings = {
    "load_source": median_seconds(lambda: load_source(path), 21),
    "code_streams": median_seconds(lambda: nvimgcodec.code_streams(src.encoded), 21),
    "views+as_image": median_seconds(views_images, 21),
    "decode into given images": median_seconds(lambda: sync(dec.decode(streams, images=images, params=params)), 21),
    "decode, nvimgcodec allocates": median_seconds(lambda: sync(dec.decode(streams, params=params)), 21),
    "decode into fresh views": median_seconds(lambda: sync(dec.decode(streams, images=views_images(), params=params)), 21),
    "cupy.empty": median_seconds(lambda: cupy.empty((n, *shape), np.uint8), 21),
    "get into pinned": median_seconds(lambda: vol.get(out=host), 21),
    "engine gpu to host": median_seconds(lambda: decode(path, "gpu"), 21),
    "engine gpu device": median_seconds(lambda: sync(decode(path, "gpu", device="cuda")), 21),
}
for name, seconds in timings.items():
    print(f"{name:32s} {seconds * 1000:8.3f} ms")
print(decode(path, "gpu").record["seconds"])
