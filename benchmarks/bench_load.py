"""Load benchmark for issue 9: paths -> layer data, against pydicom and the floor, in one run.

Headless (no napari, no Qt). Calls only the package's public entry points:
``napari_dicom_gpu.loading.load``, ``napari_dicom_gpu.engine.decode_series`` / ``decode`` and
``napari_dicom_gpu.engine.series.load_series``. Inputs are made inside the run (synthetic CT,
see ``synthetic_ct.py``) or are real files (pydicom's bundled files, ``DICOM_GPU_DATA``).

Parts (``--parts``, names or numbers; default all):

1 scaling  folders of N single-frame HTJ2K 512x512 files: ``loading.load`` warm vs pydicom loop
2 header   ``load_series`` (header path) vs ``dcmread(stop_before_pixels=True)`` loop
3 j2k      300-file JPEG 2000 lossless: load vs GPU decode of pre-read sources (GPU only)
4 memory   peak host memory of a load of the largest folder, fresh process, GPU and CPU path
5 cpu      fast CPU mode vs pydicom: 300-file HTJ2K, J2K lossless (unsigned, signed), native series, single J2K files
6 single   seed and color3d: load vs pydicom, nvImageCodec's pydicom plugin and the floor
7 thread   a load in a fresh thread vs in the same thread
8 import   ``import napari_dicom_gpu`` and the first load in a fresh process

Writes ``<out>/<date>-<card>-load.json`` (after every part) and ``.md``; prints a summary last.
Without a GPU, GPU-only measurements are skipped with the reason and HTJ2K inputs become JPEG 2000
lossless (no CPU encoder makes HTJ2K); the JSON says so.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from harness import (  # noqa: E402
    RESULTS,
    gpu_decode_reason,
    machine,
    markdown_table,
    measure,
    ms,
    ratio,
    targets_table,
    write_json,
)
from synthetic_ct import link_subset, phantom, write_series  # noqa: E402

PARTS = ("scaling", "header", "j2k", "memory", "cpu", "single", "thread", "import")
SEED = "examples_ybr_color.dcm"
COLOR3D = "color3d_jpeg_baseline.dcm"
SINGLE_J2K = ("MR2_J2KR.dcm", "RG3_J2KR.dcm", "693_J2KR.dcm")


# -- inputs --------------------------------------------------------------------------------------
def testdata(name: str) -> str | None:
    """A real file: ``DICOM_GPU_DATA`` first, then pydicom's bundled files and pydicom-data."""
    folder = os.environ.get("DICOM_GPU_DATA")
    if folder and (Path(folder) / name).exists():
        return str(Path(folder) / name)
    try:
        from pydicom.data import get_testdata_file

        return get_testdata_file(name)
    except Exception:
        return None


class Inputs:
    """Synthetic series written once under a temporary folder, on first use."""

    def __init__(
        self, root: Path, sizes: list[int], series_files: int, native_files: int, gpu: bool
    ) -> None:
        self.root, self.sizes, self.gpu = root, sizes, gpu
        self.series_files, self.native_files = series_files, native_files
        self._cache: dict[str, list[str]] = {}
        self.notes: dict[str, str] = {}
        self.seconds: dict[str, float] = {}

    @property
    def main_syntax(self) -> str:
        """HTJ2K where a GPU can encode it, else JPEG 2000 lossless."""
        if self.gpu:
            return "htj2k"
        self.notes["htj2k"] = "no GPU encoder here: the HTJ2K inputs are JPEG 2000 lossless instead"
        return "j2k"

    def _series(self, key: str, count: int, syntax: str) -> list[str]:
        if key not in self._cache:
            start = time.perf_counter()
            volume = phantom(count)
            self._cache[key] = write_series(volume, self.root / key, syntax=syntax)
            self.seconds[key] = time.perf_counter() - start
        return self._cache[key]

    def main_files(self) -> list[str]:
        count = max([*self.sizes, self.series_files])
        return self._series(f"{self.main_syntax}_all", count, self.main_syntax)

    def folder(self, size: int) -> Path:
        """A folder of the first ``size`` files of the main series."""
        return link_subset(self.main_files(), self.root / f"{self.main_syntax}_{size}", size)

    def j2k_folder(self) -> Path:
        if self.main_syntax == "j2k":
            return self.folder(self.series_files)
        files = self._series("j2k", self.series_files, "j2k")
        return Path(files[0]).parent

    def j2k_signed_folder(self) -> Path:
        return Path(self._series("j2k-signed", self.series_files, "j2k-signed")[0]).parent

    def native_folder(self) -> Path:
        return Path(self._series("native", self.native_files, "native")[0]).parent


def files_in(folder: Path) -> list[str]:
    return sorted(str(p) for p in Path(folder).iterdir())


# -- baselines and our paths ---------------------------------------------------------------------
def pydicom_loop(paths: list[str]) -> np.ndarray:
    """What a script does without us: ``dcmread(p).pixel_array`` per file, stacked (pydicom's own
    decoders: nvImageCodec's pydicom plugin is registered only inside ``plugin_loop_factory``'s
    runs, and ``pydicom_plugins_clean`` checks it)."""
    pydicom_plugins_clean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arrays = [pydicom.dcmread(p).pixel_array for p in paths]
    return arrays[0] if len(arrays) == 1 else np.stack(arrays)


def pydicom_plugins_clean() -> None:
    """Fail loudly if a GPU plugin sits among pydicom's decoders (the baseline would be wrong)."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEG2000Lossless

    plugins = get_decoder(JPEG2000Lossless).available_plugins
    if any("nvimgcodec" in name.lower() for name in plugins):
        raise RuntimeError(f"nvImageCodec's pydicom plugin is registered: the pydicom baseline would use the GPU ({plugins})")


def pydicom_headers(paths: list[str]) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]


def plugin_loop_factory():
    """pydicom with nvImageCodec's own pydicom plugin (GPU, frame by frame), or None and why."""
    try:
        from nvidia.nvimgcodec.tools.dicom import pydicom_plugin

        pydicom_plugin.register()
        pydicom_plugin.unregister()
        label = pydicom_plugin.NVIMGCODEC_PLUGIN_LABEL
    except Exception as exc:
        return None, f"nvImageCodec's pydicom plugin: {type(exc).__name__}: {str(exc)[:100]}"

    def run(paths: list[str]) -> np.ndarray:
        # Registered only while it runs: registered, the plugin puts itself first in pydicom's
        # decoders, and every later "pydicom" baseline would decode on the GPU.
        arrays = []
        pydicom_plugin.register()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for p in paths:
                    ds = pydicom.dcmread(p)
                    ds.pixel_array_options(decoding_plugin=label)
                    arrays.append(ds.pixel_array)
        finally:
            pydicom_plugin.unregister()
        return arrays[0] if len(arrays) == 1 else np.stack(arrays)

    return run, None


def load(paths: list, backend: str):
    """``loading.load``: what the reader does; raises when any series failed."""
    from napari_dicom_gpu import loading

    outcome = loading.load([str(p) for p in paths], backend)
    if outcome.problems or not outcome.layers:
        raise RuntimeError(f"load failed: {outcome.problems[:1]}")
    return outcome


def layer_stages(outcome) -> dict:
    """Stage seconds of the first layer's decode record, when the layer carries one."""
    try:
        record = outcome.layers[0].kwargs["metadata"]["decode"]
        return {k: round(v, 4) for k, v in record["seconds"].items()}
    except (KeyError, IndexError, TypeError, AttributeError):
        return {}


def sync_gpu() -> None:
    try:
        import cupy

        cupy.cuda.runtime.deviceSynchronize()
    except Exception:
        pass


# -- the run -------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.gpu_reason = None if args.no_gpu else gpu_decode_reason()
        if args.no_gpu:
            self.gpu_reason = "--no-gpu given"
        self.gpu = self.gpu_reason is None
        self.backend = "gpu" if self.gpu else "cpu"
        self.tmp = tempfile.TemporaryDirectory(prefix="bench_load_", dir=args.tmp)
        self.inputs = Inputs(
            Path(self.tmp.name), args.sizes, args.series_files, args.native_files, self.gpu
        )
        self.results: dict = {
            "benchmark": "bench_load",
            "machine": machine(),
            "args": {k: v for k, v in vars(args).items() if k != "out"},
            "gpu_reason": self.gpu_reason,
            "backend": self.backend,
            "parts": {},
            "skipped": {},
            "errors": {},
            "summary": [],
        }
        m = self.results["machine"]
        stem = f"{m['date']}-{m['card']}-load"
        self.json_path = Path(args.out) / f"{stem}.json"
        self.md_path = Path(args.out) / f"{stem}.md"
        self.baselines: dict[str, dict] = {}  # pydicom timings shared between parts

    def save(self) -> None:
        self.results["inputs"] = {
            "notes": self.inputs.notes,
            "seconds_to_make": self.inputs.seconds,
        }
        write_json(self.json_path, self.results)
        self.md_path.write_text(render_markdown(self.results))

    def skip(self, part: str, reason: str) -> None:
        self.results["skipped"][part] = reason
        print(f"[{part}] skipped: {reason}", flush=True)

    def pydicom_baseline(self, key: str, paths: list[str]) -> dict:
        """pydicom's loop over ``paths``, measured once per input and reused by other parts."""
        if key not in self.baselines:
            self.baselines[key] = measure(lambda: pydicom_loop(paths))
        return self.baselines[key]

    def run(self) -> None:
        wanted = self.args.parts
        started = time.perf_counter()
        for part in PARTS:
            if part not in wanted:
                continue
            print(f"[{part}] ...", flush=True)
            t0 = time.perf_counter()
            try:
                getattr(self, f"part_{part}")()
            except Exception as exc:
                self.results["errors"][part] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            self.results.setdefault("part_seconds", {})[part] = round(time.perf_counter() - t0, 1)
            print(f"[{part}] {time.perf_counter() - t0:.1f} s", flush=True)
            gc.collect()
            self.save()
        self.results["elapsed_s"] = round(time.perf_counter() - started, 1)
        self.results["summary"] = summary(self.results)
        self.save()
        self.tmp.cleanup()

    # 1 -------------------------------------------------------------------------------------------
    def part_scaling(self) -> None:
        rows = []
        sizes = self.args.sizes
        pydicom_sizes = {min(sizes), max(sizes)} if not self.args.pydicom_all_sizes else set(sizes)
        plugin, plugin_reason = plugin_loop_factory() if self.gpu else (None, self.gpu_reason)
        for size in sizes:
            folder = self.inputs.folder(size)
            files = files_in(folder)
            row: dict = {"files": size, "syntax": self.inputs.main_syntax, "backend": self.backend}
            timing = measure(lambda f=folder: load([f], self.backend), repeat=3, long_s=1e9)
            outcome = load([folder], self.backend)
            data = outcome.layers[0].data
            row.update(
                load_s=timing["s"],
                load_runs=timing["all_s"],
                load_first_s=timing["first_s"],
                load_per_file_ms=timing["s"] / size * 1000,
                volume_mb=round(data.nbytes / 1e6, 1),
                layer_dtype=str(data.dtype),
                stages=layer_stages(outcome),
            )
            if size in pydicom_sizes:
                base = self.pydicom_baseline(f"scaling-{size}", files)
                row.update(
                    pydicom_s=base["s"],
                    pydicom_runs=base["runs"],
                    pydicom_per_file_ms=base["s"] / size * 1000,
                )
                row["speedup_vs_pydicom"] = base["s"] / timing["s"]
                if size == min(sizes):
                    row.update(
                        extra(
                            "max_abs_diff_vs_pydicom_hu",
                            lambda d=data, f=files: hu_difference(d, f),
                        )
                    )
            if plugin is not None and size == min(sizes):
                p = extra("plugin", lambda f=files: measure(lambda: plugin(f)))
                if "plugin" in p:
                    p = p["plugin"]
                    row.update(
                        plugin_s=p["s"],
                        plugin_runs=p["runs"],
                        speedup_vs_plugin=p["s"] / timing["s"],
                    )
                else:
                    row.update(p)
            elif size == min(sizes):
                row["plugin_skipped"] = plugin_reason
            del outcome, data
            rows.append(row)
            print(
                f"  {size} files: load {timing['s']:.3f} s ({row['load_per_file_ms']:.2f} ms/file)",
                flush=True,
            )
        self.results["parts"]["scaling"] = {
            "rows": rows,
            "how": "load: one warm-up then median of 3 (files in the page cache, decoders started); "
            f"pydicom loop (dcmread(p).pixel_array, np.stack) at {sorted(pydicom_sizes)} files only: "
            f"median of 3 after a warm-up, or one run when the first took over 2 s; "
            "plugin: pydicom with nvImageCodec's pydicom plugin at the smallest size",
        }

    # 2 -------------------------------------------------------------------------------------------
    def part_header(self) -> None:
        from napari_dicom_gpu.engine.series import load_series

        rows = []
        for size in self.args.sizes:
            folder = self.inputs.folder(size)
            files = files_ordered = files_in(folder)
            ours = measure(lambda f=folder: load_series([f]), repeat=3, long_s=1e9)
            report = load_series([folder])
            base = measure(lambda f=files: pydicom_headers(f), repeat=3, long_s=1e9)
            order = [Path(s.path).name for s in report.series[0].sources] if report.series else []
            names = [Path(p).name for p in files_ordered]
            rows.append(
                {
                    "files": size,
                    "load_series_s": ours["s"],
                    "load_series_per_file_ms": ours["s"] / size * 1000,
                    "dcmread_s": base["s"],
                    "dcmread_per_file_ms": base["s"] / size * 1000,
                    "speedup": base["s"] / ours["s"],
                    "series": len(report.series),
                    "skipped": len(report.skipped),
                    "order": "z ascending"
                    if order == names
                    else "z descending"
                    if order == names[::-1]
                    else "other",
                }
            )
            print(
                f"  {size} files: load_series {ours['s']:.3f} s, dcmread {base['s']:.3f} s",
                flush=True,
            )
        self.results["parts"]["header"] = {
            "rows": rows,
            "how": "median of 3 after a warm-up, each: load_series([folder]) vs "
            "[dcmread(p, stop_before_pixels=True) for p in files]; series/order say what load_series grouped",
        }

    # 3 -------------------------------------------------------------------------------------------
    def part_j2k(self) -> None:
        if not self.gpu:
            return self.skip("j2k", f"needs the GPU decode: {self.gpu_reason}")
        from napari_dicom_gpu.engine import decode_series
        from napari_dicom_gpu.engine.series import load_series

        folder = self.inputs.j2k_folder()
        files = files_in(folder)
        row: dict = {"files": len(files), "syntax": "j2k"}
        t_load = measure(lambda: load([folder], "gpu"), repeat=3, long_s=1e9)
        outcome = load([folder], "gpu")
        row.update(load_s=t_load["s"], stages=layer_stages(outcome))
        del outcome
        sources = load_series([folder]).series[0].sources
        t_dec = measure(lambda: decode_series([], "gpu", sources=sources), repeat=3, long_s=1e9)
        row["gpu_decode_to_host_s"] = t_dec["s"]

        def on_device():
            result = decode_series([], "gpu", sources=sources, device="cuda")
            sync_gpu()
            return result

        try:
            row["gpu_decode_on_device_s"] = measure(on_device, repeat=3, long_s=1e9)["s"]
        except Exception as exc:
            row["gpu_decode_on_device_error"] = f"{type(exc).__name__}: {str(exc)[:100]}"
        row["load_over_gpu_decode"] = t_load["s"] / t_dec["s"]
        base = self.pydicom_baseline("j2k-series", files)
        row.update(
            pydicom_s=base["s"],
            pydicom_runs=base["runs"],
            speedup_vs_pydicom=base["s"] / t_load["s"],
        )
        plugin, reason = plugin_loop_factory()
        if plugin is not None:
            p = extra("plugin", lambda: measure(lambda: plugin(files)))
            if "plugin" in p:
                row.update(
                    plugin_s=p["plugin"]["s"], speedup_vs_plugin=p["plugin"]["s"] / t_load["s"]
                )
            else:
                row.update(p)
        else:
            row["plugin_skipped"] = reason
        row.update(
            extra("simpleitk", lambda: simpleitk(str(folder), t_load["s"])).get("simpleitk", {})
        )
        self.results["parts"]["j2k"] = {
            "row": row,
            "how": "load([folder], 'gpu') vs decode_series([], 'gpu', sources=<pre-read sources>) to host "
            "and on the device (synchronized); medians of 3 after a warm-up",
        }

    # 4 -------------------------------------------------------------------------------------------
    def part_memory(self) -> None:
        size = max(self.args.sizes)
        folder = self.inputs.folder(size)
        rows = []
        backends = ["gpu", "cpu"] if self.gpu else ["cpu"]
        if not self.gpu:
            self.results["skipped"]["memory-gpu"] = f"GPU path: {self.gpu_reason}"
        for backend in backends:
            child = run_child(["--child-memory", str(folder), backend], timeout=300)
            child.update(
                run_child(["--child-memory-after-init", str(folder), backend], timeout=300)
            )
            child.update(backend=backend, files=size)
            rows.append(child)
            if "peak_over_volume" in child:
                print(f"  {backend}: peak {child['peak_over_volume']:.2f}x the volume", flush=True)
        self.results["parts"]["memory"] = {
            "rows": rows,
            "how": "a fresh Python process imports the package, numpy and pydicom, notes its peak RSS (VmHWM, "
            "like ru_maxrss but not inherited from the parent), runs loading.load([folder], backend) once "
            "and notes the peak again; "
            "peak_over_volume = (peak - after imports) / layer data bytes; "
            "peak_over_volume_after_init excludes the one-time codec/CUDA start-up (a one-file load first)",
        }

    # 5 -------------------------------------------------------------------------------------------
    def part_cpu(self) -> None:
        from napari_dicom_gpu.engine import decode, decode_series
        from napari_dicom_gpu.engine.backends import processes

        rows = []
        inputs: list[tuple[str, list[str], str]] = []
        if self.gpu:
            inputs.append(
                (
                    "HTJ2K series",
                    files_in(self.inputs.folder(self.args.series_files)),
                    "scaling-series",
                )
            )
        else:
            self.results["skipped"]["cpu-htj2k"] = "HTJ2K series: no HTJ2K encoder without a GPU"
        inputs.append(("J2K lossless series", files_in(self.inputs.j2k_folder()), "j2k-series"))
        inputs.append(("signed J2K lossless series", files_in(self.inputs.j2k_signed_folder()), "j2k-signed-series"))
        inputs.append(("native series", files_in(self.inputs.native_folder()), "native-series"))
        for name in SINGLE_J2K:
            path = testdata(name)
            if path:
                inputs.append((name, [path], f"single-{name}"))
        for label, files, key in inputs:
            base = self.pydicom_baseline(key, files)
            row: dict = {
                "input": label,
                "files": len(files),
                "pydicom_s": base["s"],
                "pydicom_runs": base["runs"],
            }
            if len(files) == 1:
                t = measure(lambda f=files[0]: decode(f, "cpu"), repeat=5)
                result = decode(files[0], "cpu")
            else:
                t = measure(lambda f=files: decode_series(f, "cpu"))
                result = decode_series(files, "cpu")
            pooled = dict(processes.last_run) if processes.last_run else None
            ref = pydicom_loop(files)
            row.update(
                cpu_decode_s=t["s"],
                cpu_decode_runs=t["runs"],
                cpu_decode_first_s=t["first_s"],
                cpu_codec=getattr(result.record, "codec", None),
                cpu_codecs=dict(result.record.codecs),
                # worker processes of the last decode: files they and this process decoded
                cpu_processes=pooled,
                max_abs_diff=max_diff(np.asarray(result.pixels), ref),
                speedup_vs_pydicom=base["s"] / t["s"],
            )
            del result, ref
            if len(files) > 1:
                folder = str(Path(files[0]).parent)
                lt = measure(lambda f=folder: load([f], "cpu"))
                row.update(cpu_load_s=lt["s"], load_speedup_vs_pydicom=base["s"] / lt["s"])
                # SimpleITK (GDCM + OpenJPEG), what ITK-based napari readers use: folder to volume
                row.update(extra("simpleitk", lambda f=folder, s=lt["s"]: simpleitk(f, s)).get("simpleitk", {}))
            rows.append(row)
            print(
                f"  {label}: pydicom {base['s']:.3f} s, CPU mode {t['s']:.3f} s "
                f"(first {t['first_s']:.3f} s; {row['cpu_codecs']}; processes {pooled})",
                flush=True,
            )
            processes.last_run.clear()
        self.results["parts"]["cpu"] = {
            "rows": rows,
            "processes": {
                "count": processes.process_count(),
                "unavailable": processes.unavailable_reason(),
            },
            "how": "decode_series(files, 'cpu') (decode(file, 'cpu') for one file) and load([folder], 'cpu') "
            "vs pydicom's loop; median of 3 after a warm-up, one run when the first took over 2 s",
        }

    # 6 -------------------------------------------------------------------------------------------
    def part_single(self) -> None:
        from napari_dicom_gpu.engine import decode

        rows = []
        plugin, plugin_reason = plugin_loop_factory() if self.gpu else (None, self.gpu_reason)
        for name in (SEED, COLOR3D):
            path = testdata(name)
            if not path:
                self.results["skipped"][f"single-{name}"] = (
                    "file not found (set DICOM_GPU_DATA or install pydicom-data)"
                )
                continue
            row: dict = {"input": name, "backend": self.backend}
            row["pydicom_s"] = measure(lambda p=path: pydicom_loop([p]), repeat=7)["s"]
            row["load_s"] = measure(lambda p=path: load([p], self.backend), repeat=15)["s"]
            row["decode_s"] = measure(lambda p=path: decode(p, self.backend), repeat=15)["s"]
            row["stages"] = layer_stages(load([path], self.backend))
            if plugin is not None:
                p = extra("plugin", lambda p=path: measure(lambda: plugin([p]), repeat=7)["s"])
                row.update({"plugin_s": p["plugin"]} if "plugin" in p else p)
            else:
                row["plugin_skipped"] = plugin_reason
            row.update(extra("floor", lambda p=path: floor(p, self.gpu)).get("floor", {}))
            if row.get("floor_s"):
                row["load_over_floor"] = row["load_s"] / row["floor_s"]
                row["decode_over_floor"] = row["decode_s"] / row["floor_s"]
            row["speedup_vs_pydicom"] = row["pydicom_s"] / row["load_s"]
            rows.append(row)
            print(
                f"  {name}: load {row['load_s'] * 1000:.2f} ms, floor {row.get('floor_s', 0) * 1000:.2f} ms",
                flush=True,
            )
        self.results["parts"]["single"] = {
            "rows": rows,
            "how": "medians after a warm-up: pydicom pixel_array (7), load([file]) (15), decode(file) (15), "
            "floor: nvImageCodec decoding the pre-split frames into a preallocated pinned host buffer with "
            "a decoder made once, the fastest of its backend choices closest to pydicom (max abs diff)",
        }

    # 7 -------------------------------------------------------------------------------------------
    def part_thread(self) -> None:
        rows = []
        for name in (SEED, COLOR3D):
            path = testdata(name)
            if not path:
                continue
            load([path], self.backend)
            same = []
            fresh = []
            for _ in range(self.args.thread_repeat):
                start = time.perf_counter()
                load([path], self.backend)
                same.append(time.perf_counter() - start)
                box: dict = {}

                def work(p=path, out=box):
                    start = time.perf_counter()
                    try:
                        load([p], self.backend)
                    except Exception as exc:  # reported, not raised in a thread
                        out["error"] = str(exc)
                    out["s"] = time.perf_counter() - start

                thread = threading.Thread(target=work)
                thread.start()
                thread.join()
                if "error" in box:
                    raise RuntimeError(box["error"])
                fresh.append(box["s"])
            s, f = statistics.median(same), statistics.median(fresh)
            rows.append(
                {
                    "input": name,
                    "backend": self.backend,
                    "same_thread_s": s,
                    "fresh_thread_s": f,
                    "fresh_over_same": f / s,
                    "repeat": self.args.thread_repeat,
                }
            )
            print(f"  {name}: same {s * 1000:.2f} ms, fresh thread {f * 1000:.2f} ms", flush=True)
        self.results["parts"]["thread"] = {
            "rows": rows,
            "how": "alternating: load([file]) in the main thread, then in a new threading.Thread (timed inside "
            "it); medians",
        }

    # 8 -------------------------------------------------------------------------------------------
    def part_import(self) -> None:
        path = testdata(SEED)
        runs = [
            run_child(["--child-import", path, self.backend], timeout=120)
            for _ in range(self.args.import_repeat)
        ]
        good = [r for r in runs if "import_s" in r]
        row: dict = {"backend": self.backend, "runs": runs}
        for key in ("import_s", "import_loading_s", "first_load_s", "second_load_s"):
            values = [r[key] for r in good if key in r]
            if values:
                row[key] = statistics.median(values)
        if good:
            row["heavy_modules_after_import"] = good[0].get("heavy_modules_after_import")
        self.results["parts"]["import"] = {
            "row": row,
            "how": f"{self.args.import_repeat} fresh processes, medians: import napari_dicom_gpu, then "
            "napari_dicom_gpu.loading, then two loads of the seed file",
        }


# -- helpers that need more than one line ---------------------------------------------------------
def extra(key: str, fn) -> dict:
    """``{key: fn()}``, or ``{key + "_error": why}``: a failing side measurement never costs a part."""
    try:
        return {key: fn()}
    except Exception as exc:
        return {f"{key}_error": f"{type(exc).__name__}: {str(exc)[:160]}"}


def hu_difference(data: np.ndarray, files: list[str]) -> float | None:
    """Largest |layer - pydicom's modality LUT output| over the files, or None when shapes differ."""
    from pydicom.pixels import apply_modality_lut

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        worst = 0.0
        for k, p in enumerate(files):
            ds = pydicom.dcmread(p)
            ref = apply_modality_lut(ds.pixel_array, ds)
            if data.shape[1:] != ref.shape:
                return None
            worst = max(worst, float(np.abs(np.asarray(data[k], np.float64) - ref).max()))
    return worst


def max_diff(ours: np.ndarray, ref: np.ndarray) -> float | None:
    if ours.size != ref.size:
        return None
    return float(np.abs(ours.reshape(ref.shape).astype(np.float64) - ref.astype(np.float64)).max())


def simpleitk(folder: str, ours_s: float) -> dict:
    """SimpleITK's ImageSeriesReader on the same folder, when SimpleITK is installed."""
    try:
        import SimpleITK as sitk  # noqa: N813
    except ImportError:
        return {"simpleitk_skipped": "SimpleITK is not installed"}

    def run():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder))
        return sitk.GetArrayFromImage(reader.Execute())

    t = measure(run)
    return {"simpleitk_s": t["s"], "speedup_vs_simpleitk": t["s"] / ours_s}


def floor(path: str, gpu: bool) -> dict:
    """nvImageCodec alone: pre-split frames, a decoder made once, output into a preallocated
    (pinned, where CuPy is here) host buffer. The fastest of the backend choices whose output is
    closest to pydicom's is the floor."""
    try:
        from nvidia import nvimgcodec as nv
        from pydicom.encaps import generate_frames
    except ImportError as exc:
        return {"floor_skipped": str(exc)}
    ds = pydicom.dcmread(path)
    n = int(ds.get("NumberOfFrames", 1) or 1)
    frames = list(generate_frames(ds.PixelData, number_of_frames=n))
    spp = int(ds.SamplesPerPixel)
    color = nv.ColorSpec.SRGB if spp == 3 else nv.ColorSpec.UNCHANGED
    params = nv.DecodeParams(allow_any_depth=True, color_spec=color)
    if gpu:
        choices = {
            "default": None,
            "gpu_only": [nv.Backend(nv.GPU_ONLY)],
            "hybrid": [nv.Backend(nv.HYBRID_CPU_GPU)],
        }
    else:
        choices = {"cpu_only": [nv.Backend(nv.CPU_ONLY)]}
    out: dict = {"floor_by_backend_s": {}}
    streams = [nv.CodeStream(f) for f in frames]
    shape = (n, int(ds.Rows), int(ds.Columns), spp)
    dtype = np.uint8 if int(ds.BitsAllocated) <= 8 else np.uint16
    try:
        import cupyx

        host = cupyx.empty_pinned(shape, dtype)
        out["floor_buffer"] = "pinned"
    except Exception:
        host = np.empty(shape, dtype)
        out["floor_buffer"] = "pageable"
    images = [nv.as_image(host[i]) for i in range(n)]
    reference = pydicom_loop([path]).reshape(shape)
    for label, backends in choices.items():
        try:
            kwargs = {} if backends is None else {"backends": backends}
            if not gpu:
                kwargs["device_id"] = nv.NVIMGCODEC_DEVICE_CPU_ONLY
            decoder = nv.Decoder(**kwargs)

            def run(d=decoder):
                result = d.decode(streams, images=images, params=params)
                sync_gpu()
                return result

            result = run()
            if any(r is None for r in result):
                out["floor_by_backend_s"][label] = None
                continue
            out["floor_by_backend_s"][label] = measure(run, repeat=15)["s"]
            out.setdefault("floor_max_abs_diff", {})[label] = float(
                np.abs(host.astype(np.int32) - reference.astype(np.int32)).max()
            )
        except Exception as exc:
            out["floor_by_backend_s"][label] = None
            out.setdefault("floor_errors", {})[label] = f"{type(exc).__name__}: {str(exc)[:100]}"
    # The floor is the fastest of the most exact choices: a faster backend whose pixels differ
    # more from pydicom's (nvJPEG's hybrid IDCT on lossy JPEG) is not what a load delivers.
    timed = {k: v for k, v in out["floor_by_backend_s"].items() if v}
    diffs = out.get("floor_max_abs_diff", {})
    if timed:
        least = min(diffs.get(k, 0.0) for k in timed)
        exact = {k: v for k, v in timed.items() if diffs.get(k, 0.0) == least}
        best = min(exact, key=exact.get)
        out.update(floor_s=timed[best], floor_backend=best, floor_rule="fastest of the backends closest to pydicom")
    return out


def run_child(argv: list[str], timeout: int) -> dict:
    """This script in a fresh interpreter; its last stdout line is JSON."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv]
    if argv[0] == "--child-import":
        cmd = [sys.executable, "-c", IMPORT_PROBE, *argv[1:]]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"}
    out = json.loads(lines[-1])
    out["process_wall_s"] = wall
    return out


def rss_bytes() -> int:
    """Resident set size now (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """This process's peak resident set size.

    ``VmHWM`` rather than ``ru_maxrss``: Linux keeps ``ru_maxrss`` across fork and exec, so a child
    of a large benchmark process would report its parent's peak.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def reset_peak_rss() -> bool:
    """Start a new peak (Linux >= 4.0: ``echo 5 > /proc/self/clear_refs``); False when not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def child_memory(folder: str, backend: str) -> dict:
    import napari_dicom_gpu.engine  # noqa: F401
    import napari_dicom_gpu.loading  # noqa: F401

    after_imports = peak_rss_bytes()
    outcome = load([folder], backend)
    peak = peak_rss_bytes()
    data = outcome.layers[0].data
    volume = data.nbytes
    stored = data.size * 2  # the 16-bit stored values
    return {
        "after_imports_mb": after_imports / 1e6,
        "peak_mb": peak / 1e6,
        "rss_after_mb": rss_bytes() / 1e6,
        "volume_mb": volume / 1e6,
        "layer_dtype": str(data.dtype),
        "peak_over_volume": (peak - after_imports) / volume,
        "peak_over_stored_volume": (peak - after_imports) / stored,
        "stages": layer_stages(outcome),
    }


def child_memory_after_init(folder: str, backend: str) -> dict:
    """The same, but a one-file load first so codec and CUDA start-up are not counted."""
    import napari_dicom_gpu.engine  # noqa: F401
    import napari_dicom_gpu.loading  # noqa: F401

    first = files_in(Path(folder))[0]
    load([first], backend)
    gc.collect()
    before = rss_bytes()
    if not reset_peak_rss():
        return {"after_init_error": "cannot reset the peak RSS here (/proc/self/clear_refs)"}
    outcome = load([folder], backend)
    peak = peak_rss_bytes()
    return {
        "after_init_mb": before / 1e6,
        "peak_over_volume_after_init": (peak - before) / outcome.layers[0].data.nbytes,
    }


#: Run with ``python -c`` so that nothing but the interpreter is loaded before the import.
IMPORT_PROBE = """
import json, sys, time
path, backend = sys.argv[1], sys.argv[2]
start = time.perf_counter()
import napari_dicom_gpu
t_import = time.perf_counter() - start
heavy = sorted(m for m in ("cupy", "torch", "nvidia.nvimgcodec", "pydicom", "numpy", "scipy") if m in sys.modules)
start = time.perf_counter()
from napari_dicom_gpu import loading
t_loading = time.perf_counter() - start
times = []
for _ in range(2):
    start = time.perf_counter()
    outcome = loading.load([path], backend)
    times.append(time.perf_counter() - start)
    assert outcome.layers and not outcome.problems, outcome.problems
print(json.dumps({"import_s": t_import, "import_loading_s": t_loading, "first_load_s": times[0],
                  "second_load_s": times[1], "heavy_modules_after_import": heavy}))
"""


# -- reporting -----------------------------------------------------------------------------------
def _get(results: dict, part: str, key: str = "rows"):
    return results.get("parts", {}).get(part, {}).get(key)


def summary(results: dict) -> list[dict]:
    """One row per target of issue 9: what we measured, the baseline, the ratio, the target."""
    rows: list[dict] = []

    def add(metric, ours, baseline=None, value=None, target="", met=None):
        rows.append(
            {
                "metric": metric,
                "ours": ours,
                "baseline": baseline,
                "ratio": value,
                "target": target,
                "met": met,
            }
        )

    scaling = _get(results, "scaling") or []
    if scaling:
        big, small = scaling[-1], scaling[0]
        add(
            f"{big['files']}-file {big['syntax'].upper()} load warm ({big['backend']})",
            f"{big['load_s']:.3f} s",
            f"pydicom {big['pydicom_s']:.2f} s" if "pydicom_s" in big else None,
            ratio(big.get("pydicom_s"), big["load_s"]),
            "<= 1.0 s, >= 12x pydicom",
            big["load_s"] <= 1.0 and big.get("speedup_vs_pydicom", 0) >= 12,
        )
        growth = big["load_per_file_ms"] / small["load_per_file_ms"]
        add(
            f"per-file time {small['files']} -> {big['files']} files",
            f"{small['load_per_file_ms']:.2f} -> {big['load_per_file_ms']:.2f} ms",
            None,
            f"{growth:.2f}x",
            "within 20%",
            growth <= 1.2,
        )
        if "plugin_s" in small:
            add(
                f"{small['files']}-file load vs nvImageCodec pydicom plugin",
                f"{small['load_s']:.3f} s",
                f"plugin {small['plugin_s']:.3f} s",
                ratio(small["plugin_s"], small["load_s"]),
                "",
                None,
            )
    header = _get(results, "header") or []
    if header:
        big = header[-1]
        add(
            f"{big['files']}-file header path (load_series)",
            f"{big['load_series_s']:.3f} s",
            f"dcmread(stop_before_pixels) {big['dcmread_s']:.3f} s",
            ratio(big["dcmread_s"], big["load_series_s"]),
            ">= 4x",
            big["speedup"] >= 4,
        )
    j2k = _get(results, "j2k", "row")
    if j2k:
        add(
            f"{j2k['files']}-file J2K lossless load vs its GPU decode",
            f"{j2k['load_s']:.3f} s",
            f"GPU decode {j2k['gpu_decode_to_host_s']:.3f} s",
            f"{j2k['load_over_gpu_decode']:.2f}x",
            "<= 1.3x",
            j2k["load_over_gpu_decode"] <= 1.3,
        )
        if "speedup_vs_simpleitk" in j2k:
            add(
                "J2K lossless load vs SimpleITK",
                f"{j2k['load_s']:.3f} s",
                f"SimpleITK {j2k['simpleitk_s']:.2f} s",
                ratio(j2k["simpleitk_s"], j2k["load_s"]),
                ">= 10x",
                j2k["speedup_vs_simpleitk"] >= 10,
            )
    for m in _get(results, "memory") or []:
        if "peak_over_volume" in m:
            limit = 1.5 if m["backend"] == "gpu" else 2.0
            extra = (
                f" ({m['peak_over_volume_after_init']:.2f}x after init)"
                if "peak_over_volume_after_init" in m
                else ""
            )
            add(
                f"peak host memory, {m['files']}-file load, {m['backend']} path, fresh process",
                f"{m['peak_over_volume']:.2f}x volume{extra}",
                f"volume {m['volume_mb']:.0f} MB",
                None,
                f"<= {limit}x",
                m["peak_over_volume"] <= limit,
            )
    cores = results.get("machine", {}).get("cpu_count")
    for c in _get(results, "cpu") or []:
        speed = c["speedup_vs_pydicom"]
        if "native" in c["input"]:
            target, met = ">= 3x (1,000 files, 2 cores)", speed >= 3
        elif "series" in c["input"]:
            target, met = ">= 6x (16 cores)", (speed >= 6) if cores and cores >= 16 else None
        else:
            target, met = ">= 1x", speed >= 1
        add(
            f"CPU mode: {c['input']} ({c['files']} files, {cores} cores)",
            f"{c['cpu_decode_s']:.3f} s",
            f"pydicom {c['pydicom_s']:.3f} s",
            f"{speed:.2f}x",
            target,
            met,
        )
        if c.get("simpleitk_s"):
            native = "native" in c["input"]
            add(
                f"CPU mode load vs SimpleITK: {c['input']} ({c['files']} files, {cores} cores)",
                f"{c['cpu_load_s']:.3f} s",
                f"SimpleITK {c['simpleitk_s']:.3f} s",
                f"{c['speedup_vs_simpleitk']:.2f}x",
                ">= 3x (native series)" if native else "",
                c["speedup_vs_simpleitk"] >= 3 if native else None,
            )
    for s in _get(results, "single") or []:
        add(
            f"{s['input']} load ({s['backend']})",
            f"{s['load_s'] * 1000:.2f} ms",
            f"floor {s['floor_s'] * 1000:.2f} ms" if s.get("floor_s") else None,
            f"{s['load_over_floor']:.2f}x" if "load_over_floor" in s else None,
            "<= 1.5x floor",
            s["load_over_floor"] <= 1.5 if "load_over_floor" in s else None,
        )
    for t in _get(results, "thread") or []:
        add(
            f"{t['input']} load in a fresh thread",
            f"{t['fresh_thread_s'] * 1000:.2f} ms",
            f"same thread {t['same_thread_s'] * 1000:.2f} ms",
            f"{t['fresh_over_same']:.2f}x",
            "<= 1.1x",
            t["fresh_over_same"] <= 1.1,
        )
    imp = _get(results, "import", "row")
    if imp and "import_s" in imp:
        add(
            "import napari_dicom_gpu (fresh process)",
            f"{imp['import_s']:.3f} s",
            None,
            None,
            "<= 0.3 s",
            imp["import_s"] <= 0.3,
        )
        add(
            f"first load of the seed in a fresh process ({imp['backend']})",
            f"{imp['first_load_s']:.3f} s",
            f"second {imp['second_load_s'] * 1000:.1f} ms",
            None,
            "",
            None,
        )
    return rows


def render_markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"# Load benchmark: {m['gpu'] or 'no GPU'}, {m['cpu_count']} CPU cores, {m['date']} {m['time_utc']} UTC",
        "",
        f"Backend for loads: {results['backend']}"
        + (f" ({results['gpu_reason']})" if results["gpu_reason"] else ""),
        "",
    ]
    rows = results.get("summary") or summary(results)
    if rows:
        lines += [
            "## Summary (issue 9 targets)",
            "",
            targets_table(rows),
            "",
        ]
    scaling = {r["files"]: r for r in _get(results, "scaling") or []}
    header = {r["files"]: r for r in _get(results, "header") or []}
    memory = {(r.get("files"), r.get("backend")): r for r in _get(results, "memory") or []}
    if scaling or header:
        body = []
        for n in sorted(set(scaling) | set(header)):
            s, h = scaling.get(n, {}), header.get(n, {})
            mem = memory.get((n, results["backend"]), {})
            body.append(
                [
                    n,
                    ms(s.get("load_s"), 0),
                    f"{s['load_per_file_ms']:.2f}" if s else None,
                    ms(s.get("pydicom_s"), 0),
                    ratio(s.get("pydicom_s"), s.get("load_s")),
                    ms(h.get("load_series_s"), 0),
                    ms(h.get("dcmread_s"), 0),
                    ratio(h.get("dcmread_s"), h.get("load_series_s")),
                    f"{mem['peak_over_volume']:.2f}x" if "peak_over_volume" in mem else None,
                ]
            )
        lines += [
            "## Scaling",
            "",
            markdown_table(
                [
                    "files",
                    "load ms",
                    "ms/file",
                    "pydicom ms",
                    "x pydicom",
                    "load_series ms",
                    "dcmread ms",
                    "x dcmread",
                    "peak mem / volume",
                ],
                body,
            ),
            "",
        ]
    for part, reason in results.get("skipped", {}).items():
        lines.append(f"- skipped {part}: {reason}")
    for part, error in results.get("errors", {}).items():
        lines.append(f"- ERROR in {part}: {error}")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--parts",
        default="all",
        help="comma-separated names or numbers (default all): "
        + ", ".join(f"{i} {p}" for i, p in enumerate(PARTS, 1)),
    )
    parser.add_argument(
        "--sizes", default="250,500,1000,2000", help="folder sizes for parts 1, 2 and 4"
    )
    parser.add_argument(
        "--series-files", type=int, default=300, help="files of the J2K/HTJ2K series (parts 3, 5)"
    )
    parser.add_argument(
        "--native-files", type=int, default=1000, help="files of the native series (part 5)"
    )
    parser.add_argument(
        "--pydicom-all-sizes", action="store_true", help="pydicom loop at every size, not only ends"
    )
    parser.add_argument("--thread-repeat", type=int, default=10)
    parser.add_argument("--import-repeat", type=int, default=3)
    parser.add_argument("--no-gpu", action="store_true", help="measure as if no GPU were here")
    parser.add_argument(
        "--out", default=str(RESULTS), help="folder for the JSON and markdown results"
    )
    parser.add_argument(
        "--tmp", default=None, help="where to write the synthetic series (default: system temp)"
    )
    parser.add_argument("--child-memory", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-memory-after-init", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    chosen = PARTS if args.parts == "all" else [p.strip() for p in args.parts.split(",")]
    args.parts = [PARTS[int(p) - 1] if p.isdigit() else p for p in chosen]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("PYNVIMGCODEC_VERBOSITY", "1")
    if args.child_memory:
        print(json.dumps(child_memory(*args.child_memory)))
        return 0
    if args.child_memory_after_init:
        print(json.dumps(child_memory_after_init(*args.child_memory_after_init)))
        return 0
    bench = Bench(args)
    print(
        f"card: {bench.results['machine']['card']}; backend: {bench.backend}"
        + (f" ({bench.gpu_reason})" if bench.gpu_reason else ""),
        flush=True,
    )
    bench.run()
    print(f"\nwrote {bench.json_path} and {bench.md_path} ({bench.results['elapsed_s']} s)\n")
    print(render_markdown(bench.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
