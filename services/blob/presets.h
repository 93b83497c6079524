// Upload presets (PROTOCOL §4.2): which variants an upload gets and which content a
// preset accepts. An unknown preset name falls back to `default`, as the reference
// does; a name that is not 1–32 characters of [a-z0-9_-] is refused before that.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cloudillo::blob {

struct ImageTier {
  const char* name;  // vis.tn, …
  int px;            // the longer edge
  const char* format;
};

struct Preset {
  std::string name;               // as stored (the fallback's name for unknown ones)
  std::vector<ImageTier> images;  // tiers made from an image upload
  bool allows_raw = false;        // arbitrary binaries (class raw)
};

bool IsValidPresetName(std::string_view name);
Preset PresetNamed(std::string_view name);

// The class of an upload from its Content-Type: vis, vid, aud, doc or raw.
std::string ClassOf(std::string_view content_type);

}  // namespace cloudillo::blob
