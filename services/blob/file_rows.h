// Shared by the handlers: the `files` column list and its row reader, tag arrays, and
// the access rules of blob_service.h.
#pragma once

#include <string>
#include <vector>

#include "blob_service.h"
#include "cloudillo/db/pool.h"

namespace cloudillo::blob {

// Columns read into a FileRow, in RowToFile's order (15 of them).
extern const char* const kFileColumns;
FileRow RowToFile(const db::Row& r, size_t at = 0);

std::vector<std::string> ParseTextArray(const std::string& s);
std::string TextArray(const std::vector<std::string>& items);

// The strongest letter (R, C, W) a `file:<id>:X` scope grants on `file_id`, or 0.
char ScopeAccess(const std::string& scope, const std::string& file_id);
// What a scope grants on `f`, share links on folders included: a `file:<folder>:X`
// scope (a link to a folder, PROTOCOL §8 "Refs") grants X on every live file below
// that folder, as the reference does. The parent chain is walked in one query, at
// most kMaxFolderDepth levels up; 0 when nothing in the scope covers the file.
inline constexpr int kMaxFolderDepth = 64;
absl::StatusOr<char> ScopeLevel(db::Pool& pool, const cloudillo::v1::RequestContext& ctx, const FileRow& f);
// The `file:<id>:X` file ids of a scope, as a PostgreSQL text[] literal.
std::string ScopeFileIds(const std::string& scope);
// What the caller's token and the row alone allow (the owner, a scope, P, V): the same
// answer for every request with that token, so a download it allowed is reusable.
// F and C (relationship_gate.h), share entries and folder links are decided beside it.
bool CanRead(const cloudillo::v1::RequestContext& ctx, const FileRow& f);
bool CanWrite(const cloudillo::v1::RequestContext& ctx, const FileRow& f);

}  // namespace cloudillo::blob
