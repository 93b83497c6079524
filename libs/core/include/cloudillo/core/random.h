// Cryptographically secure randomness from the kernel (getrandom(2)).
// Never fails in practice; aborts if the kernel refuses, since every caller
// (secrets, session ids, API keys) would be unsafe without it.
#pragma once

#include <string>

namespace cloudillo {

std::string RandomBytes(size_t n);
// Fills out[0..n) in place: for callers that must not allocate (ECDSA nonces).
void RandomFill(void* out, size_t n);
// `n` characters from [0-9A-Za-z] without modulo bias (random ids, request ids).
std::string RandomAlnum(size_t n);

}  // namespace cloudillo
