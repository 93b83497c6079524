#include "action_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cloudillo/core/base64.h"
#include "cloudillo/core/id_tag.h"
#include "cloudillo/core/list_items.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "token_claims.h"

namespace cloudillo::action {
namespace {

using json = nlohmann::json;

constexpr int kDefaultLimit = 20;
constexpr int kMaxLimit = 100;
constexpr size_t kMaxRelated = 8;
constexpr size_t kMaxRelatedBytes = 256 * 1024;

Tenant TenantOf(const ApiRequest& req) { return Tenant{req.ctx().tn_id(), req.ctx().id_tag()}; }

absl::StatusOr<int> Limit(const ApiRequest& req, int def, int max) {
  const std::string& s = rpc::QueryParam(req, "limit");
  if (s.empty()) return def;
  int v = 0;
  if (!absl::SimpleAtoi(s, &v) || v < 0) return rpc::BadRequest("limit must be a non-negative integer");
  return std::min(v, max);
}

absl::StatusOr<std::optional<int64_t>> TimeParam(const ApiRequest& req, const std::string& name) {
  const std::string& s = rpc::QueryParam(req, name);
  if (s.empty()) return std::optional<int64_t>();
  int64_t v = 0;
  if (absl::SimpleAtoi(s, &v)) return std::optional<int64_t>(v);
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return std::optional<int64_t>(absl::ToUnixSeconds(t));
  return rpc::BadRequest(name + " must be a timestamp");
}

std::vector<std::string> ListParam(const ApiRequest& req, const std::string& name) {
  std::vector<std::string> out;
  ForEachListItem(rpc::QueryParam(req, name), ',', [&](std::string_view item) {
    if (!item.empty()) out.emplace_back(item);
  });
  return out;
}

absl::Status RequireOwner(const ApiRequest& req) {
  if (!req.ctx().authenticated()) return rpc::Unauthorized();
  if (!rpc::IsOwner(req.ctx())) return rpc::Forbidden();
  return absl::OkStatus();
}

ApiReply Created(const ojson& data) {
  ApiReply r = rpc::Data(data);
  r.set_http_status(201);
  return r;
}

std::optional<std::string> OptString(const json& body, const char* key, absl::Status* error) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    *error = rpc::BadRequest(std::string(key) + " must be a string");
    return std::nullopt;
  }
  return it->get<std::string>();
}

}  // namespace

std::string EncodeCursor(int64_t time_us, int64_t a_id) {
  return Base64UrlEncode(absl::StrCat(time_us, ".", a_id));
}

std::optional<std::pair<int64_t, int64_t>> DecodeCursor(const std::string& cursor) {
  auto raw = Base64UrlDecode(cursor);
  if (!raw.ok()) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(*raw, '.');
  int64_t t = 0, id = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &t) || !absl::SimpleAtoi(parts[1], &id))
    return std::nullopt;
  return std::make_pair(t, id);
}

absl::StatusOr<CreateInput> ParseCreateBody(const json& body) {
  CreateInput in;
  absl::Status error;
  auto type = OptString(body, "type", &error);
  if (!type || type->empty()) return rpc::BadRequest("type is required");
  in.type = *type;
  in.sub_type = OptString(body, "subType", &error).value_or("");
  in.parent_id = OptString(body, "parentId", &error).value_or("");
  in.audience = OptString(body, "audienceTag", &error).value_or("");
  in.subject = OptString(body, "subject", &error).value_or("");
  in.visibility = OptString(body, "visibility", &error).value_or("");
  in.flags = OptString(body, "flags", &error).value_or("");
  CL_RETURN_IF_ERROR(error);
  if (auto it = body.find("content"); it != body.end() && !it->is_null()) in.content = *it;
  if (auto it = body.find("attachments"); it != body.end() && !it->is_null()) {
    if (!it->is_array() || it->size() > 32)
      return rpc::BadRequest("attachments must be an array of file ids");
    for (const json& a : *it) {
      if (!a.is_string() || a.get_ref<const std::string&>().empty() ||
          a.get_ref<const std::string&>().size() > 128)
        return rpc::BadRequest("attachments must be an array of file ids");
      in.attachments.push_back(a.get<std::string>());
    }
  }
  if (auto it = body.find("expiresAt"); it != body.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      in.expires_at = it->get<int64_t>();
    } else {
      absl::Time t;
      std::string err;
      if (!it->is_string() || !absl::ParseTime(absl::RFC3339_full, it->get<std::string>(), &t, &err))
        return rpc::BadRequest("expiresAt must be a timestamp");
      in.expires_at = absl::ToUnixSeconds(t);
    }
  }
  if (in.visibility.size() > 1) return rpc::BadRequest("visibility must be one character");
  if (!in.subject.empty() && in.subject.size() > 256) return rpc::BadRequest("subject too long");
  if (in.flags.size() > 16) return rpc::BadRequest("flags too long");
  return in;
}

ActionService::ActionService(ActionStore& store, Pipeline& pipeline, OutboxWorker& outbox, InboxWorker& inbox,
                             std::shared_ptr<cache::Redis> redis, const Clock& clock,
                             rpc::WorkerPool& workers, BusHub* bus, cache::BucketLimits issuer_limits)
    : store_(store),
      pipeline_(pipeline),
      outbox_(outbox),
      inbox_(inbox),
      redis_(std::move(redis)),
      clock_(clock),
      workers_(workers),
      bus_(bus),
      pow_(redis_),
      issuer_limit_(redis_, std::move(issuer_limits)) {}

grpc::ServerBidiReactor<cloudillo::v1::SocketFrame, cloudillo::v1::SocketFrame>* ActionService::Bus(
    grpc::CallbackServerContext* ctx) {
  if (!bus_) return cloudillo::v1::ActionEdge::CallbackService::Bus(ctx);
  return bus_->Open();
}

#define SERVE(Name, Call)                                                                                \
  grpc::ServerUnaryReactor* ActionService::Name(grpc::CallbackServerContext* ctx, const ApiRequest* req, \
                                                ApiReply* out) {                                         \
    return rpc::Serve(ctx, out, workers_, [=, this] { return Call; });                                   \
  }
SERVE(ListActions, DoList(*req))
SERVE(CreateAction, DoCreate(*req))
SERVE(GetAction, DoGet(*req))
SERVE(DeleteAction, DoSetStatus(*req, "D"))
SERVE(DismissAction, DoSetStatus(*req, "A"))
SERVE(AcceptAction, DoDecide(*req, true))
SERVE(RejectAction, DoDecide(*req, false))
SERVE(InboxSync, DoInboxSync(*req))
SERVE(Outbox, DoOutbox(*req))
#undef SERVE

// gRPC's thread admits the token and moves on; the group commit answers the call, so
// no thread sits out a commit and every POST that arrives meanwhile shares that
// commit. Admission never blocks but for a connection request's proof of work (Redis,
// on a worker): a hop to a worker per token cost a thread wake-up each.
grpc::ServerUnaryReactor* ActionService::Inbox(grpc::CallbackServerContext* ctx, const ApiRequest* req,
                                               ApiReply* out) {
  return rpc::ServeDeferredInline(ctx, out, [this, req](auto done) {
    auto enqueue = [this, done](InboundItem item) {
      absl::Status queued = inbox_.EnqueueAsync(std::move(item), [done](absl::Status st) {
        if (!st.ok()) return done(st);
        ApiReply reply = rpc::Data(json(nullptr));
        reply.set_http_status(201);
        done(std::move(reply));
      });
      if (!queued.ok()) done(queued);
    };
    absl::StatusOr<Admitted> a = AdmitInboxQuick(*req);
    if (!a.ok()) return done(a.status());
    if (!a->needs_pow) return enqueue(std::move(a->item));
    auto item = std::make_shared<InboundItem>(std::move(a->item));
    bool queued = workers_.TrySubmit([this, req, item, enqueue, done] {
      absl::Status pow = CheckPow(*req, item->token);
      if (!pow.ok()) return done(pow);
      enqueue(std::move(*item));
    });
    if (!queued) done(absl::UnavailableError("overloaded: worker queue full"));
  });
}

absl::StatusOr<Viewer> ActionService::ViewerOf(const cloudillo::v1::RequestContext& ctx) {
  Viewer v;
  v.owner = rpc::IsOwner(ctx);
  if (v.owner || !ctx.authenticated()) return v;
  auto caller = CanonicalIdTag(ctx.subject());
  if (!caller.ok()) return v;
  v.id_tag = *caller;
  CL_ASSIGN_OR_RETURN(ProfileIndex p, pipeline_.Profiles(ctx.tn_id(), {v.id_tag}));
  v.follower = p[v.id_tag].follower();
  v.connected = p[v.id_tag].connected();
  return v;
}

absl::StatusOr<ojson> ActionService::Views(int64_t tn_id, const std::vector<ActionRow>& rows,
                                           bool include_tokens) {
  std::vector<std::string> tags;
  for (const ActionRow& r : rows) {
    tags.push_back(r.issuer);
    if (!r.audience.empty()) tags.push_back(r.audience);
  }
  CL_ASSIGN_OR_RETURN(ProfileIndex profiles, pipeline_.Profiles(tn_id, tags));
  ojson list = ojson::array();
  for (const ActionRow& r : rows) list.push_back(ActionView(r, profiles, include_tokens));
  return list;
}

absl::StatusOr<ApiReply> ActionService::DoList(const ApiRequest& req) {
  ListQuery q;
  CL_ASSIGN_OR_RETURN(q.limit, Limit(req, kDefaultLimit, kMaxLimit));
  q.types = ListParam(req, "type");
  q.statuses = ListParam(req, "status");
  q.issuer = rpc::QueryParam(req, "issuer");
  q.audience = rpc::QueryParam(req, "audience");
  q.involved = rpc::QueryParam(req, "involved");
  q.action_id = rpc::QueryParam(req, "actionId");
  q.parent_id = rpc::QueryParam(req, "parentId");
  q.root_id = rpc::QueryParam(req, "rootId");
  q.subject = rpc::QueryParam(req, "subject");
  CL_ASSIGN_OR_RETURN(q.created_after, TimeParam(req, "createdAfter"));
  CL_ASSIGN_OR_RETURN(q.created_before, TimeParam(req, "createdBefore"));
  q.exclude_own_issuer = rpc::QueryParam(req, "excludeOwnIssuer") == "true";
  const std::string& sort = rpc::QueryParam(req, "sort");
  if (!sort.empty() && sort != "created" && sort != "received")
    return rpc::BadRequest("sort must be created|received");
  q.sort_received = sort == "received";
  const std::string& dir = rpc::QueryParam(req, "sortDir");
  if (!dir.empty() && dir != "asc" && dir != "desc") return rpc::BadRequest("sortDir must be asc|desc");
  q.ascending = dir == "asc";
  if (const std::string& c = rpc::QueryParam(req, "cursor"); !c.empty()) {
    q.cursor = DecodeCursor(c);
    if (!q.cursor) return rpc::BadRequest("invalid cursor");
  }
  for (const auto& s : q.statuses)
    if (s.size() != 1) return rpc::BadRequest("invalid status");
  // Guests see only active public rows; other statuses are the owner's business.
  CL_ASSIGN_OR_RETURN(Viewer viewer, ViewerOf(req.ctx()));
  if (!viewer.owner) q.statuses = {"A"};
  std::vector<ActionRow> rows;
  if (q.limit > 0) {
    CL_ASSIGN_OR_RETURN(rows, store_.List(req.ctx().tn_id(), req.ctx().id_tag(), q, viewer));
  }
  bool has_more = int(rows.size()) > q.limit;
  if (has_more) rows.resize(q.limit);
  CL_ASSIGN_OR_RETURN(ojson data,
                      Views(req.ctx().tn_id(), rows, rpc::QueryParam(req, "includeTokens") == "true"));
  ojson page;
  if (has_more) {
    const ActionRow& last = rows.back();
    page["nextCursor"] = EncodeCursor(q.sort_received ? last.received_at : last.created_at, last.a_id);
  } else {
    page["nextCursor"] = nullptr;
  }
  page["hasMore"] = has_more;
  ApiReply reply = rpc::Data(data);
  reply.set_extra_json(ojson{{"cursorPagination", page}}.dump());
  return reply;
}

absl::StatusOr<ApiReply> ActionService::DoCreate(const ApiRequest& req) {
  CL_RETURN_IF_ERROR(RequireOwner(req));
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  CL_ASSIGN_OR_RETURN(CreateInput in, ParseCreateBody(body));
  CL_ASSIGN_OR_RETURN(ActionRow row, pipeline_.Create(TenantOf(req), in));
  outbox_.Notify();
  CL_ASSIGN_OR_RETURN(ProfileIndex profiles,
                      pipeline_.Profiles(req.ctx().tn_id(), {row.issuer, row.audience}));
  return Created(ActionView(row, profiles, false));
}

absl::StatusOr<ApiReply> ActionService::DoGet(const ApiRequest& req) {
  ListQuery q;
  q.action_id = rpc::PathParam(req, "id");
  q.limit = 1;
  CL_ASSIGN_OR_RETURN(Viewer viewer, ViewerOf(req.ctx()));
  if (viewer.owner) q.statuses = {"A", "C", "N", "D", "F", "W", "P", "V", "R", "S"};
  CL_ASSIGN_OR_RETURN(auto rows, store_.List(req.ctx().tn_id(), req.ctx().id_tag(), q, viewer));
  if (rows.empty()) return rpc::NotFoundError();
  rows.resize(1);
  CL_ASSIGN_OR_RETURN(ojson views,
                      Views(req.ctx().tn_id(), rows, rpc::QueryParam(req, "includeTokens") == "true"));
  return rpc::Data(views[0]);
}

// DELETE is local only (§8); dismiss turns a notification into an ordinary row.
absl::StatusOr<ApiReply> ActionService::DoSetStatus(const ApiRequest& req, const std::string& status) {
  CL_RETURN_IF_ERROR(RequireOwner(req));
  CL_ASSIGN_OR_RETURN(bool found, store_.SetStatus(req.ctx().tn_id(), rpc::PathParam(req, "id"), status));
  if (!found) return rpc::NotFoundError();
  return rpc::Data(json(nullptr));
}

absl::StatusOr<ApiReply> ActionService::DoDecide(const ApiRequest& req, bool accept) {
  CL_RETURN_IF_ERROR(RequireOwner(req));
  Tenant tenant = TenantOf(req);
  const std::string& id = rpc::PathParam(req, "id");
  CL_ASSIGN_OR_RETURN(ActionRow row, accept ? pipeline_.Accept(tenant, id) : pipeline_.Reject(tenant, id));
  outbox_.Notify();
  CL_ASSIGN_OR_RETURN(ProfileIndex profiles, pipeline_.Profiles(tenant.tn_id, {row.issuer, row.audience}));
  return rpc::Data(ActionView(row, profiles, false));
}

// E1 with §13.4: only input that can never succeed is refused here (400 for a body or
// token that does not decode); everything else is committed to the inbound queue
// before the 201 and decided by the verifier.
absl::StatusOr<InboundItem> ActionService::AdmitInbox(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(Admitted a, AdmitInboxQuick(req));
  if (a.needs_pow) CL_RETURN_IF_ERROR(CheckPow(req, a.item.token));
  return std::move(a.item);
}

absl::StatusOr<ActionService::Admitted> ActionService::AdmitInboxQuick(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  auto token_it = body.find("token");
  if (token_it == body.end() || !token_it->is_string()) return rpc::BadRequest("token must be a string");
  std::string token = token_it->get<std::string>();
  std::vector<std::string> related;
  if (auto it = body.find("related"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return rpc::BadRequest("related must be an array of strings");
    if (it->size() > kMaxRelated) return rpc::BadRequest("too many related tokens");
    size_t bytes = 0;
    for (const json& r : *it) {
      if (!r.is_string()) return rpc::BadRequest("related must be an array of strings");
      bytes += r.get_ref<const std::string&>().size();
      related.push_back(r.get<std::string>());
    }
    if (bytes > kMaxRelatedBytes) return rpc::BadRequest("related tokens too large");
  }
  CL_ASSIGN_OR_RETURN(Claims claims, DecodeClaims(token));
  const Tenant tenant = TenantOf(req);
  if (cache::Decision d = issuer_limit_.Check(tenant.tn_id, claims.iss, req.ctx().client_ip()); !d.allowed) {
    return rpc::ApiError(absl::StatusCode::kResourceExhausted, "E-RATE-LIMITED",
                         "Too many requests. Please slow down.",
                         ojson{{"level", d.level}, {"retryAfter", d.retry_after_secs}}.dump(), 429);
  }
  // E1 step 3, E4: a connection request from a network that must prove work.
  const bool needs_pow = claims.t.rfind("CONN", 0) == 0;
  return Admitted{
      InboundItem{tenant.tn_id, tenant.id_tag, std::move(token), std::move(related), req.ctx().client_ip()},
      needs_pow};
}

absl::Status ActionService::CheckPow(const ApiRequest& req, const std::string& token) {
  int required = pow_.Required(req.ctx().client_ip());
  if (PowSatisfied(token, required)) return absl::OkStatus();
  std::string postfix(size_t(required), 'A');
  std::string message = absl::StrCat(
      "Precondition required: Proof of work required: Proof of work required: token must end with '", postfix,
      "' (", required, " chars)");
  return rpc::ApiError(absl::StatusCode::kFailedPrecondition, "E-POW-REQUIRED", message,
                       ojson{{"required", required},
                             {"postfix", postfix},
                             {"hint", absl::StrCat("Action token must end with '", postfix, "'")}}
                           .dump(),
                       428);
}

absl::StatusOr<ApiReply> ActionService::DoInboxSync(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(InboundItem item, AdmitInbox(req));
  const Tenant tenant{item.tn_id, item.tenant};
  // E2 recommend: the reference's 401/403 answers, 503 for any key-fetch failure.
  auto outcome = pipeline_.Receive(tenant, item.token, item.related, false);
  if (!outcome.ok()) {
    const absl::Status& st = outcome.status();
    if (absl::IsUnauthenticated(st)) {
      auto claims = DecodeClaims(item.token);
      if (claims.ok() && claims->t.rfind("CONN", 0) == 0) pow_.Penalize(req.ctx().client_ip());
      return rpc::Unauthorized(std::string(st.message()));
    }
    if (absl::IsPermissionDenied(st)) return rpc::Forbidden(std::string(st.message()));
    if (absl::IsInvalidArgument(st) || absl::IsFailedPrecondition(st))
      return rpc::BadRequest(std::string(st.message()));
    return st;
  }
  ApiReply reply = rpc::Data(json::object());
  reply.set_http_status(201);
  return reply;
}

// E8, E24 item 1: a STAT of the tenant's own post, signed fresh on every call, with
// only the non-zero counters, no `v` and no `aud`; none at all when every counter is 0.
absl::StatusOr<std::optional<std::string>> ActionService::OutboxStat(int64_t tn_id, const ActionRow& row) {
  ojson c = ojson::object();
  if (!row.reactions.empty()) c["r"] = row.reactions;
  if (row.comments > 0) c["c"] = row.comments;
  if (row.comments_ts > 0) c["ct"] = row.comments_ts;
  if (row.reposts > 0) c["rp"] = row.reposts;
  if (c.empty()) return std::optional<std::string>();
  cloudillo::v1::ActionClaims claims;
  claims.set_t("STAT");
  claims.set_p(row.action_id);
  claims.set_c_json(c.dump());
  claims.set_iat(absl::ToUnixSeconds(clock_.Now()));
  CL_ASSIGN_OR_RETURN(std::string token, pipeline_.Sign(tn_id, claims, 0));
  return std::optional<std::string>(std::move(token));
}

// §2.10 with E8: the newest `limit` broadcast rows of the tenant, oldest first, for
// the tenant itself, its followers and its connections (C rows to connections only).
absl::StatusOr<ApiReply> ActionService::DoOutbox(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(int limit, Limit(req, 10, 100));
  CL_ASSIGN_OR_RETURN(std::optional<int64_t> since, TimeParam(req, "since"));
  if (limit == 0) return rpc::Data(ojson{{"items", ojson::array()}});
  if (!req.ctx().authenticated()) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(Viewer viewer, ViewerOf(req.ctx()));
  if (!viewer.owner && !viewer.follower && !viewer.connected) return rpc::Forbidden();
  ListQuery q;
  q.types = {"POST", "REPOST"};
  q.statuses = {"A"};
  q.created_after = since.value_or(0);
  q.limit = limit;
  CL_ASSIGN_OR_RETURN(auto rows, store_.List(req.ctx().tn_id(), req.ctx().id_tag(), q, viewer));
  if (int(rows.size()) > limit) rows.resize(limit);
  ojson items = ojson::array();
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    const std::string& home = it->audience.empty() ? it->issuer : it->audience;
    if (home != req.ctx().id_tag()) continue;
    ojson item{{"token", it->token}};
    if (it->issuer == req.ctx().id_tag()) {
      CL_ASSIGN_OR_RETURN(std::optional<std::string> stat, OutboxStat(req.ctx().tn_id(), *it));
      if (stat) item["related"] = ojson::array({*stat});
    }
    items.push_back(std::move(item));
  }
  return rpc::Data(ojson{{"items", items}});
}

}  // namespace cloudillo::action
