// y-protocols v1 messages as /ws/crdt carries them (PROTOCOL §5.2), with no Cloudillo
// wrapper: a varUint message type (0 sync, 1 awareness, others ignored), then for sync a
// varUint sub-type (0 SyncStep1, 1 SyncStep2, 2 Update) and a varUint8Array payload,
// for awareness a varUint8Array holding the awareness update
// (varUint count, then per entry varUint clientId, varUint clock, varString JSON state).
//
// Everything here is pure and bounded: a truncated varint, a length past the end or a
// number beyond 2^53 - 1 is InvalidArgument, never a read past the input. Bytes after
// the first message are ignored, as y-protocols does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cloudillo::collab {

enum class MessageType : uint8_t { kSync, kAwareness, kOther };
enum class SyncType : uint8_t { kStep1 = 0, kStep2 = 1, kUpdate = 2 };

struct Message {
  MessageType type = MessageType::kOther;
  SyncType sync = SyncType::kStep1;
  std::string_view payload;  // state vector, update, or awareness update; views the input
};

absl::StatusOr<Message> ParseMessage(std::string_view frame);
std::string EncodeSync(SyncType type, std::string_view payload);
std::string EncodeAwarenessMessage(std::string_view awareness_update);

struct AwarenessEntry {
  uint64_t client = 0;
  uint64_t clock = 0;
  std::string state_json;  // "null" removes the client
  bool removed() const { return state_json == "null"; }
};

// At most `max_entries` entries are read (more is InvalidArgument: an honest client
// sends its own state, a handful at most).
absl::StatusOr<std::vector<AwarenessEntry>> DecodeAwareness(std::string_view update, size_t max_entries = 64);
std::string EncodeAwareness(const std::vector<AwarenessEntry>& entries);

// Identity stamping (PROTOCOL §5.2): with an `id_tag`, every state's `user.idTag` is
// set to it; without one (an anonymous visitor) `user.idTag` is removed. nullopt when
// the message must be dropped: a state that is not JSON, not an object or null, or
// whose `user` is present but not an object.
std::optional<std::vector<AwarenessEntry>> StampAwareness(std::vector<AwarenessEntry> entries,
                                                          const std::string& id_tag);

}  // namespace cloudillo::collab
