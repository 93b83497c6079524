// File records (PROTOCOL §4.3, §4.4, §8 "Files"): metadata, folders and mutable
// files, rename and move, trash, per-user flags and tags; and the unary RPC wiring.
#include "absl/strings/numbers.h"
#include "blob_service.h"
#include "byte_range.h"
#include "cloudillo/core/absl_compat.h"
#include "cloudillo/core/random.h"
#include "cloudillo/core/status_macros.h"
#include "cloudillo/rpc/api.h"
#include "cloudillo/rpc/status.h"
#include "file_rows.h"

namespace cloudillo::blob {
namespace {

using json = nlohmann::json;

// Deletes files `seed` selects (a subquery over `files` yielding file_id, with $1 the
// tenant) and everything inside them, at any depth.
constexpr const char* kDeleteTree =
    "WITH RECURSIVE t(file_id) AS (%s UNION SELECT f.file_id FROM files f JOIN t ON f.parent_id = t.file_id "
    "WHERE f.tn_id = $1) DELETE FROM files WHERE tn_id = $1 AND file_id IN (SELECT file_id FROM t)";

std::string DeleteTree(const std::string& seed) {
  std::string sql = kDeleteTree;
  return sql.replace(sql.find("%s"), 2, seed);
}

absl::Status Cycle() {
  return rpc::ApiError(absl::StatusCode::kInvalidArgument, "E-FILE-CYCLEREJ",
                       "A folder cannot move into itself");
}

}  // namespace

BlobService::BlobService(std::shared_ptr<db::Pool> pool, std::unique_ptr<BlobStore> store,
                         BlobOptions options, rpc::WorkerPool& workers, BlobMetrics& metrics)
    : pool_(std::move(pool)),
      store_(std::move(store)),
      options_(options),
      workers_(workers),
      metrics_(metrics) {}

absl::StatusOr<ApiReply> BlobService::DoGetDescriptor(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(FileRow f, ReadableFile(req, rpc::PathParam(req, "fileId")));
  if (f.descriptor.empty()) return rpc::NotFoundError("This file has no descriptor");
  // A blob file's id is the hash of its descriptor: the answer never changes for an id.
  ApiReply reply;
  auto& h = *reply.mutable_headers();
  h["ETag"] = "\"" + f.file_id + "\"";
  h["Cache-Control"] = "private, max-age=31536000, immutable";
  auto inm = req.headers().find("if-none-match");
  if (inm != req.headers().end() && IfNoneMatchHits(inm->second, f.file_id)) {
    reply.set_http_status(304);
    reply.set_empty_body(true);
    return reply;
  }
  reply.set_data_json(json(f.descriptor).dump());
  return reply;
}

absl::StatusOr<ApiReply> BlobService::DoGetMetadata(const ApiRequest& req) {
  CL_ASSIGN_OR_RETURN(FileRow f, ReadableFile(req, rpc::PathParam(req, "fileId")));
  return rpc::Data(FileView(req.ctx(), f, nullptr));
}

absl::StatusOr<ApiReply> BlobService::DoCreateFile(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  std::string tp = body.value("fileTp", json()).is_string() ? body["fileTp"].get<std::string>() : "";
  if (tp != "CRDT" && tp != "RTDB" && tp != "FLDR")
    return rpc::BadRequest("fileTp must be CRDT, RTDB or FLDR");
  auto str = [&](const char* k) -> absl::StatusOr<std::optional<std::string>> {
    if (!body.contains(k) || body[k].is_null()) return std::optional<std::string>();
    if (!body[k].is_string()) return rpc::BadRequest(std::string(k) + " must be a string");
    return std::optional<std::string>(body[k].get<std::string>());
  };
  CL_ASSIGN_OR_RETURN(auto name, str("fileName"));
  CL_ASSIGN_OR_RETURN(auto ct, str("contentType"));
  CL_ASSIGN_OR_RETURN(auto parent, str("parentId"));
  CL_ASSIGN_OR_RETURN(auto root, str("rootId"));
  CL_ASSIGN_OR_RETURN(auto vis, str("visibility"));
  std::string file_name = name.value_or(tp == "FLDR" ? "New folder" : "Untitled");
  if (!IsValidFileName(file_name)) return rpc::BadRequest("Invalid fileName");
  if (ct && (ct->empty() || ct->size() > 255)) return rpc::BadRequest("Invalid contentType");
  if (parent && *parent == "__root__") parent.reset();
  if (parent && !IsFileId(*parent)) return rpc::BadRequest("Invalid parentId");
  if (root && !IsFileId(*root)) return rpc::BadRequest("Invalid rootId");
  if (vis && !IsSettableVisibility(*vis)) return rpc::BadRequest("Invalid visibility");
  std::vector<std::string> tags;
  if (body.contains("tags") && !body["tags"].is_null()) {
    if (!body["tags"].is_array() || body["tags"].size() > 64) return rpc::BadRequest("Invalid tags");
    for (const auto& t : body["tags"]) {
      if (!t.is_string() || !IsValidTag(t.get<std::string>())) return rpc::BadRequest("Invalid tag");
      tags.push_back(t.get<std::string>());
    }
  }
  const std::string id = RandomAlnum(24);
  CL_RETURN_IF_ERROR(pool_->Transact([&](db::Tx& tx) -> absl::Status {
    if (parent) {
      CL_ASSIGN_OR_RETURN(auto p, tx.Query("SELECT 1 FROM files WHERE tn_id = $1 AND file_id = $2 AND "
                                           "file_tp = 'FLDR' AND status = 'A'",
                                           {db::P(ctx.tn_id()), db::P(*parent)}));
      if (p.empty()) return rpc::NotFoundError("Parent folder not found");
    }
    return tx
        .Query(
            "INSERT INTO files (tn_id, file_id, parent_id, root_id, file_tp, file_name, content_type, "
            "creator, "
            "visibility, tags) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            {db::P(ctx.tn_id()), db::P(id), parent ? db::P(*parent) : db::Null(),
             root ? db::P(*root) : db::Null(), db::P(tp), db::P(file_name), ct ? db::P(*ct) : db::Null(),
             db::P(ctx.subject()), vis ? db::P(*vis) : db::Null(), db::P(TextArray(tags))})
        .status();
  }));
  ApiReply reply = rpc::Data(json{{"fileId", id}});
  reply.set_http_status(201);
  return reply;
}

absl::StatusOr<ApiReply> BlobService::DoPatchFile(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  CL_ASSIGN_OR_RETURN(FileRow f, WritableFile(req, rpc::PathParam(req, "fileId")));
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  std::vector<std::string> sets;
  std::vector<db::Param> params = {db::P(ctx.tn_id()), db::P(f.file_id)};
  auto add = [&](const std::string& col, db::Param p) {
    params.push_back(std::move(p));
    sets.push_back(col + " = $" + std::to_string(params.size()));
  };
  if (body.contains("fileName")) {
    if (!body["fileName"].is_string() || !IsValidFileName(body["fileName"].get<std::string>()))
      return rpc::BadRequest("Invalid fileName");
    add("file_name", db::P(body["fileName"].get<std::string>()));
  }
  if (body.contains("visibility")) {
    const json& v = body["visibility"];
    if (!v.is_null() && (!v.is_string() || !IsSettableVisibility(v.get_ref<const std::string&>())))
      return rpc::BadRequest("Invalid visibility");
    if (!rpc::IsOwner(ctx)) return rpc::Forbidden();  // a file token may rename, not publish
    add("visibility", v.is_null() ? db::Null() : db::P(v.get<std::string>()));
  }
  std::optional<std::optional<std::string>> move;
  if (body.contains("parentId")) {
    const json& p = body["parentId"];
    if (!p.is_null() && !p.is_string()) return rpc::BadRequest("Invalid parentId");
    std::optional<std::string> target;
    if (p.is_string() && p.get<std::string>() != "__root__") target = p.get<std::string>();
    if (target && !IsFileId(*target)) return rpc::BadRequest("Invalid parentId");
    if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
    move = target;
    add("parent_id", target ? db::P(*target) : db::Null());
  }
  if (sets.empty()) return rpc::Data(FileView(ctx, f, nullptr));
  CL_RETURN_IF_ERROR(pool_->Transact([&](db::Tx& tx) -> absl::Status {
    if (move && *move) {
      // The new parent must be an active folder that is not this file nor inside it.
      std::string at = **move;
      for (int depth = 0; depth < 256; ++depth) {
        if (at == f.file_id) return Cycle();
        CL_ASSIGN_OR_RETURN(auto r,
                            tx.Query("SELECT file_tp, status, parent_id FROM files WHERE tn_id = $1 AND "
                                     "file_id = $2",
                                     {db::P(ctx.tn_id()), db::P(at)}));
        if (r.empty()) return rpc::NotFoundError("Parent folder not found");
        if (depth == 0 && (r.rows[0].Str(0) != "FLDR" || r.rows[0].Str(1) != "A"))
          return rpc::BadRequest("The parent is not a folder");
        if (r.rows[0].IsNull(2)) break;
        at = r.rows[0].Str(2);
      }
    }
    std::string sql = "UPDATE files SET modified_at = now()";
    for (const auto& s : sets) sql += ", " + s;
    return tx.Query(sql + " WHERE tn_id = $1 AND file_id = $2", params).status();
  }));
  rows_.ForgetTenant(ctx.tn_id());  // a move or a visibility change reaches downloads now
  CL_ASSIGN_OR_RETURN(auto updated, LoadFile(ctx.tn_id(), f.file_id));
  if (!updated) return rpc::NotFoundError("File not found");
  return rpc::Data(FileView(ctx, *updated, nullptr));
}

absl::StatusOr<ApiReply> BlobService::DoDeleteFile(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(FileRow f, WritableFile(req, rpc::PathParam(req, "fileId")));
  if (rpc::QueryParam(req, "permanent") == "true") {
    CL_RETURN_IF_ERROR(
        pool_->Query(DeleteTree("SELECT $2::text"), {db::P(ctx.tn_id()), db::P(f.file_id)}).status());
    CL_RETURN_IF_ERROR(CollectGarbage(ctx.tn_id()));
  } else {
    CL_RETURN_IF_ERROR(
        pool_
            ->Query("UPDATE files SET status = 'D', trashed_from = parent_id, modified_at = now() "
                    "WHERE tn_id = $1 AND file_id = $2",
                    {db::P(ctx.tn_id()), db::P(f.file_id)})
            .status());
  }
  rows_.ForgetTenant(ctx.tn_id());  // a trashed file is unreadable to others now
  return rpc::Data(json{{"fileId", f.file_id}});
}

absl::StatusOr<ApiReply> BlobService::DoRestoreFile(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(FileRow f, WritableFile(req, rpc::PathParam(req, "fileId")));
  // Back where it was, or to the root when that folder is gone or in the trash too.
  CL_RETURN_IF_ERROR(pool_
                         ->Query("UPDATE files f SET status = 'A', modified_at = now(), parent_id = "
                                 "(SELECT p.file_id FROM files p WHERE p.tn_id = f.tn_id AND "
                                 "p.file_id = f.trashed_from AND p.status = 'A' AND p.file_tp = 'FLDR'), "
                                 "trashed_from = NULL WHERE f.tn_id = $1 AND f.file_id = $2",
                                 {db::P(ctx.tn_id()), db::P(f.file_id)})
                         .status());
  rows_.ForgetTenant(ctx.tn_id());  // a move or a visibility change reaches downloads now
  CL_ASSIGN_OR_RETURN(auto updated, LoadFile(ctx.tn_id(), f.file_id));
  if (!updated) return rpc::NotFoundError("File not found");
  return rpc::Data(FileView(ctx, *updated, nullptr));
}

absl::StatusOr<ApiReply> BlobService::DoDuplicateFile(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(FileRow f, ReadableFile(req, rpc::PathParam(req, "fileId")));
  // A content-addressed file's id is its content: a copy would be the same file.
  if (f.file_tp == "BLOB")
    return rpc::Conflict("A stored file is immutable; its copy would be the same file");
  if (f.file_tp == "FLDR") return rpc::BadRequest("Folders cannot be duplicated");
  const std::string id = RandomAlnum(24);
  std::string name = f.file_name.size() > 240 ? f.file_name.substr(0, 240) : f.file_name;
  CL_RETURN_IF_ERROR(
      pool_
          ->Query("INSERT INTO files (tn_id, file_id, parent_id, root_id, file_tp, file_name, "
                  "content_type, creator, visibility, x, tags) SELECT tn_id, $3, parent_id, root_id, "
                  "file_tp, $4, content_type, $5, visibility, x, tags FROM files WHERE tn_id = $1 "
                  "AND file_id = $2",
                  {db::P(ctx.tn_id()), db::P(f.file_id), db::P(id), db::P(name + " (copy)"),
                   db::P(ctx.subject())})
          .status());
  ApiReply reply = rpc::Data(json{{"fileId", id}});
  reply.set_http_status(201);
  return reply;
}

absl::StatusOr<ApiReply> BlobService::DoPatchFileUser(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!ctx.authenticated()) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(FileRow f, ReadableFile(req, rpc::PathParam(req, "fileId")));
  CL_ASSIGN_OR_RETURN(json body, rpc::JsonObjectBody(req));
  std::optional<bool> pinned, starred;
  for (auto [k, slot] : {std::pair{"pinned", &pinned}, std::pair{"starred", &starred}}) {
    if (!body.contains(k) || body[k].is_null()) continue;
    if (!body[k].is_boolean()) return rpc::BadRequest(std::string(k) + " must be a boolean");
    *slot = body[k].get<bool>();
  }
  CL_ASSIGN_OR_RETURN(
      auto r, pool_->Query("INSERT INTO file_user_data (tn_id, file_id, user_tag, pinned, starred) "
                           "VALUES ($1, $2, $3, coalesce($4::boolean, false), "
                           "coalesce($5::boolean, false)) ON CONFLICT (tn_id, file_id, user_tag) "
                           "DO UPDATE SET pinned = coalesce($4::boolean, file_user_data.pinned), "
                           "starred = coalesce($5::boolean, file_user_data.starred) "
                           "RETURNING pinned, starred",
                           {db::P(ctx.tn_id()), db::P(f.file_id), db::P(ctx.subject()),
                            pinned ? db::P(*pinned) : db::Null(), starred ? db::P(*starred) : db::Null()}));
  return rpc::Data(json{{"pinned", r.rows[0].Bool(0)}, {"starred", r.rows[0].Bool(1)}});
}

absl::StatusOr<ApiReply> BlobService::DoTag(const ApiRequest& req, bool add) {
  const auto& ctx = req.ctx();
  const std::string& tag = rpc::PathParam(req, "tag");
  if (!IsValidTag(tag)) return rpc::BadRequest("Invalid tag");
  CL_ASSIGN_OR_RETURN(FileRow f, WritableFile(req, rpc::PathParam(req, "fileId")));
  std::string sql =
      add ? "UPDATE files SET tags = CASE WHEN $3 = ANY(tags) OR cardinality(tags) >= 64 THEN tags "
            "ELSE array_append(tags, $3) END"
          : "UPDATE files SET tags = array_remove(tags, $3)";
  CL_ASSIGN_OR_RETURN(auto r, pool_->Query(sql + " WHERE tn_id = $1 AND file_id = $2 RETURNING tags",
                                           {db::P(ctx.tn_id()), db::P(f.file_id), db::P(tag)}));
  if (r.empty()) return rpc::NotFoundError("File not found");
  // Bare, as the reference answers (Appendix D item 6).
  return rpc::Raw(json{{"tags", ParseTextArray(r.rows[0].Str(0))}});
}

absl::StatusOr<ApiReply> BlobService::DoListTags(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  const std::string& prefix = rpc::QueryParam(req, "prefix");
  bool counts = rpc::QueryParam(req, "withCounts") == "true";
  int64_t limit = 100;
  if (const std::string& l = rpc::QueryParam(req, "limit"); !l.empty()) {
    if (!absl::SimpleAtoi(AV(l), &limit) || limit < 1 || limit > 1000)
      return rpc::BadRequest("Invalid limit");
  }
  std::string visible = rpc::IsOwner(ctx) ? "" : " AND visibility IN (" + ListedVisibilities(ctx) + ")";
  std::string like;
  for (char c : prefix.substr(0, 64)) {
    if (c == '%' || c == '_' || c == '\\') like += '\\';
    like += c;
  }
  CL_ASSIGN_OR_RETURN(auto r,
                      pool_->Query("SELECT t, count(*) FROM files, unnest(tags) AS t WHERE tn_id = $1 AND "
                                   "status = 'A' AND t LIKE $2" +
                                       visible + " GROUP BY t ORDER BY t LIMIT $3",
                                   {db::P(ctx.tn_id()), db::P(like + "%"), db::P(limit)}));
  json tags = json::array();
  for (const auto& row : r.rows) {
    json t = {{"tag", row.Str(0)}};
    if (counts) t["count"] = row.Int(1);
    tags.push_back(t);
  }
  return rpc::Raw(json{{"tags", tags}});
}

absl::StatusOr<ApiReply> BlobService::DoEmptyTrash(const ApiRequest& req) {
  const auto& ctx = req.ctx();
  if (!rpc::IsOwner(ctx)) return rpc::Forbidden();
  CL_ASSIGN_OR_RETURN(auto r,
                      pool_->Query(DeleteTree("SELECT file_id FROM files WHERE tn_id = $1 AND status = 'D'"),
                                   {db::P(ctx.tn_id())}));
  CL_RETURN_IF_ERROR(CollectGarbage(ctx.tn_id()));
  return rpc::Data(json{{"deleted", r.affected}});
}

absl::Status BlobService::CollectGarbage(int64_t tn_id) {
  rows_.ForgetTenant(tn_id);  // rows just deleted must not lead downloads to removed bytes
  // Under the tenant's upload lock (upload.cc): no upload can be about to refer to a
  // blob removed here.
  int64_t removed = 0;
  absl::Status st = pool_->Transact([&](db::Tx& tx) -> absl::Status {
    CL_RETURN_IF_ERROR(
        tx.Query("SELECT pg_advisory_xact_lock(hashtextextended('blob.tenant', $1))", {db::P(tn_id)})
            .status());
    CL_ASSIGN_OR_RETURN(auto r,
                        tx.Query("DELETE FROM blobs b WHERE tn_id = $1 AND blob_id IN (SELECT blob_id FROM "
                                 "blobs x WHERE x.tn_id = $1 AND NOT EXISTS (SELECT 1 FROM file_variants v "
                                 "WHERE v.tn_id = x.tn_id AND v.blob_id = x.blob_id) LIMIT 10000) "
                                 "RETURNING blob_id",
                                 {db::P(tn_id)}));
    for (const auto& row : r.rows) {
      CL_RETURN_IF_ERROR(store_->Remove(tn_id, row.Str(0)));
      ++removed;
    }
    return absl::OkStatus();
  });
  if (st.ok()) metrics_.gc_removed.Increment(double(removed));
  return st;
}

#define UNARY(Rpc, Call)                                                                              \
  grpc::ServerUnaryReactor* BlobService::Rpc(grpc::CallbackServerContext* ctx, const ApiRequest* req, \
                                             ApiReply* out) {                                         \
    return rpc::Serve(ctx, out, workers_, [=, this] { return Call; });                                \
  }
UNARY(GetDescriptor, DoGetDescriptor(*req))
UNARY(GetMetadata, DoGetMetadata(*req))
UNARY(ListFiles, DoListFiles(*req))
UNARY(CreateFile, DoCreateFile(*req))
UNARY(PatchFile, DoPatchFile(*req))
UNARY(DeleteFile, DoDeleteFile(*req))
UNARY(RestoreFile, DoRestoreFile(*req))
UNARY(DuplicateFile, DoDuplicateFile(*req))
UNARY(PatchFileUser, DoPatchFileUser(*req))
UNARY(PutTag, DoTag(*req, true))
UNARY(DeleteTag, DoTag(*req, false))
UNARY(ListTags, DoListTags(*req))
UNARY(EmptyTrash, DoEmptyTrash(*req))
#undef UNARY

}  // namespace cloudillo::blob
