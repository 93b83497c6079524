#include "cloudillo/core/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>

namespace cloudillo {

void RandomFill(void* out, size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  size_t done = 0;
  while (done < n) {
    ssize_t got = getrandom(p + done, n - done, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::abort();
    }
    done += size_t(got);
  }
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  RandomFill(out.data(), n);
  return out;
}

std::string RandomAlnum(size_t n) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    std::string bytes = RandomBytes(n);
    for (unsigned char b : bytes) {
      if (b >= 248) continue;  // 248 = 62 * 4: reject to avoid bias
      out += kAlphabet[b % 62];
      if (out.size() == n) break;
    }
  }
  return out;
}

}  // namespace cloudillo
