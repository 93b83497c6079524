// Bounds of the RTDB engine. Every one keeps what a client sends from growing this
// process's memory or one statement's work without bound; the numbers are generous for
// the web apps (which send a few hundred bytes per frame) and small for an attacker.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cloudillo::collab::rtdb {

struct Limits {
  size_t max_frame_bytes = 1 << 20;  // one client text frame
  int max_json_depth = 64;           // nesting of a client frame
  size_t max_doc_bytes = 256 << 10;  // one stored document, serialised
  size_t max_path_bytes = 1024;
  size_t max_path_segments = 32;
  size_t max_segment_bytes = 256;
  size_t max_field_bytes = 256;       // a field name in filter/sort/select/aggregate
  size_t max_conditions = 32;         // filter conditions in one query
  size_t max_condition_values = 256;  // elements of an inArray/arrayContainsAny/... value
  size_t max_sort_keys = 4;
  size_t max_select = 64;
  size_t max_dot_parts = 32;       // "a.b.c" depth in an update key
  size_t max_operations = 100;     // per transaction
  int64_t max_query_limit = 1000;  // query limit cap (also the default)
  int64_t max_query_offset = 100000;
  size_t max_ready_docs = 5000;      // initial documents of one subscription
  size_t max_scan_rows = 20000;      // rows an aggregate or $query reads
  size_t max_groups = 1000;          // aggregate groups returned
  size_t max_subscriptions = 64;     // per connection
  size_t max_pending_events = 1000;  // live events buffered while a ready is built
  size_t max_presence_bytes = 2048;
  size_t max_room_members = 100;
  size_t max_indexes = 32;     // expression indexes on rtdb_docs, all tenants
  int tx_retries = 5;          // serialization failures and insert races
  int lock_ttl_seconds = 120;  // refreshed by RtdbSession::Heartbeat
};

}  // namespace cloudillo::collab::rtdb
