// The live documents of this process (PROTOCOL §5, §13.7), keyed by (tenant, document).
//
// A live document is the merged update log (a snapshot plus the updates since, merged
// lazily in bounded batches) and what is needed to answer without a document model:
// the struct ranges and deletions it holds (a client update they already cover is a
// no-op), its log position, its local connections and who claims which awareness
// client id.
//
// Replicas: no process owns a document. Each accepted update is committed to the log
// (doc_store.h) before anyone sees it, then published on Redis channel
// `crdt:<tn_id>:<doc_id>` with its seq; every process holds one pattern subscription
// and applies what it hears to its own copy. Pub/sub may lose messages: a seq beyond
// the next expected one makes the process read the log from where it is (every lower
// seq is committed by then, doc_store.h). Applying an update twice is harmless (Yjs
// merges are idempotent), so overlaps need no care. Awareness is published too,
// already stamped, and is never stored.
//
// Memory: a document without local connections is evicted after `evict_after` and
// its log compacted; per-connection queues are bounded by the connection (DocPeer).
//
// Thread safety: every method may be called from any thread; Join and the waiting
// Handle block (PostgreSQL) and run on worker threads, and so does the other Handle
// unless IsQuick() says its message is.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/time/time.h"
#include "cloudillo/cache/redis.h"
#include "cloudillo/rpc/dispatch.h"
#include "doc_store.h"
#include "log_writer.h"

namespace cloudillo::collab {

// Close codes beyond PROTOCOL §5.1's table (RFC 6455).
inline constexpr int kCloseProtocol = 1002;  // a message that is not y-protocols
inline constexpr int kCloseInvalid = 1007;   // an update Yjs could not apply
inline constexpr int kCloseTooBig = 1009;    // an update or document beyond the limits
inline constexpr int kCloseRestart = 1012;   // this process shuts down
inline constexpr int kCloseTryLater = 1013;  // overloaded, or the client reads too slowly

struct HubLimits {
  size_t max_update_bytes = 16u << 20;  // one client update (1009 beyond)
  size_t max_doc_bytes = 64u << 20;     // a document's state (writes beyond: 1009)
  size_t max_awareness_clients = 8;     // awareness client ids one connection may claim
  absl::Duration evict_after = absl::Seconds(2);
  size_t compact_every = 500;  // accepted updates on this process between compactions
  CompactionLimits compaction;
  yjs::Limits yjs;
};

// One connection as the hub sees it.
class DocPeer {
 public:
  virtual ~DocPeer() = default;
  // Queues a binary frame; never blocks; ignored after the peer ended.
  virtual void Send(std::shared_ptr<const std::string> frame) = 0;
};

// Who is on a connection, as authorization decided (crdt_socket.cc).
struct PeerInfo {
  bool read_only = true;
  std::string awareness_id;  // stamped into awareness; "" for anonymous visitors
  std::string writer;        // recorded with each update in the log
};

class LiveDoc;

class DocHub {
 public:
  DocHub(DocStore& store, std::shared_ptr<cache::Redis> redis, rpc::WorkerPool& workers, HubLimits limits,
         prometheus::Registry* registry);
  ~DocHub();
  DocHub(const DocHub&) = delete;
  DocHub& operator=(const DocHub&) = delete;

  // Loads the document if no connection here has it open and adds `peer`. Returns the
  // document and the first message for the client: SyncStep1 with its state vector.
  struct Joined {
    std::shared_ptr<LiveDoc> doc;
    std::string sync_step1;
  };
  absl::StatusOr<Joined> Join(int64_t tn_id, const std::string& doc_id, std::shared_ptr<DocPeer> peer);
  // Removes the peer; its awareness clients are announced gone to everyone.
  void Leave(const std::shared_ptr<LiveDoc>& doc, const DocPeer* peer);

  // One client message. Decided with 0, or the code to close the connection with. An
  // update is decided once the log writer committed it (on its thread; never blocks),
  // anything else at once (on the caller's thread).
  struct Outcome {
    int close_code = 0;
    std::string reason;
  };
  void Handle(std::shared_ptr<LiveDoc> doc, DocPeer* from, const PeerInfo& who, std::string_view frame,
              std::function<void(Outcome)> done);
  // The same, waiting for the decision (tests, worker threads).
  Outcome Handle(LiveDoc& doc, DocPeer* from, const PeerInfo& who, std::string_view frame);
  // Whether deciding `frame` is quick and never blocks, so a thread that must not wait
  // may hand it to Handle() itself: a small update or awareness. Not a SyncStep1,
  // whose answer reads the whole document.
  static bool IsQuick(std::string_view frame);
  static constexpr size_t kQuickBytes = 64u << 10;

  // A message from the Redis subscription (its thread; heavy work goes to the workers).
  void Deliver(const std::string& channel, const std::string& message);
  // The subscription reconnected: what was published meanwhile is read from the log.
  void OnSubscriberReset();
  // Starts the reaper thread (eviction, compaction).
  void Start();
  void Stop();

  size_t open_documents() const;
  const HubLimits& limits() const { return limits_; }
  static constexpr const char* kPattern = "crdt:*";

 private:
  // An update that passed every check, to be committed.
  struct ToCommit {
    std::optional<yjs::Update> update;
    std::string bytes;
  };
  Outcome Check(LiveDoc& doc, DocPeer* from, const PeerInfo& who, std::string_view frame, ToCommit* commit);
  Outcome Committed(const std::shared_ptr<LiveDoc>& doc, const absl::StatusOr<int64_t>& seq,
                    std::string bytes, const yjs::Update& update);
  void ApplyRows(LiveDoc& doc, const std::vector<UpdateRow>& rows, bool broadcast);
  // Reads the log after the document's position: when a seq is missing (`always`
  // false) or unconditionally.
  void CatchUp(const std::shared_ptr<LiveDoc>& doc, bool always = false);
  void Publish(const LiveDoc& doc, char kind, int64_t seq, const std::string& payload);
  void Broadcast(LiveDoc& doc, std::shared_ptr<const std::string> frame);  // doc.mu held
  void ReapLoop();
  void Compact(int64_t tn_id, const std::string& doc_id);

  DocStore& store_;
  std::shared_ptr<cache::Redis> redis_;
  rpc::WorkerPool& workers_;
  const HubLimits limits_;
  const std::string origin_;  // this process, on what it publishes
  prometheus::Gauge* docs_gauge_ = nullptr;
  prometheus::Counter* updates_ = nullptr;
  // Client messages by kind, messages refused or dropped by why, log reads that filled
  // a pub/sub gap, compactions by result (docs/operations.md).
  struct Counters;
  std::unique_ptr<Counters> counters_;
  void Count(prometheus::Counter* Counters::*which);

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<LiveDoc>> docs_;  // by channel name
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread reaper_;
  // Last: destroyed first, it commits what is queued and decides it while the rest of
  // the hub still stands.
  LogWriter log_;
};

}  // namespace cloudillo::collab
