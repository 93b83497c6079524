#include "resp.h"

#include <hiredis/hiredis.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace cloudillo::cache::internal {
namespace {

RespReader::Budget& BudgetOf(const redisReadTask* task) {
  return *static_cast<RespReader::Budget*>(task->privdata);
}

bool Charge(const redisReadTask* task, size_t bytes) {
  RespReader::Budget& b = BudgetOf(task);
  if (bytes > b.limit - b.used) return false;
  b.used += bytes;
  return true;
}

// A child lives in its parent's element vector, sized when the parent was created and
// never resized, so the slot's address is stable; only the root is heap-allocated (and
// only the root is ever handed to freeObject).
Reply* Place(const redisReadTask* task) {
  if (task->parent == nullptr) return new Reply();
  auto* parent = static_cast<Reply*>(task->parent->obj);
  return &parent->elements[size_t(task->idx)];
}

void* CreateString(const redisReadTask* task, char* str, size_t len) {
  if (!Charge(task, sizeof(Reply) + len)) return nullptr;
  Reply* r = Place(task);
  r->str.assign(str, len);
  if (task->type == REDIS_REPLY_STRING) {
    r->type = Reply::Type::kString;
  } else {
    r->type = Reply::Type::kStatus;
    if (task->type == REDIS_REPLY_ERROR) {
      RespReader::Budget& b = BudgetOf(task);
      if (!b.has_error) b.error = r->str;
      b.has_error = true;
    }
  }
  return r;
}

void* CreateArray(const redisReadTask* task, int elements) {
  if (elements < 0 || !Charge(task, sizeof(Reply) * (size_t(elements) + 1))) return nullptr;
  Reply* r = Place(task);
  r->type = Reply::Type::kArray;
  r->elements.resize(size_t(elements));
  return r;
}

void* CreateInteger(const redisReadTask* task, long long value) {
  if (!Charge(task, sizeof(Reply))) return nullptr;
  Reply* r = Place(task);
  r->type = Reply::Type::kInteger;
  r->integer = value;
  return r;
}

void* CreateNil(const redisReadTask* task) {
  if (!Charge(task, sizeof(Reply))) return nullptr;
  Reply* r = Place(task);
  r->type = Reply::Type::kNil;
  return r;
}

void FreeObject(void* obj) { delete static_cast<Reply*>(obj); }

redisReplyObjectFunctions kFunctions = {CreateString, CreateArray, CreateInteger, CreateNil, FreeObject};

}  // namespace

void AppendCommand(std::string& out, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  int n = redisFormatCommandArgv(&cmd, int(argv.size()), argv.data(), lens.data());
  if (n < 0 || cmd == nullptr) throw std::bad_alloc();
  out.append(cmd, size_t(n));
  redisFreeCommand(cmd);
}

RespReader::RespReader(size_t max_reply_bytes) : reader_(redisReaderCreateWithFunctions(&kFunctions)) {
  if (reader_ == nullptr) throw std::bad_alloc();
  budget_.limit = max_reply_bytes;
  reader_->privdata = &budget_;
}

RespReader::~RespReader() { redisReaderFree(reader_); }

absl::Status RespReader::Feed(const char* data, size_t n) {
  if (!status_.ok()) return status_;
  // Bytes not yet turned into objects: one huge bulk string sits here until complete.
  if (reader_->len - reader_->pos + n > budget_.limit + 1024) {
    status_ = absl::UnavailableError("redis: reply larger than the limit");
  } else if (redisReaderFeed(reader_, data, n) != REDIS_OK) {
    status_ = absl::UnavailableError(absl::StrCat("redis: reply reader: ", reader_->errstr));
  }
  return status_;
}

std::optional<absl::StatusOr<Reply>> RespReader::Next() {
  if (!status_.ok()) return std::nullopt;
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    status_ = reader_->err == REDIS_ERR_OOM
                  ? absl::UnavailableError("redis: reply larger than the limit")
                  : absl::UnavailableError(absl::StrCat("redis: protocol error: ", reader_->errstr));
    budget_ = Budget{0, budget_.limit, "", false};
    return std::nullopt;
  }
  if (raw == nullptr) return std::nullopt;
  std::unique_ptr<Reply> reply(static_cast<Reply*>(raw));
  Budget done = std::move(budget_);
  budget_ = Budget{0, done.limit, "", false};
  if (done.has_error) return absl::StatusOr<Reply>(absl::InternalError("redis: " + done.error));
  return absl::StatusOr<Reply>(std::move(*reply));
}

std::string ErrorCode(const absl::Status& status) {
  std::string_view m(status.message().data(), status.message().size());
  if (status.code() != absl::StatusCode::kInternal || m.substr(0, 7) != "redis: ") return "";
  m.remove_prefix(7);
  return std::string(m.substr(0, m.find(' ')));
}

}  // namespace cloudillo::cache::internal
