#include "signing_keys.h"

#include "cloudillo/core/base64.h"
#include "cloudillo/core/status_macros.h"

namespace cloudillo::identity {
namespace {
std::string Aad(int64_t tn_id, const std::string& key_id) {
  return "identity.signing_keys:" + std::to_string(tn_id) + ":" + key_id;
}
}  // namespace

std::string SigningKeys::KeyIdFor(absl::Time t, int index) {
  std::string id = absl::FormatTime("%y%m%d", t, absl::UTCTimeZone());
  if (index > 0) id += char('a' + index);
  return id;
}

absl::StatusOr<PublicKeyInfo> SigningKeys::Create(db::Tx& tx, int64_t tn_id, absl::Time now) const {
  CL_ASSIGN_OR_RETURN(db::Result existing,
                      tx.Query("SELECT key_id FROM signing_keys WHERE tn_id = $1 AND key_id LIKE $2",
                               {db::P(tn_id), db::P(KeyIdFor(now, 0) + "%")}));
  int index = int(existing.rows.size());
  if (index >= 26) return absl::FailedPreconditionError("too many signing keys created today");
  // Index 1 would give 'b': a second key on one day is "250814b", as §13.6 says.
  std::string key_id = KeyIdFor(now, index);
  CL_ASSIGN_OR_RETURN(crypto::P384PrivateKey key, crypto::P384PrivateKey::Generate());
  PublicKeyInfo info{key_id, key.PublicKey().SpkiBase64(), std::nullopt};
  CL_ASSIGN_OR_RETURN(std::string sealed_raw, master_.Seal(key.Pkcs8Der(), Aad(tn_id, key_id)));
  std::string sealed = Base64Encode(sealed_raw);
  CL_RETURN_IF_ERROR(
      tx.Query("INSERT INTO signing_keys (tn_id, key_id, public_key, sealed_private_key, created_at) "
               "VALUES ($1, $2, $3, $4, to_timestamp($5))",
               {db::P(tn_id), db::P(key_id), db::P(info.public_key), db::P(sealed),
                db::P(absl::ToUnixSeconds(now))})
          .status());
  return info;
}

absl::StatusOr<std::vector<PublicKeyInfo>> SigningKeys::ListValid(db::Pool& pool, int64_t tn_id,
                                                                  absl::Time now) const {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool.Query("SELECT key_id, public_key, extract(epoch FROM expires_at)::bigint "
                                 "FROM signing_keys WHERE tn_id = $1 AND (expires_at IS NULL OR expires_at > "
                                 "to_timestamp($2)) ORDER BY key_id ASC",
                                 {db::P(tn_id), db::P(absl::ToUnixSeconds(now))}));
  std::vector<PublicKeyInfo> out;
  for (const auto& row : r.rows) {
    PublicKeyInfo k{row.Str(0), row.Str(1), std::nullopt};
    if (!row.IsNull(2)) k.expires_at = absl::FromUnixSeconds(row.Int(2));
    out.push_back(std::move(k));
  }
  return out;
}

absl::StatusOr<PublicKeyInfo> SigningKeys::Rotate(db::Pool& pool, int64_t tn_id, absl::Time now,
                                                  absl::Duration retire_after) const {
  PublicKeyInfo created;
  CL_RETURN_IF_ERROR(pool.Transact([&](db::Tx& tx) -> absl::Status {
    CL_RETURN_IF_ERROR(tx.Query("SELECT pg_advisory_xact_lock($1)", {db::P(tn_id)}).status());
    CL_ASSIGN_OR_RETURN(created, Create(tx, tn_id, now));
    return tx
        .Query(
            "UPDATE signing_keys SET expires_at = to_timestamp($3) WHERE tn_id = $1 AND key_id <> $2 "
            "AND (expires_at IS NULL OR expires_at > to_timestamp($3))",
            {db::P(tn_id), db::P(created.key_id), db::P(absl::ToUnixSeconds(now + retire_after))})
        .status();
  }));
  return created;
}

absl::StatusOr<std::pair<std::string, crypto::P384PrivateKey>> SigningKeys::Signer(db::Pool& pool,
                                                                                   int64_t tn_id) const {
  CL_ASSIGN_OR_RETURN(db::Result r,
                      pool.Query("SELECT key_id, sealed_private_key FROM signing_keys WHERE tn_id = $1 "
                                 "ORDER BY key_id DESC LIMIT 1",
                                 {db::P(tn_id)}));
  if (r.empty()) return absl::NotFoundError("tenant has no signing key");
  std::string key_id = r.rows[0].Str(0);
  CL_ASSIGN_OR_RETURN(std::string sealed, Base64Decode(r.rows[0].Str(1)));
  CL_ASSIGN_OR_RETURN(std::string der, master_.Open(sealed, Aad(tn_id, key_id)));
  CL_ASSIGN_OR_RETURN(crypto::P384PrivateKey key, crypto::P384PrivateKey::FromPkcs8Der(der));
  return std::make_pair(key_id, std::move(key));
}

absl::StatusOr<cloudillo::v1::ResealReply> SigningKeys::Reseal(db::Pool& pool) const {
  CL_ASSIGN_OR_RETURN(db::Result r, pool.Query("SELECT tn_id, key_id, sealed_private_key FROM signing_keys"));
  cloudillo::v1::ResealReply reply;
  for (const auto& row : r.rows) {
    auto sealed = Base64Decode(row.Str(2));
    if (!sealed.ok() || !master_.NeedsReseal(*sealed)) continue;
    std::string aad = Aad(row.Int(0), row.Str(1));
    auto der = master_.Open(*sealed, aad);
    auto resealed = der.ok() ? master_.Seal(*der, aad) : absl::StatusOr<std::string>(der.status());
    // Compare-and-set: a key rotated meanwhile keeps its new value.
    auto updated =
        resealed.ok()
            ? pool.Query(
                  "UPDATE signing_keys SET sealed_private_key = $4 WHERE tn_id = $1 AND key_id = $2 "
                  "AND sealed_private_key = $3",
                  {db::P(row.Int(0)), db::P(row.Str(1)), db::P(row.Str(2)), db::P(Base64Encode(*resealed))})
            : absl::StatusOr<db::Result>(resealed.status());
    if (updated.ok() && updated->affected == 1) {
      reply.set_resealed(reply.resealed() + 1);
    } else {
      reply.set_remaining(reply.remaining() + 1);
    }
  }
  return reply;
}

}  // namespace cloudillo::identity
