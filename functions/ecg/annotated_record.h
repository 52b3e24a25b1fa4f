// SPDX-License-Identifier: Apache-2.0
// An ECG record with reference beat annotations, as stored under shared/ecg/:
// <dir>/signal.txt (a recording, see ParseRecording), <dir>/beats.txt
// ("sample,symbol" a line) and optional <dir>/vf.txt ("start,end" a line:
// intervals excluded from scoring).
#ifndef OVERLAY_FUNCTIONS_ECG_ANNOTATED_RECORD_H_
#define OVERLAY_FUNCTIONS_ECG_ANNOTATED_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "beat_scoring.h"
#include "ecg_text.h"
#include "overlay/status.h"

namespace overlay::ecg {

struct AnnotatedRecord {
  std::string name;  // the directory's last component, e.g. "207"
  Recording signal;
  std::vector<int64_t> beats;            // reference R peaks, ascending
  std::vector<char> classes;             // AAMI class of each reference beat (same order)
  std::vector<SampleInterval> excluded;  // from vf.txt; empty when absent
};

// Fails with file:line on a malformed line, NotFound when signal.txt or
// beats.txt is missing.
Result<AnnotatedRecord> LoadAnnotatedRecord(const std::string& dir);

// The parsers behind LoadAnnotatedRecord, for text already in memory.
Result<std::vector<int64_t>> ParseReferenceBeats(std::string_view text);
// Each beat with its AAMI class (AamiClassOfSymbol), ascending; fails on a
// symbol that is not a beat.
Result<std::vector<std::pair<int64_t, char>>> ParseReferenceBeatClasses(std::string_view text);
Result<std::vector<SampleInterval>> ParseIntervals(std::string_view text);

// Reads a whole file. NotFound when it does not exist.
Result<std::string> ReadTextFile(const std::string& path);

}  // namespace overlay::ecg

#endif  // OVERLAY_FUNCTIONS_ECG_ANNOTATED_RECORD_H_
