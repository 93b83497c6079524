#include "action_view.h"

#include "absl/time/time.h"

namespace cloudillo::action {
namespace {

ojson ProfileRef(const std::string& id_tag, const ProfileIndex& profiles) {
  ojson p;
  p["idTag"] = id_tag;
  auto it = profiles.find(id_tag);
  if (it != profiles.end() && it->second.known()) {
    if (!it->second.name().empty()) p["name"] = it->second.name();
    if (!it->second.type().empty()) p["type"] = it->second.type();
    if (!it->second.profile_pic().empty()) p["profilePic"] = it->second.profile_pic();
  }
  return p;
}

}  // namespace

std::string IsoTime(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(unix_seconds), absl::UTCTimeZone());
}

ojson ActionView(const ActionRow& row, const ProfileIndex& profiles, bool include_token) {
  ojson v;
  v["actionId"] = row.action_id;
  v["type"] = row.type;
  if (!row.sub_type.empty()) v["subType"] = row.sub_type;
  if (!row.parent_id.empty()) v["parentId"] = row.parent_id;
  if (!row.root_id.empty()) v["rootId"] = row.root_id;
  v["issuer"] = ProfileRef(row.issuer, profiles);
  if (!row.audience.empty()) v["audience"] = ProfileRef(row.audience, profiles);
  if (!row.content.empty()) {
    ojson c = ojson::parse(row.content, nullptr, false);
    if (!c.is_discarded()) v["content"] = std::move(c);
  }
  if (!row.attachments.empty()) {
    ojson a = ojson::array();
    for (const std::string& id : row.attachments) a.push_back(ojson{{"fileId", id}});
    v["attachments"] = std::move(a);
  }
  if (!row.subject.empty()) v["subject"] = row.subject;
  v["createdAt"] = IsoTime(row.created_at / 1000000);
  if (row.received_at != 0) v["receivedAt"] = IsoTime(row.received_at / 1000000);
  if (row.expires_at != 0) v["expiresAt"] = IsoTime(row.expires_at);
  v["status"] = row.status;
  ojson stat = ojson::object();
  if (row.comments != 0) stat["commentCount"] = row.comments;
  if (row.comments_ts != 0) stat["lastCommentAt"] = IsoTime(row.comments_ts);
  if (!row.reactions.empty()) stat["reactions"] = row.reactions;
  if (row.reposts != 0) stat["reposts"] = row.reposts;
  v["stat"] = std::move(stat);
  if (!row.visibility.empty() && row.visibility != "D") v["visibility"] = row.visibility;
  if (!row.flags.empty()) v["flags"] = row.flags;
  if (include_token) v["token"] = row.token;
  return v;
}

}  // namespace cloudillo::action
