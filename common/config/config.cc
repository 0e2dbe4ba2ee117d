#include "common/config/config.h"

#include <boost/program_options.hpp>
#include <toml++/toml.h>

#include <charconv>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>

namespace im::config {

struct Schema::Entry {
  std::string help;
  virtual ~Entry() = default;
  // Sets the field from a TOML node; returns an error message or "".
  virtual std::string FromToml(const toml::node& node) = 0;
  // Sets the field from text (a flag).
  virtual std::string FromText(const std::string& text) = 0;
  virtual std::string ToToml() const = 0;
};

namespace {

std::string Quote(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

struct StringEntry : Schema::Entry {
  std::string* field;
  std::string FromToml(const toml::node& node) override {
    auto v = node.value<std::string>();
    if (!node.is_string() || !v) return "must be a string";
    *field = *v;
    return "";
  }
  std::string FromText(const std::string& text) override {
    *field = text;
    return "";
  }
  std::string ToToml() const override { return Quote(*field); }
};

struct BoolEntry : Schema::Entry {
  bool* field;
  std::string FromToml(const toml::node& node) override {
    if (!node.is_boolean()) return "must be true or false";
    *field = *node.value<bool>();
    return "";
  }
  std::string FromText(const std::string& text) override {
    if (text == "true" || text == "1") {
      *field = true;
    } else if (text == "false" || text == "0") {
      *field = false;
    } else {
      return "must be true or false, got '" + text + "'";
    }
    return "";
  }
  std::string ToToml() const override { return *field ? "true" : "false"; }
};

struct IntEntry : Schema::Entry {
  std::int64_t* field64 = nullptr;
  int* field32 = nullptr;
  std::int64_t min, max;
  std::string Store(std::int64_t v) {
    if (v < min || v > max) {
      return "must be between " + std::to_string(min) + " and " + std::to_string(max) +
             ", got " + std::to_string(v);
    }
    if (field64) *field64 = v;
    if (field32) *field32 = static_cast<int>(v);
    return "";
  }
  std::string FromToml(const toml::node& node) override {
    if (!node.is_integer()) return "must be an integer";
    return Store(*node.value<std::int64_t>());
  }
  std::string FromText(const std::string& text) override {
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      return "must be an integer, got '" + text + "'";
    }
    return Store(v);
  }
  std::string ToToml() const override { return std::to_string(field64 ? *field64 : *field32); }
};

struct DoubleEntry : Schema::Entry {
  double* field;
  std::string FromToml(const toml::node& node) override {
    if (!node.is_number()) return "must be a number";
    *field = *node.value<double>();
    return "";
  }
  std::string FromText(const std::string& text) override {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) return "must be a number, got '" + text + "'";
    *field = v;
    return "";
  }
  std::string ToToml() const override {
    std::ostringstream out;
    out << std::setprecision(17) << *field;
    return out.str();
  }
};

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> parts;
  if (text.empty()) return parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

struct StringListEntry : Schema::Entry {
  std::vector<std::string>* field;
  std::string FromToml(const toml::node& node) override {
    const toml::array* array = node.as_array();
    if (!array) return "must be an array of strings";
    std::vector<std::string> values;
    for (const toml::node& item : *array) {
      if (!item.is_string()) return "must be an array of strings";
      values.push_back(*item.value<std::string>());
    }
    *field = std::move(values);
    return "";
  }
  std::string FromText(const std::string& text) override {
    *field = SplitComma(text);
    return "";
  }
  std::string ToToml() const override {
    std::string out = "[";
    for (std::size_t i = 0; i < field->size(); ++i) out += (i ? ", " : "") + Quote((*field)[i]);
    return out + "]";
  }
};

struct IntListEntry : Schema::Entry {
  std::vector<std::int64_t>* field;
  std::string FromToml(const toml::node& node) override {
    const toml::array* array = node.as_array();
    if (!array) return "must be an array of integers";
    std::vector<std::int64_t> values;
    for (const toml::node& item : *array) {
      if (!item.is_integer()) return "must be an array of integers";
      values.push_back(*item.value<std::int64_t>());
    }
    *field = std::move(values);
    return "";
  }
  std::string FromText(const std::string& text) override {
    std::vector<std::int64_t> values;
    for (const std::string& part : SplitComma(text)) {
      std::int64_t v = 0;
      auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
      if (ec != std::errc() || ptr != part.data() + part.size()) {
        return "must be a comma-separated list of integers, got '" + text + "'";
      }
      values.push_back(v);
    }
    *field = std::move(values);
    return "";
  }
  std::string ToToml() const override {
    std::string out = "[";
    for (std::size_t i = 0; i < field->size(); ++i) out += (i ? ", " : "") + std::to_string((*field)[i]);
    return out + "]";
  }
};

template <typename E, typename F>
std::unique_ptr<Schema::Entry> MakeEntry(F* field, std::string help) {
  auto entry = std::make_unique<E>();
  entry->field = field;
  entry->help = std::move(help);
  return entry;
}

// Walks a TOML table, calling visit(dotted_key, node) for every leaf (a value
// or an array; arrays of tables are leaves too and will not match a key).
template <typename Visit>
void WalkLeaves(const toml::table& table, const std::string& prefix, Visit& visit) {
  for (const auto& [key, node] : table) {
    std::string dotted = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const toml::table* sub = node.as_table()) {
      WalkLeaves(*sub, dotted, visit);
    } else {
      visit(dotted, node);
    }
  }
}

}  // namespace

Schema::Schema() = default;
Schema::~Schema() = default;

void Schema::AddEntry(std::string key, std::unique_ptr<Entry> entry) {
  entries_[std::move(key)] = std::move(entry);
}

void Schema::Add(std::string key, std::string* field, std::string help) {
  AddEntry(std::move(key), MakeEntry<StringEntry>(field, std::move(help)));
}
void Schema::Add(std::string key, bool* field, std::string help) {
  AddEntry(std::move(key), MakeEntry<BoolEntry>(field, std::move(help)));
}
void Schema::Add(std::string key, std::int64_t* field, std::string help, std::int64_t min,
                 std::int64_t max) {
  auto entry = std::make_unique<IntEntry>();
  entry->field64 = field;
  entry->min = min;
  entry->max = max;
  entry->help = std::move(help);
  AddEntry(std::move(key), std::move(entry));
}
void Schema::Add(std::string key, int* field, std::string help, int min, int max) {
  auto entry = std::make_unique<IntEntry>();
  entry->field32 = field;
  entry->min = min;
  entry->max = max;
  entry->help = std::move(help);
  AddEntry(std::move(key), std::move(entry));
}
void Schema::Add(std::string key, double* field, std::string help) {
  AddEntry(std::move(key), MakeEntry<DoubleEntry>(field, std::move(help)));
}
void Schema::Add(std::string key, std::vector<std::string>* field, std::string help) {
  AddEntry(std::move(key), MakeEntry<StringListEntry>(field, std::move(help)));
}
void Schema::Add(std::string key, std::vector<std::int64_t>* field, std::string help) {
  AddEntry(std::move(key), MakeEntry<IntListEntry>(field, std::move(help)));
}

void Schema::AddCheck(std::function<std::string()> check) { checks_.push_back(std::move(check)); }

absl::Status Schema::LoadToml(std::string_view toml_text, const std::string& source) {
  toml::table table;
  try {
    table = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    return absl::InvalidArgumentError(msg.str());
  }
  std::string error;
  auto visit = [&](const std::string& key, const toml::node& node) {
    if (!error.empty()) return;
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      error = source + ": unknown key '" + key + "'";
      return;
    }
    std::string problem = it->second->FromToml(node);
    if (!problem.empty()) error = source + ": key '" + key + "' " + problem;
  };
  WalkLeaves(table, "", visit);
  if (!error.empty()) return absl::InvalidArgumentError(error);
  return absl::OkStatus();
}

absl::Status Schema::LoadFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return absl::NotFoundError("config file '" + path + "' cannot be opened");
  std::string text;
  char buf[8192];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) text.append(buf, n);
  std::fclose(file);
  return LoadToml(text, path);
}

absl::Status Schema::Set(const std::string& key, const std::string& value) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return absl::InvalidArgumentError("unknown config key '" + key + "'");
  std::string problem = it->second->FromText(value);
  if (!problem.empty()) return absl::InvalidArgumentError("key '" + key + "' " + problem);
  return absl::OkStatus();
}

absl::Status Schema::Validate() const {
  for (const auto& check : checks_) {
    std::string problem = check();
    if (!problem.empty()) return absl::InvalidArgumentError(problem);
  }
  return absl::OkStatus();
}

bool Schema::Has(const std::string& key) const { return entries_.count(key) > 0; }

std::vector<std::string> Schema::Keys() const {
  std::vector<std::string> keys;
  for (const auto& [key, entry] : entries_) keys.push_back(key);
  return keys;
}

std::string Schema::Dump() const {
  // Full dotted keys, no table headers: valid TOML for any nesting, and it
  // loads back into the same values.
  std::ostringstream out;
  for (const auto& [key, entry] : entries_) {
    out << "# " << entry->help << "\n" << key << " = " << entry->ToToml() << "\n";
  }
  return out.str();
}

absl::Status ParseCommandLine(int argc, const char* const* argv, const std::string& program,
                              Schema& schema, CommandLine* out) {
  namespace po = boost::program_options;
  po::options_description general("Options");
  general.add_options()("help,h", "print this help and exit")(
      "config,c", po::value<std::string>(), "TOML config file")(
      "print-config", "print the effective config (file + flags) and exit")(
      "set", po::value<std::vector<std::string>>()->composing(), "key=value: override any config key");
  po::options_description keys("Config keys (each overrides the file's value)");
  for (const std::string& key : schema.Keys()) {
    keys.add_options()(key.c_str(), po::value<std::string>(), "");
  }
  po::options_description stray;
  stray.add_options()("stray-argument", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(general).add(keys).add(stray);

  po::variables_map vm;
  try {
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::positional_options_description positional;  // collected only to be refused below
    positional.add("stray-argument", -1);
    po::store(po::command_line_parser(argc, argv).options(all).style(style).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return absl::InvalidArgumentError(std::string("command line: ") + e.what());
  }
  if (vm.count("stray-argument")) {
    return absl::InvalidArgumentError("command line: unexpected argument '" +
                                      vm["stray-argument"].as<std::vector<std::string>>().front() +
                                      "' (a config file is given with --config FILE)");
  }
  if (vm.count("help")) {
    out->help = true;
    std::cout << "Usage: " << program << " --config FILE [--<key> VALUE]...\n\n"
              << general << "\nConfig keys with their defaults:\n"
              << schema.Dump() << std::endl;
    return absl::OkStatus();
  }
  if (vm.count("config")) {
    out->config_file = vm["config"].as<std::string>();
    if (absl::Status s = schema.LoadFile(out->config_file); !s.ok()) return s;
  }
  for (const std::string& key : schema.Keys()) {
    if (!vm.count(key)) continue;
    if (absl::Status s = schema.Set(key, vm[key].as<std::string>()); !s.ok()) {
      return absl::InvalidArgumentError("--" + key + ": " + std::string(s.message()));
    }
  }
  if (vm.count("set")) {
    for (const std::string& assignment : vm["set"].as<std::vector<std::string>>()) {
      const auto eq = assignment.find('=');
      if (eq == std::string::npos) {
        return absl::InvalidArgumentError("--set '" + assignment + "': expected key=value");
      }
      if (absl::Status s = schema.Set(assignment.substr(0, eq), assignment.substr(eq + 1)); !s.ok()) {
        return absl::InvalidArgumentError("--set: " + std::string(s.message()));
      }
    }
  }
  out->print_config = vm.count("print-config") > 0;
  return schema.Validate();
}

}  // namespace im::config
