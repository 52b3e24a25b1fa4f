// SPDX-License-Identifier: Apache-2.0
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ecg_chunk.h"
#include "ecg_functions.h"
#include "ecg_text.h"

namespace overlay::ecg {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr double kFs = 360;

// Well-formed enough for any XML reader: every tag closed in order, quotes
// balanced. Returns "" or what is wrong.
std::string CheckTags(std::string_view xml) {
  std::vector<std::string> open;
  size_t i = 0;
  while ((i = xml.find('<', i)) != std::string_view::npos) {
    if (xml.substr(i, 2) == "<?" || xml.substr(i, 4) == "<!--") {
      size_t end = xml.find(xml[i + 1] == '?' ? "?>" : "-->", i);
      if (end == std::string_view::npos) return "unterminated <? or <!--";
      i = end + 1;
      continue;
    }
    size_t end = i + 1;
    bool quoted = false;
    while (end < xml.size() && (quoted || xml[end] != '>')) {
      if (xml[end] == '"') quoted = !quoted;
      if (!quoted && xml[end] == '<') return "'<' inside a tag at " + std::to_string(end);
      ++end;
    }
    if (end >= xml.size()) return "unterminated tag at " + std::to_string(i);
    std::string_view tag = xml.substr(i + 1, end - i - 1);
    if (tag.front() == '/') {
      std::string name(tag.substr(1));
      if (open.empty() || open.back() != name)
        return "</" + name + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">");
      open.pop_back();
    } else if (tag.back() != '/') {
      open.emplace_back(tag.substr(0, tag.find_first_of(" \n\t")));
    }
    i = end + 1;
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  // Text content must not hold a raw '&' that starts no entity.
  for (size_t a = xml.find('&'); a != std::string_view::npos; a = xml.find('&', a + 1))
    if (xml.find(';', a) - a > 6) return "bare '&' at " + std::to_string(a);
  return "";
}

size_t Count(std::string_view s, std::string_view what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string_view::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// Points in the polyline with the given id.
size_t PolylinePoints(std::string_view svg, std::string_view id) {
  size_t at = svg.find("id=\"" + std::string(id) + "\"");
  if (at == std::string_view::npos) return 0;
  size_t p = svg.find("points=\"", at) + 8;
  std::string_view pts = svg.substr(p, svg.find('"', p) - p);
  return Count(pts, ",");
}

// A synthetic record: a spike every `rr` seconds, and the beats at the spikes.
struct Synthetic {
  std::vector<std::string> chunks;
  std::string beats;
  std::vector<Beat> beat_list;
};

Synthetic MakeRecord(double seconds, double rr, size_t chunk_samples) {
  auto n = static_cast<int64_t>(seconds * kFs);
  std::vector<float> mv(n);
  BeatList beats{"pat/7", kFs, {}};
  for (int64_t i = 0; i < n; ++i) mv[i] = static_cast<float>(0.05 * std::sin(i / kFs * 2));
  for (double t = 0.3; t < seconds; t += rr) {
    auto s = static_cast<int64_t>(t * kFs);
    mv[s] = 1.4f;
    Beat b{s, s / kFs, 0, 0};
    if (!beats.beats.empty()) {
      b.rr_s = (s - beats.beats.back().sample) / kFs;
      b.hr_bpm = 60 / b.rr_s;
    }
    beats.beats.push_back(b);
  }
  Synthetic rec;
  for (int64_t first = 0; first < n; first += chunk_samples) {
    SignalChunk c{"pat/7", kFs, first, {}};
    c.mv.assign(mv.begin() + first, mv.begin() + std::min<int64_t>(n, first + chunk_samples));
    rec.chunks.push_back(FormatChunk(c));
  }
  rec.beats = FormatBeats(beats);
  rec.beat_list = beats.beats;
  return rec;
}

std::unique_ptr<Function> Visualizer(std::vector<std::string> args = {}) {
  Result<std::unique_ptr<Function>> fn = NewEcgVisualizer(args);
  EXPECT_TRUE(fn.ok()) << fn.status().ToString();
  return fn.ok() ? std::move(fn).value() : nullptr;
}

// Feeds `texts` one per item, in order, then ends the stream.
Task Feed(const Function& fn, const std::vector<std::string>& texts, Status* status) {
  auto state = fn.NewStream("pat/7");
  Task t;
  t.stream = "pat/7";
  t.state = state.get();
  for (size_t i = 0; i < texts.size(); ++i) {
    t.seq = i;
    t.source = i % 2;
    t.inputs = {{"in" + std::to_string(i) + ".txt", Blob::FromString(texts[i])}};
    *status = fn.Process(t);
    if (!status->ok()) return t;
  }
  t.inputs.clear();
  *status = fn.EndStream(t);
  return t;
}

// The native simulator's binary chunks draw the same SVG as their text form.
TEST(EcgVisualizerTest, BinaryChunksDrawTheSameSvgAsText) {
  Synthetic rec = MakeRecord(25, 0.5, 1000);
  std::vector<std::string> binary;
  for (const std::string& text : rec.chunks) {
    Result<SignalChunk> c = ParseChunk(text);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    std::string bytes(EncodedChunkSize(c->mv.size()), '\0');
    ASSERT_TRUE(EncodeChunk(c->fs, c->first_sample, c->mv, bytes).ok());
    binary.push_back(std::move(bytes));
  }
  std::vector<std::string> texts = rec.chunks;
  texts.push_back(rec.beats);
  binary.push_back(rec.beats);
  auto fn = Visualizer({"strip_seconds=20"});
  Status s1, s2;
  Task from_text = Feed(*fn, texts, &s1);
  Task from_binary = Feed(*fn, binary, &s2);
  ASSERT_TRUE(s1.ok()) << s1.ToString();
  ASSERT_TRUE(s2.ok()) << s2.ToString();
  ASSERT_EQ(from_binary.outputs.size(), 1u);
  ASSERT_EQ(from_text.outputs.size(), 1u);
  EXPECT_EQ(from_binary.outputs[0].data.view(), from_text.outputs[0].data.view());
}

TEST(EcgVisualizerTest, RendersInterleavedChunksAndBeats) {
  Synthetic rec = MakeRecord(35, 0.8, 1000);
  // Beats first, then the chunks shuffled: arrival order must not matter.
  std::vector<std::string> texts = rec.chunks;
  std::mt19937 rng(7);
  std::shuffle(texts.begin(), texts.end(), rng);
  texts.insert(texts.begin() + 3, rec.beats);
  auto fn = Visualizer({"strip_seconds=20"});
  Status s;
  Task t = Feed(*fn, texts, &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(t.outputs.size(), 1u);
  EXPECT_EQ(t.outputs[0].name, "pat_7.svg");
  EXPECT_EQ(t.counters["svgs"], 1);
  std::string_view svg = t.outputs[0].data.view();
  EXPECT_EQ(CheckTags(svg), "");

  size_t in_strip = std::count_if(rec.beat_list.begin(), rec.beat_list.end(),
                                  [](const Beat& b) { return b.sample < 20 * kFs; });
  size_t with_rr = std::count_if(rec.beat_list.begin(), rec.beat_list.end(),
                                 [](const Beat& b) { return b.rr_s > 0; });
  ASSERT_GT(in_strip, 20u);
  EXPECT_EQ(Count(svg, "class=\"beat\""), in_strip);
  EXPECT_EQ(PolylinePoints(svg, "hr-trend"), with_rr);
  EXPECT_THAT(svg, HasSubstr("ECG pat/7"));
  EXPECT_THAT(svg, HasSubstr(std::to_string(rec.beat_list.size()) + " beats"));
  EXPECT_THAT(svg, HasSubstr("HR mean 75 bpm"));
  EXPECT_THAT(svg, HasSubstr("duration 0:35"));
  EXPECT_EQ(Count(svg, "<g transform"), 2u);  // 20 s: two 10 s rows
  EXPECT_THAT(svg, Not(HasSubstr("no beats detected")));
}

TEST(EcgVisualizerTest, RepeatedBeatsFilesAreNotCountedTwice) {
  Synthetic rec = MakeRecord(12, 1.0, 1000);
  std::vector<std::string> texts = rec.chunks;
  texts.push_back(rec.beats);
  texts.push_back(rec.beats);
  auto fn = Visualizer();
  Status s;
  Task t = Feed(*fn, texts, &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string_view svg = t.outputs.at(0).data.view();
  EXPECT_EQ(Count(svg, "class=\"beat\""), rec.beat_list.size());
  EXPECT_THAT(svg, HasSubstr(std::to_string(rec.beat_list.size()) + " beats"));
}

TEST(EcgVisualizerTest, BeatsAreColouredByClassWithALegend) {
  Synthetic rec = MakeRecord(12, 1.0, 1000);
  size_t v = 0;
  for (size_t i = 0; i < rec.beat_list.size(); ++i) {
    rec.beat_list[i].beat_class = i == 1 ? 'S' : i % 3 == 2 ? 'V' : 'N';
    v += rec.beat_list[i].beat_class == 'V';
  }
  std::vector<std::string> texts = rec.chunks;
  texts.push_back(FormatBeats(BeatList{"pat/7", kFs, rec.beat_list}));
  auto fn = Visualizer();
  Status s;
  Task t = Feed(*fn, texts, &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string_view svg = t.outputs.at(0).data.view();
  EXPECT_EQ(CheckTags(svg), "");
  ASSERT_GT(v, 2u);
  EXPECT_EQ(Count(svg, "class=\"beat bV\""), v);
  EXPECT_EQ(Count(svg, "class=\"beat bS\""), 1u);
  EXPECT_EQ(Count(svg, "class=\"beat\""), rec.beat_list.size() - v - 1);
  EXPECT_THAT(svg, HasSubstr(std::to_string(rec.beat_list.size()) + " beats (S 1, V " +
                             std::to_string(v) + ")"));
  EXPECT_THAT(svg, HasSubstr("<tspan class=\"bV\">V ventricular</tspan>"));
}

TEST(EcgVisualizerTest, StreamWithoutBeatsSaysSo) {
  Synthetic rec = MakeRecord(15, 0.8, 500);
  auto fn = Visualizer();
  Status s;
  Task t = Feed(*fn, rec.chunks, &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(t.outputs.size(), 1u);
  std::string_view svg = t.outputs[0].data.view();
  EXPECT_EQ(CheckTags(svg), "");
  EXPECT_THAT(svg, HasSubstr("no beats detected"));
  EXPECT_EQ(Count(svg, "class=\"beat\""), 0u);
  EXPECT_EQ(PolylinePoints(svg, "hr-trend"), 0u);
  EXPECT_THAT(svg, HasSubstr("class=\"sig\""));
}

TEST(EcgVisualizerTest, LongRecordStaysSmall) {
  Synthetic rec = MakeRecord(30 * 60, 0.75, 3600);
  std::vector<std::string> texts = rec.chunks;
  texts.push_back(rec.beats);
  auto fn = Visualizer();
  Status s;
  Task t = Feed(*fn, texts, &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string_view svg = t.outputs.at(0).data.view();
  EXPECT_LT(svg.size(), 2u << 20);
  EXPECT_EQ(CheckTags(svg), "");
  EXPECT_EQ(PolylinePoints(svg, "hr-trend"), rec.beat_list.size() - 1);
  EXPECT_EQ(Count(svg, "<g transform"), 6u);  // the default 60 s strip
}

TEST(EcgVisualizerTest, RejectsUnknownInput) {
  auto fn = Visualizer();
  Status s;
  Feed(*fn, {"time,mV\n0,0.1\n"}, &s);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_THAT(std::string(s.message()), HasSubstr("in0.txt"));
}

TEST(EcgVisualizerTest, EmptyStreamRendersNothing) {
  auto fn = Visualizer();
  Status s;
  Task t = Feed(*fn, {}, &s);
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(t.outputs.empty());
}

TEST(EcgVisualizerTest, ValidatesArguments) {
  EXPECT_TRUE(NewEcgVisualizer({"30"}).ok());
  EXPECT_TRUE(NewEcgVisualizer({"strip_seconds=30"}).ok());
  EXPECT_FALSE(NewEcgVisualizer({"strip_seconds=abc"}).ok());
  EXPECT_FALSE(NewEcgVisualizer({"0"}).ok());
  EXPECT_FALSE(NewEcgVisualizer({"10", "20"}).ok());
}

}  // namespace
}  // namespace overlay::ecg
