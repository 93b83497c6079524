#include "cloudillo/db/pool.h"

#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/deadline.h"
#include "cloudillo/core/log.h"

namespace cloudillo::db {
namespace {

// The statement_timeout a connection has unless a caller's deadline is nearer.
constexpr int64_t kDefaultStatementTimeoutMs = 30000;

// Messages are generic on purpose: callers pass statuses on to clients, and
// PostgreSQL's text (table, constraint and column names, values) must never reach
// one. The text goes to the log with the SQLSTATE instead.
absl::Status Convert(const std::exception& e) {
  std::string state;
  if (auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) state = sql->sqlstate();
  auto logged = [&](absl::Status st) {
    LogWarn("database_error", {{"sqlstate", state}, {"error", e.what()}, {"code", int(st.code())}});
    return st;
  };
  if (state == "57014") return logged(absl::DeadlineExceededError("the database work took too long"));
  if (state == "55P03") return logged(absl::AbortedError("a row was locked for too long; retry"));
  if (dynamic_cast<const pqxx::unique_violation*>(&e))
    return logged(absl::AlreadyExistsError("already exists"));
  if (dynamic_cast<const pqxx::foreign_key_violation*>(&e) ||
      dynamic_cast<const pqxx::check_violation*>(&e) || dynamic_cast<const pqxx::not_null_violation*>(&e)) {
    return logged(absl::FailedPreconditionError("the change conflicts with stored data"));
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e))
    return logged(absl::AbortedError("transaction conflict; retry"));
  if (dynamic_cast<const pqxx::broken_connection*>(&e))
    return logged(absl::UnavailableError("database unavailable"));
  if (dynamic_cast<const pqxx::data_exception*>(&e))
    return logged(absl::InvalidArgumentError("invalid value for the database"));
  return logged(absl::InternalError("database error"));
}

// What statement_timeout a query started now must run under: the caller's remaining
// time rounded up to whole seconds (so a steady deadline does not re-set it on every
// query), capped by the default. 0 when the deadline has already passed.
int64_t TimeoutForDeadline(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return kDefaultStatementTimeoutMs;
  int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (left <= 0) return 0;
  return std::min(kDefaultStatementTimeoutMs, (left + 999) / 1000 * 1000);
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

// Each connection prepares the statements it runs, once: parsing and planning were most
// of PostgreSQL's CPU for the short statements services send (a perf profile of the
// collab log's backend showed the parser and planner on top). Texts are the services'
// constants, so a few hundred per connection is plenty; statements built from request
// input (filters) beyond the bound run unprepared rather than evicting others.
class PreparedStatements {
 public:
  static constexpr size_t kMaxPerConnection = 256;
  // The name to execute `sql` under, registering it first; "" when the bound is reached.
  std::string NameFor(pqxx::connection_base& c, std::string_view sql) {
    auto it = names_.find(sql);
    if (it != names_.end()) return it->second;
    if (names_.size() >= kMaxPerConnection) return "";
    std::string name = "cl" + std::to_string(names_.size());
    c.prepare(name, std::string(sql));
    names_.emplace(std::string(sql), name);
    return name;
  }

 private:
  std::map<std::string, std::string, std::less<>> names_;
};

constexpr std::string_view kPlannedPerCall = "/* planned per call */ ";

template <typename T>
pqxx::result Exec(T& tx, PreparedStatements& prepared, std::string_view sql,
                  const std::vector<Param>& params) {
  // Without parameters the simple protocol runs, which also allows several
  // statements in one string (migrations).
  if (params.empty()) return tx.exec(std::string(sql));
  // The unnamed statement: planned with this run's parameters and the tables' sizes now.
  if (sql.substr(0, kPlannedPerCall.size()) == kPlannedPerCall)
    return tx.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(params));
  std::string name = prepared.NameFor(tx.conn(), sql);
  if (name.empty()) return tx.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(params));
  return tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(params));
}

class PgTx final : public Tx {
 public:
  PgTx(pqxx::work& w, PreparedStatements& prepared) : w_(w), prepared_(prepared) {}
  absl::StatusOr<Result> Query(std::string_view sql, const std::vector<Param>& params) override {
    // An exception here poisons the transaction; Transact() sees it and rolls back.
    try {
      return ToResult(Exec(w_, prepared_, sql, params));
    } catch (const std::exception& e) {
      failed_ = true;
      return Convert(e);
    }
  }
  bool failed() const { return failed_; }

 private:
  pqxx::work& w_;
  PreparedStatements& prepared_;
  bool failed_ = false;
};

// Saturation is what matters for alerts: connections in use against the pool's size,
// callers waiting for one, and how long they waited.
struct PoolMetrics {
  PoolMetrics(prometheus::Registry& r, const std::string& name)
      : size(prometheus::BuildGauge()
                 .Name("cloudillo_db_pool_connections")
                 .Help("Size of the PostgreSQL connection pool")
                 .Register(r)
                 .Add({{"pool", name}})),
        in_use(prometheus::BuildGauge()
                   .Name("cloudillo_db_pool_connections_in_use")
                   .Help("PostgreSQL connections lent to a query or transaction")
                   .Register(r)
                   .Add({{"pool", name}})),
        waiters(prometheus::BuildGauge()
                    .Name("cloudillo_db_pool_waiters")
                    .Help("Callers waiting for a free PostgreSQL connection")
                    .Register(r)
                    .Add({{"pool", name}})),
        wait(prometheus::BuildHistogram()
                 .Name("cloudillo_db_pool_wait_seconds")
                 .Help("Time a caller waited for a PostgreSQL connection (also when it gave up)")
                 .Register(r)
                 .Add({{"pool", name}}, prometheus::Histogram::BucketBoundaries{
                                            0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5})) {}
  prometheus::Gauge& size;
  prometheus::Gauge& in_use;
  prometheus::Gauge& waiters;
  prometheus::Histogram& wait;
};

class PgPool final : public Pool {
 public:
  PgPool(std::string url, int size, std::string schema)
      : url_(WithConnectTimeout(std::move(url))), schema_(std::move(schema)), slots_(size) {}

  absl::Status Init() {
    auto c = Open();
    if (!c.ok()) return c.status();
    slots_[0].c = std::move(*c);
    return absl::OkStatus();
  }

  absl::StatusOr<Result> Query(std::string_view sql, const std::vector<Param>& params) override {
    absl::StatusOr<Result> out = absl::InternalError("unset");
    absl::Status st = WithConnection([&](pqxx::connection& c, PreparedStatements& prepared) {
      pqxx::nontransaction tx(c);
      out = ToResult(Exec(tx, prepared, sql, params));
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::Status Transact(const std::function<absl::Status(Tx&)>& fn) override {
    absl::Status result;
    absl::Status st = WithConnection([&](pqxx::connection& c, PreparedStatements& prepared) {
      pqxx::work w(c);
      PgTx tx(w, prepared);
      result = fn(tx);
      if (result.ok() && !tx.failed())
        w.commit();
      else
        w.abort();
    });
    return st.ok() ? result : st;
  }

  absl::Status Ping() override { return Query("SELECT 1", {}).status(); }

  void ExportMetrics(prometheus::Registry& registry, const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    metrics_ = std::make_unique<PoolMetrics>(registry, name);
    metrics_->size.Set(double(slots_.size()));
    metrics_->in_use.Set(double(busy_.size()));
    metrics_->waiters.Set(double(waiting_));
  }

 private:
  struct Conn {
    std::unique_ptr<pqxx::connection> c;
    PreparedStatements prepared;  // of `c`: renewed with it
    int64_t statement_timeout_ms = kDefaultStatementTimeoutMs;
  };

  absl::StatusOr<std::unique_ptr<pqxx::connection>> Open() {
    try {
      auto c = std::make_unique<pqxx::connection>(url_);
      pqxx::nontransaction tx(*c);
      std::string setup = "SET statement_timeout = " + std::to_string(kDefaultStatementTimeoutMs) +
                          "; SET lock_timeout = 5000; SET idle_in_transaction_session_timeout = 60000";
      if (!schema_.empty()) setup += "; SET search_path TO " + tx.quote_name(schema_);
      tx.exec(setup);
      return c;
    } catch (const std::exception& e) {
      return absl::UnavailableError(std::string("cannot connect to PostgreSQL: ") + e.what());
    }
  }

  // A libpq URL without connect_timeout would wait for the kernel's TCP timeout
  // (minutes) when the server is unreachable.
  static std::string WithConnectTimeout(std::string url) {
    if (url.find("connect_timeout=") != std::string::npos) return url;
    bool uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
    if (uri) return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5";
    return url + " connect_timeout=5";
  }

  absl::Status WithConnection(const std::function<void(pqxx::connection&, PreparedStatements&)>& fn) {
    absl::Time deadline = CurrentDeadline();
    if (TimeoutForDeadline(deadline) == 0) return absl::DeadlineExceededError("deadline passed");
    size_t idx = Acquire(std::min(deadline, absl::Now() + absl::Seconds(5)));
    if (idx == SIZE_MAX) return absl::UnavailableError("no database connection free in time");
    struct Release {
      PgPool* p;
      size_t i;
      ~Release() { p->Return(i); }
    } release{this, idx};
    Conn& conn = slots_[idx];
    if (!conn.c || !conn.c->is_open()) {
      auto c = Open();
      if (!c.ok()) return c.status();
      conn.c = std::move(*c);
      conn.prepared = PreparedStatements();
      conn.statement_timeout_ms = kDefaultStatementTimeoutMs;
    }
    try {
      // Work for a caller must end when the caller gives up (DESIGN: deadlines
      // propagate into services); one extra round trip only when the bound changes.
      int64_t timeout = TimeoutForDeadline(deadline);
      if (timeout == 0) return absl::DeadlineExceededError("deadline passed");
      if (timeout != conn.statement_timeout_ms) {
        pqxx::nontransaction tx(*conn.c);
        tx.exec("SET statement_timeout = " + std::to_string(timeout));
        conn.statement_timeout_ms = timeout;
      }
      fn(*conn.c, conn.prepared);
      return absl::OkStatus();
    } catch (const std::exception& e) {
      absl::Status s = Convert(e);
      if (s.code() == absl::StatusCode::kUnavailable) conn.c.reset();
      return s;
    }
  }

  size_t Acquire(absl::Time until) {
    std::unique_lock<std::mutex> lock(mu_);
    absl::Time start = absl::Now();
    auto free = [&] { return busy_.size() < slots_.size(); };
    bool got = free();
    if (!got) {
      // Only a caller that finds every connection lent counts as a waiter.
      ++waiting_;
      if (metrics_) metrics_->waiters.Set(double(waiting_));
      got = cv_.wait_for(
          lock, absl::ToChronoMilliseconds(std::max(absl::ZeroDuration(), until - absl::Now())), free);
      --waiting_;
    }
    size_t idx = SIZE_MAX;
    for (size_t i = 0; got && i < slots_.size(); ++i) {
      if (!busy_.count(i)) {
        busy_.insert(i);
        idx = i;
        break;
      }
    }
    if (metrics_) {
      metrics_->waiters.Set(double(waiting_));
      metrics_->in_use.Set(double(busy_.size()));
      metrics_->wait.Observe(absl::ToDoubleSeconds(absl::Now() - start));
    }
    return idx;
  }

  void Return(size_t i) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_.erase(i);
      if (metrics_) metrics_->in_use.Set(double(busy_.size()));
    }
    cv_.notify_one();
  }

  std::string url_;
  std::string schema_;
  std::vector<Conn> slots_;
  std::set<size_t> busy_;
  int waiting_ = 0;                       // guarded by mu_
  std::unique_ptr<PoolMetrics> metrics_;  // guarded by mu_
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace

std::string PlannedPerCall(std::string_view sql) {
  std::string out(kPlannedPerCall);
  out.append(sql);
  return out;
}

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
