#pragma once
// Password hashing: Argon2id through libsodium's crypto_pwhash_str, at the
// "interactive" cost (about 0.1 s and 64 MiB per hash on the reference
// machine). The stored string carries the algorithm, its parameters and a
// random salt; the password itself is never stored.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace im::admin {

struct PasswordCost {
  std::uint64_t opslimit = 2;           // crypto_pwhash_OPSLIMIT_INTERACTIVE
  std::size_t memlimit_bytes = 64 << 20;  // crypto_pwhash_MEMLIMIT_INTERACTIVE
};

/// A new salted hash of `password` at `cost` (which the hash string records,
/// so a later change of cost affects only new hashes). Thread safe.
absl::StatusOr<std::string> HashPassword(const std::string& password, const PasswordCost& cost = {});

/// True when `password` matches `hash` (from HashPassword). Constant time in
/// the password. False for an empty or malformed hash. Thread safe.
bool VerifyPassword(const std::string& hash, const std::string& password);

}  // namespace im::admin
