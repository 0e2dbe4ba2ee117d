#pragma once
// Daemon configuration: one TOML file plus command-line overrides.
//
// A daemon describes its typed config struct to a Schema, key by key (dotted
// TOML keys such as "server.listen"); the Schema then fills the struct from the
// file and from flags. An unknown key, a value of the wrong type, or a value
// out of range is an error that names the key.
//
//   StorageConfig cfg;               // fields hold the defaults
//   config::Schema schema;
//   schema.Add("server.listen", &cfg.listen, "gRPC address to listen on");
//   schema.Add("engine.max_raw_bytes", &cfg.max_raw, "largest record", 1, 1 << 20);

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace im::config {

/// Not thread safe: used at start-up only.
class Schema {
 public:
  Schema();
  ~Schema();
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  void Add(std::string key, std::string* field, std::string help);
  void Add(std::string key, bool* field, std::string help);
  void Add(std::string key, std::int64_t* field, std::string help,
           std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX);
  void Add(std::string key, int* field, std::string help, int min = INT32_MIN, int max = INT32_MAX);
  void Add(std::string key, double* field, std::string help);
  void Add(std::string key, std::vector<std::string>* field, std::string help);
  void Add(std::string key, std::vector<std::int64_t>* field, std::string help);

  /// Adds a check run by Validate() after everything is loaded; it returns an
  /// error message naming the key, or "" when the value is fine.
  void AddCheck(std::function<std::string()> check);

  /// Loads a TOML document. `source` names it in error messages.
  absl::Status LoadToml(std::string_view toml, const std::string& source);
  absl::Status LoadFile(const std::string& path);

  /// Sets one key from its text form (a flag): strings as they are, numbers,
  /// true/false, lists as comma-separated values.
  absl::Status Set(const std::string& key, const std::string& value);

  /// Runs the checks added with AddCheck().
  absl::Status Validate() const;

  bool Has(const std::string& key) const;
  std::vector<std::string> Keys() const;

  /// Every key with its current value and help, as a commented TOML document.
  std::string Dump() const;

  struct Entry;

 private:
  void AddEntry(std::string key, std::unique_ptr<Entry> entry);
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  std::vector<std::function<std::string()>> checks_;
};

/// What the command line asked for besides config values.
struct CommandLine {
  std::string config_file;   // --config FILE
  bool help = false;         // --help: usage was printed
  bool print_config = false; // --print-config
};

/// Parses `--config FILE`, `--help`, `--print-config`, and one flag per schema
/// key (`--server.listen 127.0.0.1:1` or `--server.listen=…`), plus
/// `--set key=value`. Loads the file first, then applies the flags over it,
/// then validates. Returns an error that names the bad flag or key.
absl::Status ParseCommandLine(int argc, const char* const* argv, const std::string& program,
                              Schema& schema, CommandLine* out);

}  // namespace im::config
