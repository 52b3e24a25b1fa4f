// SPDX-License-Identifier: Apache-2.0
// `overlay-bench ecg-accuracy --data DIR [--records LIST]`: runs the QRS
// detector and the beat classifier over annotated records (shared/ecg layout)
// and prints detection Se / +P and V-class Se / +P per record, then in total
// with the AAMI class confusion matrix and per-class Se / +P, scored EC57-style
// (150 ms window, vf.txt excluded). --features writes each matched beat's
// features and reference class (the training data of the classifier).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "annotated_record.h"
#include "beat_classifier.h"
#include "beat_scoring.h"
#include "class_scoring.h"
#include "qrs_detector.h"
#include "subcommand.h"

namespace overlay::bench {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ' ') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::vector<std::string> RecordDirs(const std::string& data, const std::string& records) {
  namespace fs = std::filesystem;
  std::vector<std::string> dirs;
  if (!records.empty()) {
    for (const auto& r : SplitList(records)) dirs.push_back((fs::path(data) / r).string());
    return dirs;
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(data, ec))
    if (e.is_directory() && fs::exists(e.path() / "signal.txt") &&
        fs::exists(e.path() / "beats.txt"))
      dirs.push_back(e.path().string());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

int Run(int argc, char** argv) {
  CLI::App app{"QRS detector accuracy on annotated ECG records (EC57-style scoring)"};
  std::string data, records, features_path;
  bool list_errors = false;
  app.add_option("--data", data, "folder of record folders holding signal.txt and beats.txt")
      ->required();
  app.add_option("--records", records, "comma-separated record names (default: all)");
  app.add_flag("--list-errors", list_errors, "print the sample index of each FN and FP");
  app.add_option("--features", features_path,
                 "write the features of each matched beat to this CSV file");
  CLI11_PARSE(app, argc, argv);
  std::ofstream features_out;
  if (!features_path.empty()) {
    features_out.open(features_path);
    if (!features_out) {
      std::cerr << "ecg-accuracy: cannot write " << features_path << "\n";
      return 1;
    }
    features_out << "record,sample,reference,classed,rr_ratio,corr,amp_ratio,width_ratio\n";
  }

  std::vector<std::string> dirs = RecordDirs(data, records);
  if (dirs.empty()) {
    std::cerr << "ecg-accuracy: no records under " << data << "\n";
    return 1;
  }
  std::cout << fmt::format("{:<8} {:>9} {:>7} {:>6} {:>6} {:>8} {:>8} {:>6} {:>8} {:>8}\n",
                           "record", "reference", "TP", "FN", "FP", "Se %", "+P %", "V ref",
                           "V Se %", "V +P %");
  ecg::BeatScore total;
  ecg::ClassConfusion classes;
  const int v = ecg::AamiClassIndex('V');
  double seconds = 0, cpu_seconds = 0;
  int64_t samples = 0;
  for (const auto& dir : dirs) {
    std::cerr << "ecg-accuracy: " << dir << "\n";
    Result<ecg::AnnotatedRecord> rec = ecg::LoadAnnotatedRecord(dir);
    if (!rec.ok()) {
      std::cerr << "ecg-accuracy: " << rec.status().ToString() << "\n";
      return 1;
    }
    std::vector<ecg::Beat> beats;
    auto t0 = std::chrono::steady_clock::now();
    std::clock_t c0 = std::clock();
    ecg::QrsDetector det(rec->signal.fs);
    det.Process(rec->signal.mv, &beats);
    det.Flush(&beats);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu_seconds += static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    samples += static_cast<int64_t>(rec->signal.mv.size());
    ecg::BeatClassifier classifier(rec->signal.fs);
    classifier.AddSamples(rec->signal.mv);
    std::vector<ecg::BeatFeatures> features;
    classifier.Classify(beats, &features);
    std::vector<int64_t> found;
    std::vector<char> found_classes;
    for (const auto& b : beats) {
      found.push_back(b.sample);
      found_classes.push_back(b.beat_class);
    }
    int64_t tol = static_cast<int64_t>(0.15 * rec->signal.fs + 0.5);
    ecg::BeatScore s = ecg::ScoreBeats(rec->beats, found, tol, rec->excluded);
    total += s;
    ecg::ClassConfusion c =
        ecg::ScoreClasses(rec->beats, rec->classes, found, found_classes, tol, rec->excluded);
    classes += c;
    int64_t v_ref = 0;
    for (int64_t n : c.counts[v]) v_ref += n;
    std::cout << fmt::format("{:<8} {:>9} {:>7} {:>6} {:>6} {:>8.2f} {:>8.2f} {:>6} {:>8.2f} {:>8.2f}\n",
                             rec->name, s.reference, s.tp, s.fn, s.fp, s.SensitivityPercent(),
                             s.PositivePredictivityPercent(), v_ref, c.SensitivityPercent(v),
                             c.PositivePredictivityPercent(v));
    if (features_out.is_open())
      for (const auto& [r, d] : ecg::MatchBeats(rec->beats, found, tol, rec->excluded).pairs) {
        const ecg::BeatFeatures& f = features[d];
        features_out << fmt::format("{},{},{},{},{:.4f},{:.4f},{:.4f},{:.4f}\n", rec->name,
                                    found[d], rec->classes[r], found_classes[d], f.rr_ratio,
                                    f.corr, f.amp_ratio, f.width_ratio);
      }
    if (list_errors) {
      // Unmatched reference beats and detections, by a plain nearest search.
      auto near = [tol](const std::vector<int64_t>& v, int64_t x) {
        auto it = std::lower_bound(v.begin(), v.end(), x - tol);
        return it != v.end() && *it <= x + tol;
      };
      for (int64_t r : rec->beats)
        if (!near(found, r))
          std::cout << fmt::format("  FN {} ({:.2f} s)\n", r, r / rec->signal.fs);
      for (int64_t d : found)
        if (!near(rec->beats, d))
          std::cout << fmt::format("  FP {} ({:.2f} s)\n", d, d / rec->signal.fs);
    }
  }
  std::cout << fmt::format("{:<8} {:>9} {:>7} {:>6} {:>6} {:>8.2f} {:>8.2f}\n", "TOTAL",
                           total.reference, total.tp, total.fn, total.fp,
                           total.SensitivityPercent(), total.PositivePredictivityPercent());
  std::cout << "\nbeat classes (AAMI; reference rows, classifier columns):\n" << classes.Table();
  // CPU time too: on a shared machine the wall clock includes waiting for a core.
  std::cout << fmt::format(
      "detection throughput: {:.1f} M samples/s wall, {:.1f} M samples/s CPU ({} samples, "
      "{:.3f} s wall, {:.3f} s CPU)\n",
      seconds > 0 ? samples / seconds / 1e6 : 0.0,
      cpu_seconds > 0 ? samples / cpu_seconds / 1e6 : 0.0, samples, seconds, cpu_seconds);
  return 0;
}

const bool kRegistered = RegisterSubcommand(
    {"ecg-accuracy", "QRS detector Se/+P on annotated ECG records (--data DIR)", Run});

}  // namespace
}  // namespace overlay::bench
