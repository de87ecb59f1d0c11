#!/usr/bin/env python
"""Differential fuzz of pydicom JPEG 2000 decoding: GDCM plugin vs pylibjpeg plugin.

Usage:
    python benchmarks/gdcm_vs_pylibjpeg.py                 # full run (generate, decode, classify, report)
    python benchmarks/gdcm_vs_pylibjpeg.py worker PLUGIN DCM OUT.npy   # internal: decode one file

Each decode runs in its own subprocess (so abort()/segfault is survivable) with a
60 s timeout. Output goes to $GDCM_FUZZ_DIR (default <tmp>/gdcm-fuzz)/{cases,npy,results.json,report.md}.
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(os.environ.get("GDCM_FUZZ_DIR", os.path.join(tempfile.gettempdir(), "gdcm-fuzz")))
CASES = ROOT / "cases"
NPY = ROOT / "npy"
PY = sys.executable
TIMEOUT = 60
SEED = 20240607
PLUGINS = ("gdcm", "pylibjpeg")


# --------------------------------------------------------------------------- worker
def worker(plugin, path, out):
    import warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import pydicom
    import pydicom.pixels

    try:
        ds = pydicom.dcmread(path)
        arr, _ = pydicom.pixels.get_decoder(ds.file_meta.TransferSyntaxUID).as_array(
            ds, decoding_plugin=plugin
        )
    except BaseException as exc:  # noqa: BLE001 - report any Python-level failure
        msg = f"{type(exc).__name__}: {exc}".replace("\n", " | ")
        print(json.dumps({"status": "raise", "error": msg[:400]}))
        return
    np.save(out, arr)
    print(json.dumps({"status": "ok", "shape": list(arr.shape), "dtype": str(arr.dtype)}))


# ----------------------------------------------------------------------- selection
def select_files():
    import warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import pydicom
    from pydicom.data import get_testdata_files
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEG2000, JPEG2000Lossless

    chosen = []
    for f in sorted(set(get_testdata_files("*"))):
        try:
            ds = pydicom.dcmread(f)
            ts = ds.file_meta.TransferSyntaxUID
        except Exception:
            continue
        if ts not in (JPEG2000Lossless, JPEG2000):
            continue
        arrs = {}
        try:
            for p in PLUGINS:
                arrs[p], _ = get_decoder(ts).as_array(ds, decoding_plugin=p)
        except Exception as exc:
            print(f"skip {Path(f).name}: intact decode fails ({type(exc).__name__})")
            continue
        if not np.array_equal(arrs["gdcm"], arrs["pylibjpeg"]):
            print(f"note {Path(f).name}: intact decodes differ between plugins")
        chosen.append((f, arrs["pylibjpeg"]))
    return chosen


# ----------------------------------------------------------------------- mutations
def mutations(cs: bytes, rng: random.Random):
    """Return list of (name, mutated_codestream)."""
    n = len(cs)
    H = min(200, n // 2)  # header area (first 200 bytes; first half for tiny streams)
    body_lo = H
    out = [("identity", cs)]

    def rpos(lo, hi):
        return rng.randrange(lo, max(lo + 1, hi))

    for pct in (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95):
        out.append((f"trunc_{pct}%", cs[: max(1, n * pct // 100)]))
    out.append(("trunc_drop_EOC(-2B)", cs[:-2]))

    def flip(lo, hi, k):
        b = bytearray(cs)
        offs = rng.sample(range(lo, hi), k)
        for o in offs:
            b[o] ^= rng.randrange(1, 256)
        return bytes(b), offs

    for area, lo, hi in (("hdr", 0, H), ("body", body_lo, n)):
        for k, reps in ((1, 4), (4, 2), (32, 2)):
            for r in range(reps):
                m, offs = flip(lo, hi, k)
                tag = f"@{offs[0]}" if k == 1 else ""
                out.append((f"flip{k}_{area}_{r}{tag}", m))

    def zero(lo, length, name):
        b = bytearray(cs)
        hi = min(n, lo + length)
        b[lo:hi] = bytes(hi - lo)
        out.append((f"{name}@{lo}+{hi - lo}", bytes(b)))

    zero(rpos(0, H - 16), 16, "zero16_hdr")
    zero(rpos(body_lo, n - 64), 64, "zero64_body")
    zero(rpos(body_lo, n - 1024), 1024, "zero1k_body")
    zero(n // 2, n // 10, "zero_50-60%")
    zero(n - n // 10 - 2, n // 10, "zero_last10%_keepEOC")

    def dup(lo, length, name):
        chunk = cs[lo : lo + length]
        out.append((f"{name}@{lo}+{len(chunk)}", cs[: lo + length] + chunk + cs[lo + length :]))

    dup(rpos(body_lo, n - 256), 256, "dup256_body")
    dup(rpos(body_lo, n - 4096), 4096, "dup4k_body")
    dup(rpos(0, H - 32), 32, "dup32_hdr")
    return out


def build_cases(chosen):
    import warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import pydicom
    from pydicom.encaps import encapsulate, generate_frames

    CASES.mkdir(parents=True, exist_ok=True)
    NPY.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    cases = []
    for f, ref in chosen:
        stem = Path(f).stem
        np.save(NPY / f"{stem}__REF.npy", ref)
        ds = pydicom.dcmread(f)
        nf = int(ds.get("NumberOfFrames", 1) or 1)
        frames = list(generate_frames(ds.PixelData, number_of_frames=nf))
        assert len(frames) == nf
        for i, (name, m) in enumerate(mutations(frames[0], rng)):
            ds2 = pydicom.dcmread(f)
            ds2.PixelData = encapsulate([m] + frames[1:])
            ds2["PixelData"].is_undefined_length = True
            if "NumberOfFrames" in ds2 or nf > 1:
                ds2.NumberOfFrames = nf
            p = CASES / f"{stem}__{i:02d}.dcm"
            ds2.save_as(p, enforce_file_format=True)
            cases.append({"file": Path(f).name, "stem": stem, "idx": i, "mut": name,
                          "cs_len": len(frames[0]), "path": str(p),
                          "ref": str(NPY / f"{stem}__REF.npy")})
    return cases


# ------------------------------------------------------------------------ decoding
def run_one(case, plugin):
    out = NPY / f"{case['stem']}__{case['idx']:02d}__{plugin}.npy"
    t = time.time()
    try:
        cp = subprocess.run([PY, __file__, "worker", plugin, case["path"], str(out)],
                            capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"status": "hang", "secs": TIMEOUT}
    secs = round(time.time() - t, 2)
    if cp.returncode != 0:
        sig = -cp.returncode if cp.returncode < 0 else None
        return {"status": "crash", "rc": cp.returncode, "signal": sig, "secs": secs,
                "stderr": cp.stderr[-300:]}
    try:
        res = json.loads(cp.stdout.strip().splitlines()[-1])
    except Exception:
        return {"status": "crash", "rc": 0, "stderr": cp.stdout[-300:] + cp.stderr[-300:]}
    res["secs"] = secs
    if res["status"] == "ok":
        res["npy"] = str(out)
    res["stderr"] = cp.stderr[-200:]
    return res


def compare(a_path, b_path):
    import numpy as np
    a, b = np.load(a_path), np.load(b_path)
    if a.shape != b.shape:
        return {"equal": False, "shape_mismatch": [list(a.shape), list(b.shape)], "maxdiff": None}
    if np.array_equal(a, b):
        return {"equal": True, "maxdiff": 0}
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return {"equal": False, "maxdiff": float(d.max()), "frac_diff": float((d > 0).mean())}


def classify(c):
    g, p = c["gdcm"], c["pylibjpeg"]
    gs, ps = g["status"], p["status"]
    if gs in ("crash", "hang"):
        return "GDCM crash/hang" if ps != "crash" and ps != "hang" else "both crash/hang"
    if ps in ("crash", "hang"):
        return "pylibjpeg crash/hang"
    if gs == "raise" and ps == "raise":
        return "both raise"
    if gs == "ok" and ps == "ok":
        return "both ok, equal" if c["gp"]["equal"] else "both ok, DIFFER"
    if gs == "ok":
        return ("GDCM ok / pylj raises (= intact)" if c["g_vs_ref"]["equal"]
                else "GDCM ok / pylj raises (WRONG px)")
    return "pylj ok / GDCM raises"


CLASSES = ["both raise", "both ok, equal", "both ok, DIFFER",
           "GDCM ok / pylj raises (= intact)", "GDCM ok / pylj raises (WRONG px)",
           "pylj ok / GDCM raises", "GDCM crash/hang", "pylibjpeg crash/hang", "both crash/hang"]
SHORT = ["both-raise", "both-ok-eq", "both-ok-DIFF", "G-ok/P-raise =intact",
         "G-ok/P-raise WRONG", "P-ok/G-raise", "G-crash/hang", "P-crash/hang", "both-crash"]


def report(cases, elapsed):
    files = sorted({c["file"] for c in cases})
    lines = ["# GDCM vs pylibjpeg on damaged JPEG 2000 codestreams\n",
             (f"pydicom test files with JPEG 2000 transfer syntax (.90/.91) that both plugins decode "
             f"intact: {len(files)}. Mutations of frame 1's codestream per file: "
             f"{len(cases) // max(1, len(files))} (incl. 1 identity control). Seed {SEED}. "
             f"Each decode in its own subprocess, {TIMEOUT} s timeout. Total cases: {len(cases)}, "
             f"run time {elapsed:.0f} s.\n"),
             "Versions: " + versions() + "\n",
             "## Counts per class\n",
             "| file | " + " | ".join(SHORT) + " |",
             "|---|" + "---|" * len(SHORT)]
    tot = dict.fromkeys(CLASSES, 0)
    for f in files:
        cnt = dict.fromkeys(CLASSES, 0)
        for c in cases:
            if c["file"] == f:
                cnt[c["class"]] += 1
        for k in CLASSES:
            tot[k] += cnt[k]
        lines.append(f"| {f} | " + " | ".join(str(cnt[k]) for k in CLASSES) + " |")
    lines.append("| **total** | " + " | ".join(f"**{tot[k]}**" for k in CLASSES) + " |")
    lines.append("")
    lines.append("Column key: " + "; ".join(f"`{s}` = {k}" for s, k in zip(SHORT, CLASSES, strict=False)) + ".\n")

    # how often does each decoder silently return wrong pixels at all?
    g_wrong = sum(1 for c in cases if c["gdcm"]["status"] == "ok" and not c["g_vs_ref"]["equal"])
    p_wrong = sum(1 for c in cases if c["pylibjpeg"]["status"] == "ok" and not c["p_vs_ref"]["equal"])
    g_raise = sum(1 for c in cases if c["gdcm"]["status"] != "ok")
    p_raise = sum(1 for c in cases if c["pylibjpeg"]["status"] != "ok")
    lines.append("## Per-decoder summary (vs. intact pixels)\n")
    lines.append("| decoder | returns array == intact | returns array != intact (silent corruption) | raises/crashes/hangs |")
    lines.append("|---|---|---|---|")
    n = len(cases)
    lines.append(f"| gdcm | {n - g_wrong - g_raise} | {g_wrong} | {g_raise} |")
    lines.append(f"| pylibjpeg | {n - p_wrong - p_raise} | {p_wrong} | {p_raise} |")
    lines.append("")

    worry = [c for c in cases if c["class"] in ("GDCM ok / pylj raises (WRONG px)", "both ok, DIFFER")]
    lines.append(f"## Worrying cases ({len(worry)} total, up to 10 shown)\n")
    if worry:
        lines.append("| case | class | GDCM vs intact | pylibjpeg | GDCM vs pylibjpeg |")
        lines.append("|---|---|---|---|---|")
        # prefer the GDCM-only ones first
        worry.sort(key=lambda c: (c["class"] != "GDCM ok / pylj raises (WRONG px)", c["file"], c["idx"]))
        for c in worry[:10]:
            pl = (c["pylibjpeg"].get("error", "")[:90] if c["pylibjpeg"]["status"] != "ok"
                  else "ok, " + fmtcmp(c["p_vs_ref"]) + " vs intact")
            gp = fmtcmp(c["gp"]) if c.get("gp") else "-"
            lines.append(f"| {c['file']} #{c['idx']} `{c['mut']}` | {c['class']} | "
                         f"{fmtcmp(c['g_vs_ref'])} | {pl} | {gp} |")
    else:
        lines.append("None.")
    lines.append("")
    crashes = [c for c in cases if "crash" in c["class"] or "hang" in c["class"]]
    if crashes:
        lines.append("## Crashes / hangs\n")
        for c in crashes[:20]:
            for p in PLUGINS:
                r = c[p]
                if r["status"] in ("crash", "hang"):
                    lines.append(f"- {c['file']} #{c['idx']} `{c['mut']}` {p}: {r['status']} "
                                 f"rc={r.get('rc')} signal={r.get('signal')}")
        lines.append("")
    lines.append("Raw per-case data: results.json; mutated files in cases/, arrays in npy/.")
    (ROOT / "report.md").write_text("\n".join(lines) + "\n")


def fmtcmp(d):
    if d is None:
        return "-"
    if d["equal"]:
        return "equal"
    if d.get("shape_mismatch"):
        return f"shape {d['shape_mismatch'][0]} vs {d['shape_mismatch'][1]}"
    return f"maxdiff {d['maxdiff']:g} ({100 * d['frac_diff']:.1f}% px)"


def versions():
    import importlib.metadata as md
    return ", ".join(f"{p} {md.version(p)}" for p in
                     ("pydicom", "python-gdcm", "pylibjpeg", "pylibjpeg-openjpeg", "numpy"))


def main():
    t0 = time.time()
    chosen = select_files()
    print(f"{len(chosen)} files selected")
    cases = build_cases(chosen)
    print(f"{len(cases)} cases built ({time.time() - t0:.0f}s)")
    jobs = [(c, p) for c in cases for p in PLUGINS]
    done = 0

    def go(job):
        c, p = job
        c[p] = run_one(c, p)
        return job

    with ThreadPoolExecutor(max_workers=2) as ex:
        for _ in ex.map(go, jobs):
            done += 1
            if done % 100 == 0:
                print(f"  {done}/{len(jobs)} decodes ({time.time() - t0:.0f}s)", flush=True)

    for c in cases:
        g, p = c["gdcm"], c["pylibjpeg"]
        c["g_vs_ref"] = compare(g["npy"], c["ref"]) if g["status"] == "ok" else None
        c["p_vs_ref"] = compare(p["npy"], c["ref"]) if p["status"] == "ok" else None
        c["gp"] = compare(g["npy"], p["npy"]) if g["status"] == p["status"] == "ok" else None
        c["class"] = classify(c)
        if c["mut"] == "identity" and c["class"] != "both ok, equal":
            print("WARNING identity control not equal:", c["file"], c["class"])
    elapsed = time.time() - t0
    (ROOT / "results.json").write_text(json.dumps(cases, indent=1))
    report(cases, elapsed)
    print((ROOT / "report.md").read_text())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(*sys.argv[2:5])
    else:
        main()
