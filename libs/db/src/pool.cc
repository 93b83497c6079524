#include "cloudillo/db/pool.h"

#include <condition_variable>
#include <mutex>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/numbers.h"
#include "cloudillo/core/absl_compat.h"

namespace cloudillo::db {
namespace {

absl::Status Convert(const std::exception& e) {
  std::string what = e.what();
  if (dynamic_cast<const pqxx::unique_violation*>(&e)) return absl::AlreadyExistsError(what);
  if (dynamic_cast<const pqxx::foreign_key_violation*>(&e) ||
      dynamic_cast<const pqxx::check_violation*>(&e) || dynamic_cast<const pqxx::not_null_violation*>(&e)) {
    return absl::FailedPreconditionError(what);
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e)) return absl::AbortedError(what);
  if (dynamic_cast<const pqxx::broken_connection*>(&e))
    return absl::UnavailableError("database unavailable: " + what);
  // Callers may pass this status on to clients: keep PostgreSQL's text out of it.
  if (dynamic_cast<const pqxx::data_exception*>(&e))
    return absl::InvalidArgumentError("invalid value for the database");
  return absl::InternalError("database error: " + what);
}

Result ToResult(const pqxx::result& r) {
  Result out;
  out.affected = r.affected_rows();
  out.rows.reserve(r.size());
  for (const auto& row : r) {
    std::vector<std::optional<std::string>> cols;
    cols.reserve(row.size());
    for (const auto& f : row) {
      if (f.is_null())
        cols.emplace_back(std::nullopt);
      else
        cols.emplace_back(std::string(f.c_str(), f.size()));
    }
    out.rows.emplace_back(std::move(cols));
  }
  return out;
}

template <typename T>
pqxx::result Exec(T& tx, std::string_view sql, const std::vector<Param>& params) {
  // Without parameters the simple protocol runs, which also allows several
  // statements in one string (migrations).
  if (params.empty()) return tx.exec(std::string(sql));
  return tx.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(params));
}

class PgTx final : public Tx {
 public:
  explicit PgTx(pqxx::work& w) : w_(w) {}
  absl::StatusOr<Result> Query(std::string_view sql, const std::vector<Param>& params) override {
    // An exception here poisons the transaction; Transact() sees it and rolls back.
    try {
      return ToResult(Exec(w_, sql, params));
    } catch (const std::exception& e) {
      failed_ = true;
      return Convert(e);
    }
  }
  bool failed() const { return failed_; }

 private:
  pqxx::work& w_;
  bool failed_ = false;
};

class PgPool final : public Pool {
 public:
  PgPool(std::string url, int size, std::string schema)
      : url_(std::move(url)), schema_(std::move(schema)), slots_(size) {}

  absl::Status Init() {
    auto c = Open();
    if (!c.ok()) return c.status();
    slots_[0] = std::move(*c);
    return absl::OkStatus();
  }

  absl::StatusOr<Result> Query(std::string_view sql, const std::vector<Param>& params) override {
    absl::StatusOr<Result> out = absl::InternalError("unset");
    absl::Status st = WithConnection([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      out = ToResult(Exec(tx, sql, params));
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::Status Transact(const std::function<absl::Status(Tx&)>& fn) override {
    absl::Status result;
    absl::Status st = WithConnection([&](pqxx::connection& c) {
      pqxx::work w(c);
      PgTx tx(w);
      result = fn(tx);
      if (result.ok() && !tx.failed())
        w.commit();
      else
        w.abort();
    });
    return st.ok() ? result : st;
  }

  absl::Status Ping() override { return Query("SELECT 1", {}).status(); }

 private:
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Open() {
    try {
      auto c = std::make_unique<pqxx::connection>(url_);
      if (!schema_.empty()) {
        pqxx::nontransaction tx(*c);
        tx.exec("SET search_path TO " + tx.quote_name(schema_));
      }
      return c;
    } catch (const std::exception& e) {
      return absl::UnavailableError(std::string("cannot connect to PostgreSQL: ") + e.what());
    }
  }

  absl::Status WithConnection(const std::function<void(pqxx::connection&)>& fn) {
    size_t idx = Acquire();
    if (idx == SIZE_MAX) return absl::UnavailableError("no database connection free within 5 s");
    struct Release {
      PgPool* p;
      size_t i;
      ~Release() { p->Return(i); }
    } release{this, idx};
    auto& conn = slots_[idx];
    if (!conn || !conn->is_open()) {
      auto c = Open();
      if (!c.ok()) return c.status();
      conn = std::move(*c);
    }
    try {
      fn(*conn);
      return absl::OkStatus();
    } catch (const std::exception& e) {
      absl::Status s = Convert(e);
      if (s.code() == absl::StatusCode::kUnavailable) conn.reset();
      return s;
    }
  }

  size_t Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    bool got = cv_.wait_for(lock, std::chrono::seconds(5), [&] { return busy_.size() < slots_.size(); });
    if (!got) return SIZE_MAX;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (!busy_.count(i)) {
        busy_.insert(i);
        return i;
      }
    }
    return SIZE_MAX;
  }

  void Return(size_t i) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_.erase(i);
    }
    cv_.notify_one();
  }

  std::string url_;
  std::string schema_;
  std::vector<std::unique_ptr<pqxx::connection>> slots_;
  std::set<size_t> busy_;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace

const std::string& Row::Str(size_t i) const {
  static const std::string kEmpty;
  const auto& c = cols_.at(i);
  return c ? *c : kEmpty;
}

int64_t Row::Int(size_t i) const {
  int64_t v = 0;
  if (cols_.at(i)) (void)absl::SimpleAtoi(AV(*cols_[i]), &v);
  return v;
}

bool Row::Bool(size_t i) const { return cols_.at(i) && (*cols_[i] == "t" || *cols_[i] == "true"); }

absl::StatusOr<std::shared_ptr<Pool>> Pool::Connect(const std::string& url, int size,
                                                    const std::string& schema) {
  auto pool = std::make_shared<PgPool>(url, size < 1 ? 1 : size, schema);
  absl::Status st = pool->Init();
  if (!st.ok()) return st;
  return std::shared_ptr<Pool>(std::move(pool));
}

}  // namespace cloudillo::db
