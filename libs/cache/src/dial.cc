#include "dial.h"

#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"

namespace cloudillo::cache::internal {
namespace {

std::string Wire(const std::vector<std::string>& args) {
  std::string out;
  AppendCommand(out, args);
  return out;
}

// "redis: WRONGPASS ..." -> "WRONGPASS ..."
std::string Bare(const absl::Status& s) {
  std::string m(s.message());
  return m.rfind("redis: ", 0) == 0 ? m.substr(7) : m;
}

}  // namespace

std::shared_ptr<Dial> Dial::Start(asio::io_context& io, const RedisConfig& config,
                                  std::shared_ptr<asio::ssl::context> tls, Done done) {
  auto d = std::make_shared<Dial>(io, config, std::move(tls), std::move(done));
  asio::post(io, [d] { d->Run(); });
  return d;
}

Dial::Dial(asio::io_context& io, const RedisConfig& config, std::shared_ptr<asio::ssl::context> tls,
           Done done)
    : io_(io), config_(config), tls_(std::move(tls)), done_(std::move(done)), deadline_(io) {}

void Dial::Run() {
  if (!done_) return;
  Login login{config_.username, config_.password, config_.db, false};
  if (config_.sentinels.empty()) {
    auto addr = RedisAddress::Parse(config_.addr);
    if (!addr.ok()) {
      Finish(absl::UnavailableError("redis: CLOUDILLO_REDIS_ADDR: " + std::string(addr.status().message())));
      return;
    }
    Open(*addr, login, [self = shared_from_this()](auto r) { self->Finish(std::move(r)); });
    return;
  }
  AskSentinel(0);
}

void Dial::AskSentinel(size_t i) {
  if (!done_) return;
  if (i == config_.sentinels.size()) {
    Finish(absl::UnavailableError(
        absl::StrCat("redis: no sentinel gave a reachable master '", config_.master_name, "': ", errors_)));
    return;
  }
  auto next = [self = shared_from_this(), i](const std::string& why) {
    absl::StrAppend(&self->errors_, self->errors_.empty() ? "" : "; ", why);
    self->AskSentinel(i + 1);
  };
  auto sentinel = RedisAddress::Parse(config_.sentinels[i]);
  if (!sentinel.ok()) {
    next(std::string(sentinel.status().message()));
    return;
  }
  Login login{config_.sentinel_username, config_.sentinel_password, 0, false};
  Open(*sentinel, login, [self = shared_from_this(), next, peer = sentinel->ToString()](auto conn) {
    if (!conn.ok()) {
      next(Bare(conn.status()));
      return;
    }
    std::shared_ptr<Connection> c = *conn;
    self->conn_ = c;
    c->Send(Wire({"SENTINEL", "get-master-addr-by-name", self->config_.master_name}),
            [self, next, c, peer](absl::StatusOr<Reply> r) {
              c->Close(absl::CancelledError("redis: done with the sentinel"));
              if (!self->done_) return;
              if (!r.ok()) {
                next("sentinel " + peer + ": " + Bare(r.status()));
                return;
              }
              if (r->type != Reply::Type::kArray || r->elements.size() != 2) {
                next("sentinel " + peer + " does not know master '" + self->config_.master_name + "'");
                return;
              }
              auto master = RedisAddress::Parse(r->elements[0].str + ":" + r->elements[1].str);
              if (!master.ok()) {
                next("sentinel " + peer + " answered a bad address");
                return;
              }
              Login login{self->config_.username, self->config_.password, self->config_.db, true};
              self->Open(*master, login, [self, next](auto conn) {
                if (conn.ok()) {
                  self->Finish(std::move(conn));
                } else {
                  next(Bare(conn.status()));
                }
              });
            });
  });
}

void Dial::Open(const RedisAddress& addr, const Login& login, Then then) {
  // connect_timeout bounds the whole of it, login included: a server that accepts but
  // never answers must not hold waiting commands for a command_timeout on top.
  uint64_t gen = ++open_gen_;
  deadline_.expires_after(ToChrono(config_.connect_timeout));
  deadline_.async_wait([self = shared_from_this(), gen](const boost::system::error_code& ec) {
    if (ec || gen != self->open_gen_ || !self->done_ || !self->conn_) return;
    self->conn_->Close(
        absl::UnavailableError(absl::StrCat(self->conn_->peer(), " did not finish logging in within ",
                                            absl::FormatDuration(self->config_.connect_timeout))));
  });
  TlsSettings tls{tls_, config_.tls_server_name};
  connector_ = Connector::Start(
      io_, addr, tls, config_.connect_timeout, config_.command_timeout,
      [self = shared_from_this(), login, then = std::move(then)](auto result) {
        self->connector_ = nullptr;
        if (!self->done_) {
          if (result.ok()) (*result)->Close(absl::CancelledError("redis: dial cancelled"));
          return;
        }
        if (!result.ok()) {
          then(result.status());
          return;
        }
        std::shared_ptr<Connection> conn = *result;
        self->conn_ = conn;
        conn->Start(nullptr, nullptr);
        // The login commands go out in one write; each reply is checked in order and the
        // first bad one ends the attempt (the connection's close fails the rest).
        struct Step {
          std::vector<std::string> args;
          std::string what;
        };
        std::vector<Step> steps;
        if (!login.password.empty()) {
          std::vector<std::string> auth = {"AUTH"};
          if (!login.username.empty()) auth.push_back(login.username);
          auth.push_back(login.password);
          steps.push_back({std::move(auth), "AUTH"});
        }
        if (login.db != 0) steps.push_back({{"SELECT", std::to_string(login.db)}, "SELECT"});
        if (login.check_master) steps.push_back({{"ROLE"}, "ROLE"});
        if (steps.empty()) steps.push_back({{"PING"}, "PING"});
        auto failed = std::make_shared<bool>(false);
        for (size_t i = 0; i < steps.size(); ++i) {
          bool last = i + 1 == steps.size();
          std::string what = steps[i].what;
          conn->Send(Wire(steps[i].args), [self, conn, then, failed, last, what](absl::StatusOr<Reply> r) {
            if (*failed) return;
            std::string err;
            if (!r.ok()) {
              err = r.status().code() == absl::StatusCode::kInternal
                        ? conn->peer() + " refused " + what + ": " + Bare(r.status())
                        : Bare(r.status());
            } else if (what == "ROLE" && (r->type != Reply::Type::kArray || r->elements.empty() ||
                                          r->elements[0].str != "master")) {
              err = conn->peer() + " is not a master (" +
                    (r->elements.empty() ? std::string("?") : r->elements[0].str) + ")";
            }
            if (!err.empty()) {
              *failed = true;
              conn->Close(absl::UnavailableError(err));
              then(absl::UnavailableError("redis: " + err));
              return;
            }
            if (last) {
              ++self->open_gen_;
              self->deadline_.cancel();
              then(conn);
            }
          });
        }
      });
}

void Dial::Cancel() {
  if (!done_) return;
  done_ = nullptr;  // first: every continuation checks it and stops
  deadline_.cancel();
  if (auto c = std::move(connector_)) c->Cancel();
  if (auto c = std::move(conn_)) c->Close(absl::CancelledError("redis: dial cancelled"));
}

void Dial::Finish(absl::StatusOr<std::shared_ptr<Connection>> result) {
  if (!done_) {
    if (result.ok()) (*result)->Close(absl::CancelledError("redis: dial cancelled"));
    return;
  }
  Done done = std::move(done_);
  done_ = nullptr;
  deadline_.cancel();
  if (!result.ok() && conn_) conn_->Close(result.status());
  conn_ = nullptr;
  connector_ = nullptr;
  done(std::move(result));
}

}  // namespace cloudillo::cache::internal
