// One row of `files` as the handlers use it.
#pragma once

#include <string>
#include <vector>

namespace cloudillo::blob {

// One row of `files` as the handlers use it.
struct FileRow {
  std::string file_id, parent_id, root_id, file_tp, file_name, content_type, preset, descriptor, creator,
      visibility, status, x_json, created_at, modified_at;
  std::vector<std::string> tags;
  bool has_parent = false, has_root = false;
};

}  // namespace cloudillo::blob
