#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fits the beat classifier's decision tree (functions/ecg/beat_classifier.cc)
on the features `overlay-bench ecg-accuracy --features FILE` writes, and
validates it by leave-one-record-out cross-validation.

usage: fit_beat_classifier.py FEATURES.csv [--depth 3] [--min-leaf 40] [--balance 0.5]

Prints the tree fitted on all records (to copy into ClassifyFeatures), its
per-class Se / +P on the records it was fitted on, and the same figures when
each record is classed by a tree fitted on the other records. Scores cover
matched beats only (detection errors are in the bench's figures).
Standard library only.
"""
import argparse
import collections
import csv

FEATURES = ("rr_ratio", "corr", "amp_ratio", "width_ratio")
CLASSES = "NSVFQ"


def gini(counts, weights):
    tot = sum(counts[c] * weights[c] for c in CLASSES)
    if tot == 0:
        return 0.0, 0.0
    return tot, 1.0 - sum((counts[c] * weights[c] / tot) ** 2 for c in CLASSES)


def best_split(rows, weights, min_leaf):
    """The (impurity decrease, feature, threshold) of the best split, or None."""
    total = collections.Counter(r[1] for r in rows)
    tot_w, g = gini(total, weights)
    best = None
    for fi in range(len(FEATURES)):
        srt = sorted(rows, key=lambda r: r[0][fi])
        left = collections.Counter()
        step = max(1, len(srt) // 200)  # ~200 candidate thresholds
        for i in range(len(srt) - 1):
            left[srt[i][1]] += 1
            if i + 1 < min_leaf or len(srt) - i - 1 < min_leaf or (i + 1) % step:
                continue
            a, b = srt[i][0][fi], srt[i + 1][0][fi]
            if a == b:
                continue
            right = total - left
            lw, lg = gini(left, weights)
            rw, rg = gini(right, weights)
            gain = g - (lw * lg + rw * rg) / tot_w
            if best is None or gain > best[0]:
                best = (gain, fi, round((a + b) / 2, 3))
    return best


def majority(rows, weights):
    c = collections.Counter(r[1] for r in rows)
    return max(CLASSES, key=lambda k: c[k] * weights[k])


def fit(rows, weights, depth, min_leaf):
    if depth == 0 or len(rows) < 2 * min_leaf or len({r[1] for r in rows}) == 1:
        return majority(rows, weights)
    s = best_split(rows, weights, min_leaf)
    if s is None or s[0] <= 1e-4:
        return majority(rows, weights)
    _, fi, t = s
    lo = [r for r in rows if r[0][fi] < t]
    hi = [r for r in rows if r[0][fi] >= t]
    a, b = fit(lo, weights, depth - 1, min_leaf), fit(hi, weights, depth - 1, min_leaf)
    return a if a == b and isinstance(a, str) else (fi, t, a, b)


def predict(tree, x):
    while not isinstance(tree, str):
        fi, t, lo, hi = tree
        tree = lo if x[fi] < t else hi
    return tree


def show(tree, indent="  "):
    if isinstance(tree, str):
        return f"{indent}return '{tree}';\n"
    fi, t, lo, hi = tree
    return (f"{indent}if (f.{FEATURES[fi]} < {t}) {{\n" + show(lo, indent + "  ") +
            f"{indent}}}\n" + show(hi, indent))


def report(title, pairs):
    conf = collections.Counter(pairs)
    print(title)
    print("  class    ref   Se %   +P %")
    for c in CLASSES:
        ref = sum(v for (r, _), v in conf.items() if r == c)
        det = sum(v for (_, d), v in conf.items() if d == c)
        se = 100.0 * conf[(c, c)] / ref if ref else float("nan")
        pp = 100.0 * conf[(c, c)] / det if det else float("nan")
        print(f"  {c:5} {ref:6} {se:6.2f} {pp:6.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features")
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--min-leaf", type=int, default=40)
    ap.add_argument("--balance", type=float, default=0.5,
                    help="a class weighs frequency**-balance (0: plain counts)")
    args = ap.parse_args()
    by_record = collections.defaultdict(list)
    with open(args.features) as f:
        for row in csv.DictReader(f):
            x = tuple(float(row[k]) for k in FEATURES)
            by_record[row["record"]].append((x, row["reference"]))
    rows = [r for v in by_record.values() for r in v]
    freq = collections.Counter(r[1] for r in rows)
    # Rare classes may weigh more, so the tree does not settle for calling
    # every beat N.
    weights = {c: freq[c] ** -args.balance if freq[c] else 0.0 for c in CLASSES}
    tree = fit(rows, weights, args.depth, args.min_leaf)
    print("char ClassifyFeatures(const BeatFeatures& f) {\n" + show(tree) + "}")
    report("fitted on all records, scored on them:",
           [(r[1], predict(tree, r[0])) for r in rows])
    cv = []
    for name, held in sorted(by_record.items()):
        train = [r for n, v in by_record.items() if n != name for r in v]
        t = fit(train, weights, args.depth, args.min_leaf)
        cv += [(r[1], predict(t, r[0])) for r in held]
    report("leave-one-record-out (each record classed by a tree fitted on the other 21):", cv)


if __name__ == "__main__":
    main()
