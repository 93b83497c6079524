// The `-- min-binary-version: <n>` header of a migration (see migrate.h).
#include <cctype>
#include <charconv>
#include <string_view>

#include "cloudillo/db/migrate.h"

namespace cloudillo::db {
namespace {

constexpr std::string_view kKey = "min-binary-version";

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// The text after `--` when the line is a line comment.
bool CommentText(std::string_view line, std::string_view& text) {
  line = Trim(line);
  if (line.substr(0, 2) != "--") return false;
  text = line.substr(2);
  while (!text.empty() && text.front() == '-') text.remove_prefix(1);
  text = Trim(text);
  return true;
}

// Whether a comment looks like an attempt at the header, in any spelling ("Min binary
// version", "min_binary_versoin"): such a line must be exactly the header, on line 1,
// rather than be silently taken for prose and the migration for expand-only.
bool LooksLikeHeader(std::string_view text) {
  std::string folded;
  for (char c : text.substr(0, 32)) {
    if (std::isalpha(static_cast<unsigned char>(c)))
      folded += char(std::tolower(static_cast<unsigned char>(c)));
  }
  return folded.starts_with("minbinary");
}

absl::Status Malformed(const Migration& m, std::string_view why) {
  return absl::InvalidArgumentError("migration V" + std::to_string(m.version) + "__" + m.name + ": " +
                                    std::string(why) + " (the header is the first line, `-- " +
                                    std::string(kKey) + ": <n>` with 1 <= n <= " + std::to_string(m.version) +
                                    ")");
}

}  // namespace

absl::StatusOr<int> MinBinaryVersion(const Migration& m) {
  std::string_view sql = m.sql;
  if (sql.starts_with("\xEF\xBB\xBF")) sql.remove_prefix(3);  // a UTF-8 BOM from an editor
  int min_binary = 0;
  for (size_t line_no = 1; !sql.empty(); ++line_no) {
    size_t nl = sql.find('\n');
    std::string_view line = sql.substr(0, nl);
    sql = nl == std::string_view::npos ? std::string_view() : sql.substr(nl + 1);
    std::string_view text;
    if (!CommentText(line, text) || !LooksLikeHeader(text)) continue;
    if (line_no != 1) return Malformed(m, "a min-binary-version header on line " + std::to_string(line_no));
    if (!text.starts_with(kKey)) return Malformed(m, "misspelt min-binary-version header");
    std::string_view rest = Trim(text.substr(kKey.size()));
    if (!rest.starts_with(':')) return Malformed(m, "min-binary-version header without ':'");
    std::string_view number = Trim(rest.substr(1));
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), min_binary);
    if (number.empty() || !std::isdigit(static_cast<unsigned char>(number.front())) || ec != std::errc() ||
        end != number.data() + number.size()) {
      return Malformed(m, "min-binary-version is not a decimal integer");
    }
    if (min_binary < 1 || min_binary > m.version) return Malformed(m, "min-binary-version out of range");
  }
  return min_binary;
}

}  // namespace cloudillo::db
