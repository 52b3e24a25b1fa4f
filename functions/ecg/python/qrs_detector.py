#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Streaming Pan-Tompkins QRS detector: the Python twin of the native
qrs_detector (functions/ecg/qrs_detector.cc). Same integer arithmetic, same
decisions, so both find the same beats (sample for sample).

usage: qrs_detector.py WORKDIR

Reads every chunk file in WORKDIR (sorted by name; files ending in .beats.csv
are skipped) and writes <chunk stem>.beats.csv beside it.

Environment (set by the Overlay command runner):
  OVERLAY_STATE_DIR      directory that keeps the detector between the tasks
                         of one stream; unset: WORKDIR holds a whole stream,
                         and the final beats are written at once
  OVERLAY_END_OF_STREAM  "1": the stream has ended; flush and write
                         <stream>_final.beats.csv ('/' in the name -> '_')
  OVERLAY_STREAM         the stream name
Standard library only (python3 >= 3.11).
"""
import math
import os
import pickle
import re
import sys
from array import array

DEFAULT_FS = 360.0
MIN_FS = 50.0  # the sampling rates the detector is designed for
MAX_FS = 10000.0
MAX_MICROVOLTS = 1 << 20
MAX_NOISE_PEAKS = 64
STATE_FILE = "qrs_detector.pickle"

_FLOAT_RE = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|-?(?:inf|infinity|nan)", re.I)
_INT_RE = re.compile(r"-?\d+")


def round_half_up(x):
    return math.floor(x + 0.5)


class Peak:
    """A local maximum of the integrated signal with its features."""

    __slots__ = ("step", "loc", "height", "filt", "slope")

    def __init__(self, step=-1, loc=0, height=0, filt=0, slope=0):
        self.step, self.loc, self.height, self.filt, self.slope = step, loc, height, filt, slope

    def copy(self):
        return Peak(self.step, self.loc, self.height, self.filt, self.slope)


class Beat:
    __slots__ = ("sample", "time_s", "rr_s", "hr_bpm")

    def __init__(self, sample, time_s, rr_s=0.0, hr_bpm=0.0):
        self.sample, self.time_s, self.rr_s, self.hr_bpm = sample, time_s, rr_s, hr_bpm


class QrsDetector:
    """Mirror of overlay::ecg::QrsDetector; see qrs_detector.h for the design."""

    def __init__(self, fs):
        self.fs = fs

        def samples(seconds):
            return max(1, round_half_up(seconds * fs))

        self.l1 = samples(0.03)
        self.l2 = 2 * round_half_up(0.08 * fs) + 1
        self.dd = max(1, round_half_up(fs / 200.0))
        self.w = samples(0.15)
        self.sh_lp = (self.l1 * self.l1).bit_length() - 1
        self.sh_hp = self.l2.bit_length() - 1
        self.bp_delay = (self.l1 - 1) + (self.l2 - 1) // 2
        self.ms95 = samples(0.095)
        self.ms200 = samples(0.2)
        self.hold = samples(0.25)
        self.ms360 = samples(0.36)
        self.learn = samples(2.0)
        need = samples(1.0) + self.l2 + self.w
        size = 1 << need.bit_length()
        self.mask = size - 1
        self.ring_x = [0] * size
        self.ring_s1 = [0] * size
        self.ring_lp = [0] * size
        self.ring_bp = [0] * size
        self.ring_der = [0] * size
        self.ring_sq = [0] * size
        self.n = 0
        self.s1 = self.s2 = self.hsum = self.msum = self.last_x = 0
        self.pk_max = self.pk_step = self.pk_since = self.pk_last = 0
        self.held = Peak()
        self.hold_left = 0
        self.learning = True
        self.learn_max_i = self.learn_sum_i = self.learn_max_f = self.learn_sum_f = 0
        self.learn_peaks = []
        self.spki = self.npki = self.spkf = self.npkf = 0
        self.thr_i1 = self.thr_f1 = 0
        self.rr = [0] * 8
        self.rr_sum = self.rr_count = self.rr_pos = 0
        self.rr2 = [samples(1.0)] * 8
        self.rr2_sum = 8 * samples(1.0)
        self.rr2_pos = 0
        self.regular = False
        self.last_loc = -1
        self.last_step = 0
        self.last_slope = 0
        self.noise = []
        self.sb_limit = self.rr_average() * 166 // 100 + self.ms95 + self.hold
        self.decay_at = 0
        self.out = None
        self.prev_emitted = -1

    # -- public ---------------------------------------------------------------
    def process(self, mv, out):
        """Feeds samples (mV, float32 values); appends decided beats to out."""
        self.out = out
        for v in mv:
            x = round(v * 1000.0)
            if x > MAX_MICROVOLTS:
                x = MAX_MICROVOLTS
            elif x < -MAX_MICROVOLTS:
                x = -MAX_MICROVOLTS
            self._step(x)
        self.out = None

    def flush(self, out):
        self.out = out
        real_end = self.n
        pad = self.bp_delay + 4 * self.dd + self.w + self.ms95 + self.hold + 2
        if real_end > 0:
            for _ in range(pad):
                self._step(self.last_x)
        if self.learning:
            self._end_learning()
        self.n = real_end
        self.out = None

    def samples_seen(self):
        return self.n

    # -- internals --------------------------------------------------------------
    def _step(self, x):
        n = self.n
        m = self.mask
        l1, l2 = self.l1, self.l2
        rx, rs1, rlp, rbp = self.ring_x, self.ring_s1, self.ring_lp, self.ring_bp
        if n == 0:
            lp0 = (x * l1 * l1) >> self.sh_lp
            for k in range(len(rx)):
                rx[k] = x
                rs1[k] = x * l1
                rlp[k] = lp0
            self.s1 = x * l1
            self.s2 = x * l1 * l1
            self.hsum = lp0 * l2
        self.last_x = x
        i = n & m
        s1 = self.s1 + x - rx[(n - l1) & m]
        rx[i] = x
        s2 = self.s2 + s1 - rs1[(n - l1) & m]
        rs1[i] = s1
        self.s1, self.s2 = s1, s2
        lp = s2 >> self.sh_lp
        hsum = self.hsum + lp - rlp[(n - l2) & m]
        self.hsum = hsum
        rlp[i] = lp
        bp = (rlp[(n - (l2 - 1) // 2) & m] * l2 - hsum) >> self.sh_hp
        rbp[i] = bp
        dd = self.dd
        der = 2 * bp + rbp[(n - dd) & m] - rbp[(n - 3 * dd) & m] - 2 * rbp[(n - 4 * dd) & m]
        self.ring_der[i] = der
        sq = der * der
        self.msum += sq - self.ring_sq[(n - self.w) & m]
        self.ring_sq[i] = sq
        mwi = self.msum

        if self.learning:
            if mwi > self.learn_max_i:
                self.learn_max_i = mwi
            self.learn_sum_i += mwi
            abp = -bp if bp < 0 else bp
            if abp > self.learn_max_f:
                self.learn_max_f = abp
            self.learn_sum_f += abp

        found = False
        if self.pk_since > 0:
            self.pk_since += 1
        if mwi > self.pk_last and mwi > self.pk_max:
            self.pk_max = mwi
            self.pk_step = n
            self.pk_since = 1
        elif self.pk_max > 0 and (mwi < (self.pk_max >> 1) or self.pk_since > self.ms95):
            self._on_integrated_peak(self.pk_step, self.pk_max)
            found = True
            self.pk_max = 0
            self.pk_since = 0
        self.pk_last = mwi
        if not found and self.hold_left > 0:
            self.hold_left -= 1
            if self.hold_left == 0:
                self._evaluate(self.held)

        self.n = n + 1
        if self.learning:
            if self.n == self.learn:
                self._end_learning()
            return
        if n - self.last_step > self.sb_limit:
            self._search_back()

    def rr_average(self):
        return round_half_up(self.fs) if self.rr_count == 0 else self.rr_sum // self.rr_count

    def _eligible(self, p):
        if self.last_loc < 0:
            return True
        dist = p.loc - self.last_loc
        return dist >= self.ms360 or (dist >= self.ms200 and 2 * p.slope >= self.last_slope)

    def _search_back(self):
        while True:
            best = None
            half_i = self.thr_i1 >> 1
            half_f = self.thr_f1 >> 1
            for p in self.noise:
                if (p.step > self.last_step and self._eligible(p) and p.height > half_i
                        and p.filt > half_f and (best is None or p.height > best.height)):
                    best = p
            if best is None:
                break
            self._accept(best.copy(), True)
            if self.n - 1 - self.last_step <= self.sb_limit:
                return
        if self.n - 1 >= self.decay_at:
            self.spki -= self.spki >> 2
            self.spkf -= self.spkf >> 2
            self._update_thresholds()
            self.decay_at = self.n - 1 + self.rr_average()

    def _on_integrated_peak(self, peak_step, height):
        m = self.mask
        p = Peak(peak_step, 0, height, 0, 0)
        end = peak_step - 2 * self.dd
        begin = end - self.w + 1
        best = begin
        rbp, rder = self.ring_bp, self.ring_der
        off = 2 * self.dd
        for k in range(begin, end + 1):
            a = rbp[k & m]
            if a < 0:
                a = -a
            if a > p.filt:
                p.filt = a
                best = k
            d = rder[(k + off) & m]
            if d < 0:
                d = -d
            if d > p.slope:
                p.slope = d
        p.loc = max(0, best - self.bp_delay)
        if self.hold_left == 0 or p.height > self.held.height:
            self.held = p
            self.hold_left = self.hold
        else:
            self.hold_left -= 1
            if self.hold_left == 0:
                self._evaluate(self.held)

    def _end_learning(self):
        self.learning = False
        length = max(1, min(self.n, self.learn))
        self.spki = self.learn_max_i // 3
        self.npki = self.learn_sum_i // length // 2
        self.spkf = self.learn_max_f // 3
        self.npkf = self.learn_sum_f // length // 2
        self._update_thresholds()
        peaks, self.learn_peaks = self.learn_peaks, []
        for p in peaks:
            self._evaluate(p)

    def _evaluate(self, p):
        if self.learning:
            self.learn_peaks.append(p)
            return
        dist = self.ms360 if self.last_loc < 0 else p.loc - self.last_loc
        if dist < self.ms200:
            return
        if p.height > self.thr_i1 and p.filt > self.thr_f1:
            if dist < self.ms360 and 2 * p.slope < self.last_slope:
                self._noise(p)
                return
            self._accept(p, False)
            return
        self._noise(p)

    def _noise(self, p):
        self.npki = (p.height + 7 * self.npki) >> 3
        self.npkf = (p.filt + 7 * self.npkf) >> 3
        self._update_thresholds()
        if len(self.noise) == MAX_NOISE_PEAKS:
            del self.noise[0]
        self.noise.append(p)

    def _accept(self, p, search_back):
        if search_back:
            self.spki = (p.height + 3 * self.spki) >> 2
            self.spkf = (p.filt + 3 * self.spkf) >> 2
        else:
            self.spki = (p.height + 7 * self.spki) >> 3
            self.spkf = (p.filt + 7 * self.spkf) >> 3
        if self.last_loc >= 0:
            rr = p.loc - self.last_loc
            if self.rr_count == 8:
                self.rr_sum -= self.rr[self.rr_pos]
            else:
                self.rr_count += 1
            self.rr[self.rr_pos] = rr
            self.rr_sum += rr
            self.rr_pos = (self.rr_pos + 1) & 7
            if rr * 100 >= self.rr2_sum * 92 // 8 and rr * 100 <= self.rr2_sum * 116 // 8:
                self.rr2_sum += rr - self.rr2[self.rr2_pos]
                self.rr2[self.rr2_pos] = rr
                self.rr2_pos = (self.rr2_pos + 1) & 7
            self.regular = self.rr_count == 8
            lo = self.rr2_sum * 92 // 8
            hi = self.rr2_sum * 116 // 8
            for k in range(self.rr_count):
                if self.rr[k] * 100 < lo or self.rr[k] * 100 > hi:
                    self.regular = False
        self.sb_limit = self.rr_average() * 166 // 100 + self.ms95 + self.hold
        self.last_loc = p.loc
        self.last_step = p.step
        self.last_slope = p.slope
        self.noise = [q for q in self.noise if q.step > p.step]
        self.decay_at = p.step + self.sb_limit
        self._update_thresholds()
        self._emit(p.loc)

    def _update_thresholds(self):
        self.thr_i1 = self.npki + ((self.spki - self.npki) >> 2)
        self.thr_f1 = self.npkf + ((self.spkf - self.npkf) >> 2)
        if not self.regular:
            self.thr_i1 >>= 1
            self.thr_f1 >>= 1

    def _emit(self, loc):
        if loc <= self.prev_emitted:
            return
        b = Beat(loc, loc / self.fs)
        if self.prev_emitted >= 0:
            b.rr_s = (loc - self.prev_emitted) / self.fs
            b.hr_bpm = 60.0 / b.rr_s
        self.prev_emitted = loc
        if self.out is not None:
            self.out.append(b)


# -- text formats (functions/ecg/ecg_text.h) ------------------------------------
def _trim(s):
    return s.strip(" \t")


def _header_value(line, key):
    line = _trim(line[1:])
    if line.startswith(key) and len(line) > len(key) and line[len(key)] == "=":
        return _trim(line[len(key) + 1:])
    return None


def _parse_float(s):
    s = _trim(s)
    if s.startswith("+"):
        s = s[1:]
    if not _FLOAT_RE.fullmatch(s):
        return None
    return float(s)


def _parse_int(s):
    s = _trim(s)
    if s.startswith("+"):
        s = s[1:]
    if not _INT_RE.fullmatch(s):
        return None
    v = int(s)
    return v if -(1 << 63) <= v < (1 << 63) else None


def _lines(text):
    if text.endswith("\n"):
        text = text[:-1]
    if not text:
        return []
    return [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]


def parse_chunk(text):
    """Returns (stream, fs, first_sample, samples as float32 values)."""
    stream, fs, first = "", DEFAULT_FS, 0
    values = []
    for n, line in enumerate(_lines(text), 1):
        if not line:
            continue
        bad = ValueError(f"chunk line {n}: cannot parse '{line[:60]}'")
        if line[0] == "#":
            v = _header_value(line, "stream")
            if v is not None:
                stream = v
                continue
            v = _header_value(line, "fs")
            if v is not None:
                fs = _parse_float(v)
                if fs is None:
                    raise bad
                continue
            v = _header_value(line, "first_sample")
            if v is not None:
                first = _parse_int(v)
                if first is None:
                    raise bad
            continue
        x = _parse_float(line)
        if x is None or not math.isfinite(x):
            raise bad
        values.append(x)
    if not fs > 0:
        raise ValueError("chunk: fs must be positive")
    mv = array("f", values)  # float32, as the native parser stores samples
    if any(not math.isfinite(v) for v in mv):
        raise ValueError("chunk: sample out of float range")
    return stream, fs, first, mv


def format_number(v):
    """Shortest round-trip text of a double, as fmt's "{}" writes it."""
    if v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def format_beats(stream, fs, beats):
    out = [f"# stream={stream}\n# fs={format_number(fs)}\nsample,time_s,rr_s,hr_bpm\n"]
    for b in beats:
        if b.rr_s > 0:
            out.append(f"{b.sample},{b.time_s:.3f},{b.rr_s:.3f},{b.hr_bpm:.1f}\n")
        else:
            out.append(f"{b.sample},{b.time_s:.3f},,\n")
    return "".join(out)


# -- the command ----------------------------------------------------------------
class StreamState:
    def __init__(self):
        self.detector = None
        self.base = 0
        self.stream = ""
        self.fs = DEFAULT_FS


def _rebase(beats, base, fs):
    if base == 0:
        return
    for b in beats:
        b.sample += base
        b.time_s = b.sample / fs


def _write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def _load_state(state_dir):
    path = os.path.join(state_dir, STATE_FILE)
    if os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)
    return StreamState()


def _save_state(state_dir, st):
    os.makedirs(state_dir, exist_ok=True)
    path = os.path.join(state_dir, STATE_FILE)
    with open(path + ".tmp", "wb") as f:
        pickle.dump(st, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(path + ".tmp", path)


def _process_chunk(st, name, text, stream_env):
    """Feeds one chunk; returns (beats file text, error message or None)."""
    stream, fs, first, mv = parse_chunk(text)
    if not MIN_FS <= fs <= MAX_FS:
        raise ValueError(f"fs {format_number(fs)} outside the detector's "
                         f"{format_number(MIN_FS)}..{format_number(MAX_FS)} Hz")
    problem = None
    if st.detector is not None:
        expected = st.base + st.detector.samples_seen()
        if first != expected or fs != st.fs:
            problem = (f"{name}: first_sample {first} at {format_number(fs)} Hz does not continue "
                       f"the stream (expected {expected} at {format_number(st.fs)} Hz); "
                       "the detector restarts here")
            st.detector = None
    if st.detector is None:
        st.detector = QrsDetector(fs)
        st.base = first
        st.fs = fs
    st.stream = stream if stream else stream_env
    beats = []
    st.detector.process(mv, beats)
    _rebase(beats, st.base, st.fs)
    return format_beats(st.stream, st.fs, beats), problem


def main(argv):
    if len(argv) != 2:
        print("usage: qrs_detector.py WORKDIR", file=sys.stderr)
        return 2
    workdir = argv[1]
    state_dir = os.environ.get("OVERLAY_STATE_DIR") or None
    end_of_stream = os.environ.get("OVERLAY_END_OF_STREAM") == "1"
    stream_env = os.environ.get("OVERLAY_STREAM", "")
    st = _load_state(state_dir) if state_dir else StreamState()
    names = sorted(f for f in os.listdir(workdir)
                   if not f.endswith(".beats.csv") and not f.startswith(".")
                   and os.path.isfile(os.path.join(workdir, f)))
    problems = []
    for name in names:
        with open(os.path.join(workdir, name), "r", encoding="utf-8", errors="surrogateescape",
                  newline="") as f:
            text = f.read()
        try:
            beats_text, problem = _process_chunk(st, name, text, stream_env)
        except ValueError as e:
            if state_dir:
                _save_state(state_dir, st)
            print(f"qrs_detector: {name}: {e}", file=sys.stderr)
            return 1
        stem = name.rsplit(".", 1)[0] if name.rfind(".") > 0 else name
        _write(os.path.join(workdir, stem + ".beats.csv"), beats_text)
        if problem:
            problems.append(problem)
    if end_of_stream or not state_dir:
        beats = []
        if st.detector is not None:
            st.detector.flush(beats)
            _rebase(beats, st.base, st.fs)
            st.detector = None
        stream = stream_env or st.stream
        final = (stream or "stream").replace("/", "_") + "_final.beats.csv"
        _write(os.path.join(workdir, final), format_beats(st.stream or stream, st.fs, beats))
        if state_dir:
            try:
                os.remove(os.path.join(state_dir, STATE_FILE))
            except FileNotFoundError:
                pass
    else:
        _save_state(state_dir, st)
    for p in problems:
        print(f"qrs_detector: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
