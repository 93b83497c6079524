// libFuzzer target for the /ws/crdt frame codec (frames.h): parsing, awareness
// decoding and stamping must never crash, and what parses must re-encode to a frame
// that parses the same way.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "frames.h"

using namespace cloudillo::collab;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  auto m = ParseMessage(s);
  if (!m.ok()) return 0;
  if (m->type == MessageType::kSync) {
    // The parsed payload views its input: keep the re-encoded frame alive.
    const std::string encoded = EncodeSync(m->sync, m->payload);
    auto again = ParseMessage(encoded);
    if (!again.ok() || again->payload != m->payload) std::abort();
  }
  if (m->type == MessageType::kAwareness) {
    auto entries = DecodeAwareness(m->payload);
    if (!entries.ok()) return 0;
    auto round = DecodeAwareness(EncodeAwareness(*entries));
    if (!round.ok() || round->size() != entries->size()) std::abort();
    (void)StampAwareness(*entries, "alice.test");
    (void)StampAwareness(*entries, "");
  }
  return 0;
}
