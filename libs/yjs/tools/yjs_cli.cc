// yjs-cli: the codec behind a line protocol, for the differential test against the
// `yjs` package and for the benchmark. One command per line, base64 arguments each
// after one space (an empty argument is an empty field; `merge` alone merges none):
//   merge U1 U2 …      -> ok MERGED          (Y.mergeUpdates)
//   diff U SV          -> ok DIFF            (Y.diffUpdate)
//   sv U               -> ok STATE_VECTOR    (Y.encodeStateVectorFromUpdate)
//   roundtrip U        -> ok ENCODE(DECODE(U))
//   validate U         -> ok
// Errors answer `err <message>`. `yjs-cli bench FILE [CHUNK]` runs the benchmark on
// a log of length-prefixed updates (see tests/yjs/bench.mjs).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cloudillo/core/base64.h"
#include "cloudillo/yjs/update.h"

using namespace cloudillo;

namespace {

std::string Answer(const absl::StatusOr<std::string>& r) {
  if (!r.ok()) return "err " + std::string(r.status().message());
  return "ok " + Base64Encode(*r);
}

std::string ReadFile(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string_view> Split(const std::string& data) {
  std::vector<std::string_view> out;
  for (size_t pos = 0; pos + 4 <= data.size();) {
    uint32_t len = uint8_t(data[pos]) | uint8_t(data[pos + 1]) << 8 | uint8_t(data[pos + 2]) << 16 |
                   uint32_t(uint8_t(data[pos + 3])) << 24;
    if (pos + 4 + len > data.size()) break;
    out.emplace_back(data.data() + pos + 4, len);
    pos += 4 + len;
  }
  return out;
}

// The workload of tests/yjs/bench_yjs.mjs: a tree of merges of at most `chunk`
// updates each, then diffs against 100 clients' state vectors (FILE.svs); then the
// log merged in one call (peak memory is measured before it).
int Bench(const std::string& file, int chunk) {
  std::string data = ReadFile(file);
  std::string sv_data = ReadFile(file + ".svs");
  std::vector<std::string_view> updates = Split(data);
  std::vector<std::string_view> svs = Split(sv_data);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> level_store;
  std::vector<std::string_view> level = updates;
  while (level.size() > 1) {
    std::vector<std::string> next;
    for (size_t i = 0; i < level.size(); i += chunk) {
      std::vector<std::string_view> part(level.begin() + i,
                                         level.begin() + std::min(level.size(), i + chunk));
      auto m = yjs::MergeUpdates(part);
      if (!m.ok()) {
        std::fprintf(stderr, "merge failed: %s\n", std::string(m.status().message()).c_str());
        return 1;
      }
      next.push_back(*std::move(m));
    }
    level_store = std::move(next);
    level.assign(level_store.begin(), level_store.end());
  }
  std::string merged(level.empty() ? std::string_view() : level[0]);
  double merge_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto t1 = std::chrono::steady_clock::now();
  size_t diff_bytes = 0;
  for (auto sv : svs) {
    auto d = yjs::DiffUpdate(merged, sv);
    if (!d.ok()) return 1;
    diff_bytes += d->size();
  }
  double diff_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  // The peak of the workload above, before the one-call merge below adds its own.
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  // The whole log in one call, which a heap of decoders keeps at O(n log n).
  auto t2 = std::chrono::steady_clock::now();
  auto one_call = yjs::MergeUpdates(updates);
  double one_call_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t2).count();
  if (!one_call.ok()) return 1;
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  std::printf(
      "updates=%zu input_bytes=%zu merged_bytes=%zu merge_s=%.4f diff_s=%.4f diff_bytes=%zu maxrss_kb=%ld "
      "one_call_merge_s=%.4f one_call_identical=%d one_call_maxrss_kb=%ld\n",
      updates.size(), data.size(), merged.size(), merge_s, diff_s, diff_bytes, ru.ru_maxrss, one_call_s,
      int(*one_call == merged), after.ru_maxrss);
  std::ofstream(file + ".merged.cc", std::ios::binary) << merged;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "bench") {
    return Bench(argv[2], argc > 3 ? std::atoi(argv[3]) : 64);
  }
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    // Fields are separated by single spaces so that an empty field is an empty
    // argument (a zero-length update or state vector encodes to no base64 at all).
    size_t space = line.find(' ');
    std::string cmd = line.substr(0, space);
    std::vector<std::string> args;
    bool bad = false;
    while (space != std::string::npos) {
      size_t next = line.find(' ', space + 1);
      auto d = Base64Decode(std::string_view(line).substr(space + 1, next - space - 1));
      if (!d.ok())
        bad = true;
      else
        args.push_back(*std::move(d));
      space = next;
    }
    std::string out;
    if (bad) {
      out = "err bad base64";
    } else if (cmd == "merge") {
      std::vector<std::string_view> v(args.begin(), args.end());
      out = Answer(yjs::MergeUpdates(v));
    } else if (cmd == "diff" && args.size() == 2) {
      out = Answer(yjs::DiffUpdate(args[0], args[1]));
    } else if (cmd == "sv" && args.size() == 1) {
      out = Answer(yjs::StateVectorFromUpdate(args[0]));
    } else if (cmd == "roundtrip" && args.size() == 1) {
      auto u = yjs::DecodeUpdate(args[0]);
      out = u.ok() ? "ok " + Base64Encode(yjs::EncodeUpdate(*u)) : "err " + std::string(u.status().message());
    } else if (cmd == "validate" && args.size() == 1) {
      auto st = yjs::ValidateUpdate(args[0]);
      out = st.ok() ? "ok" : "err " + std::string(st.message());
    } else {
      out = "err unknown command";
    }
    std::cout << out << '\n' << std::flush;
  }
  return 0;
}
