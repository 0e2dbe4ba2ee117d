#pragma once
// Password hashing: Argon2id through libsodium's crypto_pwhash_str, at the
// "interactive" cost (about 0.1 s and 64 MiB per hash on the reference
// machine). The stored string carries the algorithm, its parameters and a
// random salt; the password itself is never stored.

#include <string>

#include "absl/status/statusor.h"

namespace im::admin {

/// A new salted hash of `password`. Thread safe.
absl::StatusOr<std::string> HashPassword(const std::string& password);

/// True when `password` matches `hash` (from HashPassword). Constant time in
/// the password. False for an empty or malformed hash. Thread safe.
bool VerifyPassword(const std::string& hash, const std::string& password);

}  // namespace im::admin
