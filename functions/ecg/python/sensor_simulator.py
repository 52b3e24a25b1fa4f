#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Sensor-hub simulator: the Python twin of the native sensor_simulator
(functions/ecg/sensor_simulator.cc). Writes the same chunk files, byte for byte.

usage: sensor_simulator.py INPUT OUTDIR [chunk_samples=1000]

INPUT is either
  - a recording: one or two numeric columns (separated by spaces, tabs, commas
    or semicolons; with two, the last is the signal in mV), optional header
    lines before the data, '#' comments, and a "# fs=<Hz>" line (a file
    without one, or without samples, is not an ECG record and is refused);
  - a synthetic-patient spec: first line "# overlay-synthetic-ecg", then
    "key = value" lines. Keys (defaults): fs (360, 50..10000 Hz),
    duration_s (60, (0, 86400]), hr_bpm (70, 20..250), seed (1, unsigned),
    noise_mv (0.01, white noise SD), wander_mv (0.1, baseline wander),
    mains_mv (0, 50 Hz hum), amplitude_mv (1.0, R wave, (0, 10]),
    rsa (0.05, RR modulation by breathing, [0, 0.49]), resp_hz (0.25, (0, 2]),
    drift (0.05, slow RR drift, [0, 0.49]), pvc_fraction (0, [0, 0.5]).
Writes OUTDIR/<input stem>_<5-digit index>.txt, chunk_samples samples each,
with "# stream=" from env OVERLAY_STREAM (default: the input stem).
A malformed input fails with its line number (exit status 1).
Standard library only (python3 >= 3.11).
"""
import math
import os
import re
import sys
from array import array

DEFAULT_FS = 360.0
MAGIC = "# overlay-synthetic-ecg"
TWO_PI = 2.0 * math.pi
MASK64 = (1 << 64) - 1

_FLOAT_RE = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|-?(?:inf|infinity|nan)", re.I)


# -- synthetic ECG (functions/ecg/synthetic_ecg.cc) -----------------------------
class Rng:
    """SplitMix64, as in synthetic_ecg.cc."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def gauss(self):
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(TWO_PI * u2)


# (offset s, amplitude mV, width s)
NORMAL_WAVES = ((-0.2, 0.12, 0.025), (-0.03, -0.10, 0.008), (0.0, 1.0, 0.010),
                (0.03, -0.22, 0.010), (0.28, 0.28, 0.045))
PVC_WAVES = ((0.0, 1.3, 0.03), (0.07, -0.45, 0.035), (0.33, -0.35, 0.07))

SPEC_FIELDS = {  # key: (low, high, low bound open)
    "fs": (50, 10000, False),
    "duration_s": (0, 86400, True),
    "hr_bpm": (20, 250, False),
    "noise_mv": (0, 10, False),
    "wander_mv": (0, 10, False),
    "mains_mv": (0, 10, False),
    "amplitude_mv": (0, 10, True),
    "rsa": (0, 0.49, False),
    "resp_hz": (0, 2, True),
    "drift": (0, 0.49, False),
    "pvc_fraction": (0, 0.5, False),
}
SPEC_DEFAULTS = {"fs": 360.0, "duration_s": 60.0, "hr_bpm": 70.0, "seed": 1, "noise_mv": 0.01,
                 "wander_mv": 0.1, "mains_mv": 0.0, "amplitude_mv": 1.0, "rsa": 0.05,
                 "resp_hz": 0.25, "drift": 0.05, "pvc_fraction": 0.0}


def _add_wave(sig, fs, center, amp, width):
    n = len(sig)
    k0 = max(0, math.ceil((center - 4.0 * width) * fs))
    k1 = min(n - 1, math.floor((center + 4.0 * width) * fs))
    for k in range(k0, k1 + 1):
        d = (k / fs - center) / width
        sig[k] += amp * math.exp(-0.5 * d * d)


def generate_synthetic_ecg(o):
    """Returns (samples rounded to 1 uV, R-peak sample indices)."""
    rng = Rng(o["seed"])
    fs = o["fs"]
    mean_rr = 60.0 / o["hr_bpm"]
    phase_resp = TWO_PI * rng.uniform()
    phase_drift = TWO_PI * rng.uniform()
    phase_wander = TWO_PI * rng.uniform()
    plan = []
    end = o["duration_s"] - 0.4
    t = 0.3 + 0.4 * rng.uniform()
    while t < end:
        rr = (mean_rr * (1.0 + o["rsa"] * math.sin(TWO_PI * o["resp_hz"] * t + phase_resp)
                         + o["drift"] * math.sin(TWO_PI * t / 90.0 + phase_drift))
              * (1.0 + 0.02 * rng.gauss()))
        rr = max(rr, 0.6 * mean_rr)
        amp = o["amplitude_mv"] * (1.0 + 0.1 * math.sin(TWO_PI * o["resp_hz"] * t + phase_resp))
        plan.append((t, math.sqrt(rr), amp, False))
        if rng.uniform() < o["pvc_fraction"]:
            tp = t + 0.62 * rr
            if tp < end:
                plan.append((tp, math.sqrt(rr), amp, True))
            t += 2.0 * rr
        else:
            t += rr
    n = math.floor(o["duration_s"] * fs)
    sig = [0.0] * max(0, n)
    r_peaks = []
    for bt, scale, bamp, pvc in plan:
        for off, wamp, width in (PVC_WAVES if pvc else NORMAL_WAVES):
            scaled = off < -0.1 or off > 0.1
            center = bt + (off * scale if scaled else off)
            _add_wave(sig, fs, center, wamp * bamp, width)
        k = math.floor(bt * fs + 0.5)
        if k < n:
            r_peaks.append(k)
    wander_mv, mains_mv, noise_mv = o["wander_mv"], o["mains_mv"], o["noise_mv"]
    out = [0.0] * len(sig)
    for k in range(n):
        tk = k / fs
        wander = wander_mv * (0.7 * math.sin(TWO_PI * 0.15 * tk + phase_wander)
                              + 0.3 * math.sin(TWO_PI * 0.04 * tk + 2.0 * phase_wander))
        mains = mains_mv * math.sin(TWO_PI * 50.0 * tk)
        v = sig[k] + wander + mains + noise_mv * rng.gauss()
        out[k] = math.floor(v * 1000.0 + 0.5) / 1000.0
    return out, r_peaks


def is_synthetic_spec(text):
    return text.split("\n", 1)[0].strip(" \t\r") == MAGIC


def parse_synthetic_spec(text):
    if not is_synthetic_spec(text):
        raise ValueError(f"synthetic spec line 1: expected '{MAGIC}'")
    o = dict(SPEC_DEFAULTS)
    if text.endswith("\n"):
        text = text[:-1]
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(" \t\r")
        if n == 1 or not line or line[0] == "#":
            continue

        def bad(why):
            return ValueError(f"synthetic spec line {n}: {why}: '{line[:60]}'")

        if "=" not in line:
            raise bad("expected 'key = value'")
        key, value = (s.strip(" \t\r") for s in line.split("=", 1))
        if key == "seed":
            if not re.fullmatch(r"\d+", value) or int(value) > MASK64:
                raise bad("seed must be an unsigned integer")
            o["seed"] = int(value)
            continue
        if key not in SPEC_FIELDS:
            raise bad("unknown key")
        if not _FLOAT_RE.fullmatch(value) or not math.isfinite(float(value)):
            raise bad("not a number")
        v = float(value)
        lo, hi, lo_open = SPEC_FIELDS[key]
        if v > hi or v < lo or (lo_open and v == lo):
            raise bad(f"{key} must be in {'(' if lo_open else '['}{lo}, {hi}]")
        o[key] = v
    return o


# -- recordings and chunks (functions/ecg/ecg_text.cc) --------------------------
def _parse_float(s):
    s = s.strip(" \t")
    if s.startswith("+"):
        s = s[1:]
    return float(s) if _FLOAT_RE.fullmatch(s) else None


def _to_float32(x):
    return array("f", [x])[0]


def parse_recording(text):
    """Returns (fs, fs_stated, samples as float32 values)."""
    fs = DEFAULT_FS
    fs_stated = False
    values = []
    in_data = False
    if text.endswith("\n"):
        text = text[:-1]
    lines = text.split("\n") if text else []
    for n, raw in enumerate(lines, 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        line = line.strip(" \t")
        if not line:
            continue
        bad = ValueError(f"recording line {n}: cannot parse '{line[:60]}'")
        if line[0] == "#":
            body = line[1:].strip(" \t")
            if body.startswith("fs") and len(body) > 2 and body[2] == "=":
                v = _parse_float(body[3:])
                if v is None or not v > 0:
                    raise bad
                fs = v
                fs_stated = True
            continue
        cols = []
        rest = line
        while rest and len(cols) < 3:
            m = re.search(r"[ \t,;]", rest)
            if m is None:
                cols.append(rest)
                break
            cols.append(rest[:m.start()])
            rest = rest[m.start() + 1:].lstrip(" \t,;")
        x = _parse_float(cols[-1]) if 1 <= len(cols) <= 2 else None
        if x is not None:
            x = _to_float32(x)
        numeric = x is not None and math.isfinite(x)
        if len(cols) == 2:
            numeric = numeric and _parse_float(cols[0]) is not None
        if not numeric:
            if not in_data:
                continue
            raise bad
        in_data = True
        values.append(x)
    if not values:
        raise ValueError("not an ECG record: no numeric samples")
    return fs, fs_stated, values


def format_number(v):
    """Shortest round-trip text of a double, as fmt's "{}" writes it."""
    if v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def format_chunk(stream, fs, first_sample, mv):
    head = f"# stream={stream}\n# fs={format_number(fs)}\n# first_sample={first_sample}\n"
    return head + "".join(f"{v:.3f}\n" for v in mv)


def main(argv):
    if len(argv) not in (3, 4):
        print("usage: sensor_simulator.py INPUT OUTDIR [chunk_samples=1000]", file=sys.stderr)
        return 2
    src, outdir = argv[1], argv[2]
    chunk = 1000
    if len(argv) == 4:
        if not re.fullmatch(r"\d+", argv[3]) or not 0 < int(argv[3]) <= 100_000_000:
            print(f"sensor_simulator: chunk_samples must be a positive integer, got '{argv[3]}'",
                  file=sys.stderr)
            return 2
        chunk = int(argv[3])
    name = os.path.basename(src)
    with open(src, "r", encoding="utf-8", errors="surrogateescape", newline="") as f:
        text = f.read()
    try:
        if is_synthetic_spec(text):
            spec = parse_synthetic_spec(text)
            fs = spec["fs"]
            mv, _ = generate_synthetic_ecg(spec)
        else:
            fs, fs_stated, mv = parse_recording(text)
            if not fs_stated:
                raise ValueError("not an ECG record: no '# fs=<Hz>' header line stating its "
                                 "sampling rate (e.g. '# fs=360')")
    except ValueError as e:
        print(f"sensor_simulator: {name}: {e}", file=sys.stderr)
        return 1
    stem = name.rsplit(".", 1)[0] if name.rfind(".") > 0 else name
    stream = os.environ.get("OVERLAY_STREAM") or stem
    os.makedirs(outdir, exist_ok=True)
    for index, first in enumerate(range(0, len(mv), chunk)):
        path = os.path.join(outdir, f"{stem}_{index:05d}.txt")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(format_chunk(stream, fs, first, mv[first:first + chunk]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
