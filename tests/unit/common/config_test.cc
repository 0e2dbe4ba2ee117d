// Unit tests for im::config::Schema and im::config::ParseCommandLine.

#include "common/config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace im::config {
namespace {

// gmock is not linked: a substring assertion with a readable failure message.
::testing::AssertionResult Contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << haystack << "' does not contain '" << needle << "'";
}

// A config struct covering every supported field type, with defaults.
struct TestConfig {
  std::string listen = "0.0.0.0:1";
  bool verbose = false;
  int workers = 4;
  std::int64_t max_bytes = 1024;
  double ratio = 0.5;
  std::vector<std::string> peers = {"p0"};
  std::vector<std::int64_t> shards = {7};
  std::string name = "default-name";
};

void Describe(Schema& schema, TestConfig& cfg) {
  schema.Add("server.listen", &cfg.listen, "address to listen on");
  schema.Add("server.verbose", &cfg.verbose, "verbose logging");
  schema.Add("server.workers", &cfg.workers, "worker threads", 1, 64);
  schema.Add("engine.max_bytes", &cfg.max_bytes, "largest record", 1, std::int64_t{1} << 40);
  schema.Add("engine.ratio", &cfg.ratio, "a ratio");
  schema.Add("cluster.peers", &cfg.peers, "peer addresses");
  schema.Add("cluster.shards", &cfg.shards, "shard ids");
  schema.Add("meta.name", &cfg.name, "a name");
}

// A temporary directory removed (with its files) at the end of the test.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    if (!base) base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/config_test.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = buf.data();
  }
  ~TempDir() {
    for (const std::string& f : files_) std::remove(f.c_str());
    ::rmdir(path_.c_str());
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << text;
    files_.push_back(file);
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

absl::Status Parse(std::vector<std::string> args, Schema& schema, CommandLine* out) {
  args.insert(args.begin(), "prog");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  return ParseCommandLine(static_cast<int>(args.size()), argv.data(), "prog", schema, out);
}

// ---------------------------------------------------------------- LoadToml

TEST(SchemaLoadTomlTest, FillsEveryTypeFromNestedTables) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml(R"(
[server]
listen = "1.2.3.4:5"
verbose = true
workers = 16

[engine]
max_bytes = 1099511627776  # 2^40, beyond int32
ratio = 0.25

[cluster]
peers = ["a:1", "b:2"]
shards = [1, 2, 3]

[meta]
name = "hello"
)",
                                         "test.toml");
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(cfg.listen, "1.2.3.4:5");
  EXPECT_TRUE(cfg.verbose);
  EXPECT_EQ(cfg.workers, 16);
  EXPECT_EQ(cfg.max_bytes, std::int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(cfg.ratio, 0.25);
  EXPECT_EQ(cfg.peers, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(cfg.shards, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(cfg.name, "hello");
}

TEST(SchemaLoadTomlTest, DottedKeysAndInlineTablesWork) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml(
      "server.listen = \"h:9\"\nengine = { ratio = 2.5 }\n", "test.toml");
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(cfg.listen, "h:9");
  EXPECT_DOUBLE_EQ(cfg.ratio, 2.5);
}

TEST(SchemaLoadTomlTest, AbsentKeysKeepDefaults) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  ASSERT_TRUE(schema.LoadToml("[server]\nworkers = 8\n", "test.toml").ok());
  EXPECT_EQ(cfg.workers, 8);
  const TestConfig defaults;
  EXPECT_EQ(cfg.listen, defaults.listen);
  EXPECT_EQ(cfg.verbose, defaults.verbose);
  EXPECT_EQ(cfg.max_bytes, defaults.max_bytes);
  EXPECT_DOUBLE_EQ(cfg.ratio, defaults.ratio);
  EXPECT_EQ(cfg.peers, defaults.peers);
  EXPECT_EQ(cfg.shards, defaults.shards);
  EXPECT_EQ(cfg.name, defaults.name);
}

TEST(SchemaLoadTomlTest, EmptyDocumentChangesNothing) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  ASSERT_TRUE(schema.LoadToml("", "empty.toml").ok());
  EXPECT_EQ(cfg.listen, TestConfig().listen);
  EXPECT_EQ(cfg.workers, TestConfig().workers);
}

TEST(SchemaLoadTomlTest, EmptyArraysClearLists) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  ASSERT_TRUE(schema.LoadToml("[cluster]\npeers = []\nshards = []\n", "t").ok());
  EXPECT_TRUE(cfg.peers.empty());
  EXPECT_TRUE(cfg.shards.empty());
}

TEST(SchemaLoadTomlTest, IntegerIsAcceptedForDouble) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml("[engine]\nratio = 3\n", "t");
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_DOUBLE_EQ(cfg.ratio, 3.0);
}

TEST(SchemaLoadTomlTest, UnknownKeyIsAnErrorNamingTheDottedKey) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml("[server]\nlisten = \"x\"\nlisten_typo = 1\n", "my.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(s.message()), "server.listen_typo"));
  EXPECT_TRUE(Contains(std::string(s.message()), "my.toml"));
}

TEST(SchemaLoadTomlTest, UnknownKeyInDeepTableNamesFullKey) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml("[server.tls]\ncert = \"c.pem\"\n", "t");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.tls.cert"));
}

TEST(SchemaLoadTomlTest, UnknownTopLevelKeyIsAnError) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml("stray = 1\n", "t");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "'stray'"));
}

TEST(SchemaLoadTomlTest, TableWhereValueExpectedIsUnknownKey) {
  // "server.listen" given as a table: its leaves are unknown keys.
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml("[server.listen]\nhost = \"h\"\n", "t");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.listen.host"));
}

struct WrongTypeCase {
  const char* toml;
  const char* key;
};

class SchemaWrongTypeTest : public ::testing::TestWithParam<WrongTypeCase> {};

TEST_P(SchemaWrongTypeTest, IsAnErrorNamingTheKey) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml(GetParam().toml, "t.toml");
  ASSERT_FALSE(s.ok()) << GetParam().toml;
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(s.message()), std::string("'") + GetParam().key + "'"));
  // The field keeps its default.
  EXPECT_EQ(cfg.listen, TestConfig().listen);
  EXPECT_EQ(cfg.workers, TestConfig().workers);
  EXPECT_EQ(cfg.verbose, TestConfig().verbose);
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, SchemaWrongTypeTest,
    ::testing::Values(WrongTypeCase{"[server]\nworkers = \"ten\"\n", "server.workers"},
                      WrongTypeCase{"[server]\nworkers = 1.5\n", "server.workers"},
                      WrongTypeCase{"[server]\nworkers = true\n", "server.workers"},
                      WrongTypeCase{"[engine]\nmax_bytes = \"1\"\n", "engine.max_bytes"},
                      WrongTypeCase{"[server]\nlisten = 5\n", "server.listen"},
                      WrongTypeCase{"[server]\nlisten = [\"a\"]\n", "server.listen"},
                      WrongTypeCase{"[server]\nverbose = \"true\"\n", "server.verbose"},
                      WrongTypeCase{"[server]\nverbose = 1\n", "server.verbose"},
                      WrongTypeCase{"[engine]\nratio = \"0.5\"\n", "engine.ratio"},
                      WrongTypeCase{"[cluster]\npeers = \"a,b\"\n", "cluster.peers"},
                      WrongTypeCase{"[cluster]\npeers = [\"a\", 1]\n", "cluster.peers"},
                      WrongTypeCase{"[cluster]\nshards = [1, \"2\"]\n", "cluster.shards"},
                      WrongTypeCase{"[cluster]\nshards = [1.5]\n", "cluster.shards"},
                      WrongTypeCase{"[cluster]\nshards = 3\n", "cluster.shards"}));

TEST(SchemaLoadTomlTest, IntBelowMinIsAnErrorNamingTheKey) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml("[server]\nworkers = 0\n", "t");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.workers"));
  EXPECT_TRUE(Contains(std::string(s.message()), "between 1 and 64"));
  EXPECT_EQ(cfg.workers, 4);
}

TEST(SchemaLoadTomlTest, IntAboveMaxIsAnErrorNamingTheKey) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml("[server]\nworkers = 65\n", "t");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.workers"));
  EXPECT_EQ(cfg.workers, 4);
}

TEST(SchemaLoadTomlTest, RangeBoundsAreInclusive) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  ASSERT_TRUE(schema.LoadToml("[server]\nworkers = 1\n", "t").ok());
  EXPECT_EQ(cfg.workers, 1);
  ASSERT_TRUE(schema.LoadToml("[server]\nworkers = 64\n", "t").ok());
  EXPECT_EQ(cfg.workers, 64);
}

TEST(SchemaLoadTomlTest, Int64OutOfRangeIsAnError) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml("[engine]\nmax_bytes = 1099511627777\n", "t");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "engine.max_bytes"));
  EXPECT_EQ(cfg.max_bytes, 1024);
}

TEST(SchemaLoadTomlTest, IntWithoutExplicitRangeRejectsValuesBeyondInt32) {
  int plain = 0;
  Schema schema;
  schema.Add("plain", &plain, "no explicit range");
  const absl::Status s = schema.LoadToml("plain = 2147483648\n", "t");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "'plain'"));
  EXPECT_EQ(plain, 0);
  ASSERT_TRUE(schema.LoadToml("plain = -2147483648\n", "t").ok());
  EXPECT_EQ(plain, INT32_MIN);
}

TEST(SchemaLoadTomlTest, SyntaxErrorReportsSourceAndLine) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s =
      schema.LoadToml("[server]\nlisten = \"a\"\nworkers = = 3\n", "broken.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(s.message()), "broken.toml:3:"));
}

TEST(SchemaLoadTomlTest, UnterminatedStringReportsLine) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadToml("\n\n\n[meta]\nname = \"oops\n", "u.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "u.toml:5:"));
}

// ---------------------------------------------------------------- LoadFile

TEST(SchemaLoadFileTest, MissingFileIsAnErrorNamingThePath) {
  TempDir dir;
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const std::string path = dir.path() + "/does-not-exist.toml";
  const absl::Status s = schema.LoadFile(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(std::string(s.message()), path));
}

TEST(SchemaLoadFileTest, LoadsARealFile) {
  TempDir dir;
  const std::string path =
      dir.Write("daemon.toml", "[server]\nlisten = \"10.0.0.1:80\"\nworkers = 2\n");
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadFile(path);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(cfg.listen, "10.0.0.1:80");
  EXPECT_EQ(cfg.workers, 2);
}

TEST(SchemaLoadFileTest, ErrorsInFileNameThePath) {
  TempDir dir;
  const std::string path = dir.Write("bad.toml", "[server]\nbogus = 1\n");
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.LoadFile(path);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), path));
  EXPECT_TRUE(Contains(std::string(s.message()), "server.bogus"));
}

// ---------------------------------------------------------------- Set

TEST(SchemaSetTest, SetsEveryTypeFromText) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  ASSERT_TRUE(schema.Set("server.listen", "1.2.3.4:5").ok());
  ASSERT_TRUE(schema.Set("server.verbose", "true").ok());
  ASSERT_TRUE(schema.Set("server.workers", "12").ok());
  ASSERT_TRUE(schema.Set("engine.max_bytes", "1099511627776").ok());
  ASSERT_TRUE(schema.Set("engine.ratio", "0.125").ok());
  ASSERT_TRUE(schema.Set("cluster.peers", "a,b").ok());
  ASSERT_TRUE(schema.Set("cluster.shards", "1,2,3").ok());
  EXPECT_EQ(cfg.listen, "1.2.3.4:5");
  EXPECT_TRUE(cfg.verbose);
  EXPECT_EQ(cfg.workers, 12);
  EXPECT_EQ(cfg.max_bytes, std::int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(cfg.ratio, 0.125);
  EXPECT_EQ(cfg.peers, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(cfg.shards, (std::vector<std::int64_t>{1, 2, 3}));
}

TEST(SchemaSetTest, BoolAcceptsTrueFalseOneZero) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  ASSERT_TRUE(schema.Set("server.verbose", "1").ok());
  EXPECT_TRUE(cfg.verbose);
  ASSERT_TRUE(schema.Set("server.verbose", "false").ok());
  EXPECT_FALSE(cfg.verbose);
  ASSERT_TRUE(schema.Set("server.verbose", "true").ok());
  ASSERT_TRUE(schema.Set("server.verbose", "0").ok());
  EXPECT_FALSE(cfg.verbose);
}

TEST(SchemaSetTest, StringIsTakenVerbatim) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  ASSERT_TRUE(schema.Set("meta.name", " with spaces, and \"quotes\" ").ok());
  EXPECT_EQ(cfg.name, " with spaces, and \"quotes\" ");
  ASSERT_TRUE(schema.Set("meta.name", "").ok());
  EXPECT_EQ(cfg.name, "");
}

TEST(SchemaSetTest, ListEdgeCases) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  ASSERT_TRUE(schema.Set("cluster.peers", "").ok());
  EXPECT_TRUE(cfg.peers.empty());
  ASSERT_TRUE(schema.Set("cluster.peers", "solo").ok());
  EXPECT_EQ(cfg.peers, (std::vector<std::string>{"solo"}));
  ASSERT_TRUE(schema.Set("cluster.shards", "").ok());
  EXPECT_TRUE(cfg.shards.empty());
  ASSERT_TRUE(schema.Set("cluster.shards", "-4").ok());
  EXPECT_EQ(cfg.shards, (std::vector<std::int64_t>{-4}));
}

TEST(SchemaSetTest, NegativeNumbers) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  std::int64_t signed_value = 0;
  schema.Add("engine.offset", &signed_value, "may be negative");
  ASSERT_TRUE(schema.Set("engine.offset", "-9000000000").ok());
  EXPECT_EQ(signed_value, -9000000000LL);
  ASSERT_TRUE(schema.Set("engine.ratio", "-1.5e3").ok());
  EXPECT_DOUBLE_EQ(cfg.ratio, -1500.0);
}

struct BadTextCase {
  const char* key;
  const char* text;
};

class SchemaSetBadTextTest : public ::testing::TestWithParam<BadTextCase> {};

TEST_P(SchemaSetBadTextTest, IsAnErrorNamingTheKeyAndLeavesTheField) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.Set(GetParam().key, GetParam().text);
  ASSERT_FALSE(s.ok()) << GetParam().key << "=" << GetParam().text;
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(s.message()), GetParam().key));
  const TestConfig defaults;
  EXPECT_EQ(cfg.workers, defaults.workers);
  EXPECT_EQ(cfg.verbose, defaults.verbose);
  EXPECT_EQ(cfg.max_bytes, defaults.max_bytes);
  EXPECT_DOUBLE_EQ(cfg.ratio, defaults.ratio);
  EXPECT_EQ(cfg.shards, defaults.shards);
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, SchemaSetBadTextTest,
    ::testing::Values(BadTextCase{"server.workers", "x"}, BadTextCase{"server.workers", ""},
                      BadTextCase{"server.workers", "12abc"}, BadTextCase{"server.workers", "1.5"},
                      BadTextCase{"server.workers", "0"},    // below min
                      BadTextCase{"server.workers", "65"},   // above max
                      BadTextCase{"engine.max_bytes", "99999999999999999999"},  // overflows
                      BadTextCase{"server.verbose", "maybe"},
                      BadTextCase{"server.verbose", "TRUE"}, BadTextCase{"server.verbose", ""},
                      BadTextCase{"engine.ratio", "abc"}, BadTextCase{"engine.ratio", ""},
                      BadTextCase{"engine.ratio", "1.5x"}, BadTextCase{"cluster.shards", "1,x,3"},
                      BadTextCase{"cluster.shards", "1,,3"},
                      BadTextCase{"cluster.shards", "1, 2"}));

TEST(SchemaSetTest, UnknownKeyIsAnErrorNamingTheKey) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const absl::Status s = schema.Set("server.nope", "1");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.nope"));
}

TEST(SchemaTest, HasAndKeys) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  EXPECT_TRUE(schema.Has("server.listen"));
  EXPECT_FALSE(schema.Has("server"));
  EXPECT_FALSE(schema.Has("listen"));
  EXPECT_EQ(schema.Keys(),
            (std::vector<std::string>{"cluster.peers", "cluster.shards", "engine.max_bytes",
                                      "engine.ratio", "meta.name", "server.listen",
                                      "server.verbose", "server.workers"}));
}

TEST(SchemaTest, ValidateRunsChecksInOrder) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  EXPECT_TRUE(schema.Validate().ok());
  schema.AddCheck([&] { return cfg.workers > 8 ? "server.workers too many" : ""; });
  schema.AddCheck([] { return std::string("second check"); });
  absl::Status s = schema.Validate();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.message()), "second check");
  cfg.workers = 9;
  s = schema.Validate();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.message()), "server.workers too many");
}

// ---------------------------------------------------------------- ParseCommandLine

TEST(ParseCommandLineTest, NoArgumentsKeepsDefaults) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({}, schema, &cl);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(cl.help);
  EXPECT_FALSE(cl.print_config);
  EXPECT_EQ(cl.config_file, "");
  EXPECT_EQ(cfg.listen, TestConfig().listen);
}

TEST(ParseCommandLineTest, FlagWithSeparateValueOverridesFile) {
  TempDir dir;
  const std::string path =
      dir.Write("c.toml", "[server]\nlisten = \"9.9.9.9:9\"\nworkers = 3\n");
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--config", path, "--server.listen", "1.2.3.4:5"}, schema, &cl);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(cl.config_file, path);
  EXPECT_EQ(cfg.listen, "1.2.3.4:5");
  EXPECT_EQ(cfg.workers, 3);  // from the file, not overridden
}

TEST(ParseCommandLineTest, FlagWithEqualsOverridesFile) {
  TempDir dir;
  const std::string path = dir.Write("c.toml", "[server]\nlisten = \"9.9.9.9:9\"\n");
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--config=" + path, "--server.listen=1.2.3.4:5"}, schema, &cl);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(cl.config_file, path);
  EXPECT_EQ(cfg.listen, "1.2.3.4:5");
}

TEST(ParseCommandLineTest, ShortConfigFlag) {
  TempDir dir;
  const std::string path = dir.Write("c.toml", "[meta]\nname = \"from-file\"\n");
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"-c", path}, schema, &cl);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(cfg.name, "from-file");
}

TEST(ParseCommandLineTest, FlagsAreAppliedAfterTheFileWhateverTheirOrder) {
  TempDir dir;
  const std::string path = dir.Write("c.toml", "[server]\nworkers = 1\n");
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  // The flag comes before --config on the command line and still wins.
  const absl::Status s = Parse({"--server.workers", "2", "--config", path}, schema, &cl);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(cfg.workers, 2);
}

TEST(ParseCommandLineTest, SetOverridesAnyKey) {
  TempDir dir;
  const std::string path = dir.Write("c.toml", "[server]\nworkers = 1\n[cluster]\nshards = [9]\n");
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s =
      Parse({"--config", path, "--set", "server.workers=2", "--set=cluster.shards=1,2,3",
             "--set", "meta.name=a=b"},
            schema, &cl);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(cfg.workers, 2);
  EXPECT_EQ(cfg.shards, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(cfg.name, "a=b");  // only the first '=' separates
}

TEST(ParseCommandLineTest, SetIsAppliedAfterKeyFlags) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s =
      Parse({"--set", "server.workers=7", "--server.workers", "5"}, schema, &cl);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(cfg.workers, 7);
}

TEST(ParseCommandLineTest, SetWithoutEqualsIsAnError) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--set", "server.workers"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.workers"));
  EXPECT_TRUE(Contains(std::string(s.message()), "key=value"));
}

TEST(ParseCommandLineTest, SetOfUnknownKeyIsAnErrorNamingTheKey) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--set", "server.nope=1"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.nope"));
}

TEST(ParseCommandLineTest, UnknownFlagIsAnError) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--bogus"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(s.message()), "bogus"));
}

TEST(ParseCommandLineTest, FlagForUnknownKeyIsAnError) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--server.nope", "1"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.nope"));
}

// "prog daemon.toml" (a forgotten --config) or "--config a.toml b.toml" must
// fail naming the argument, not run with it ignored.
TEST(ParseCommandLineTest, StrayPositionalArgumentIsAnError) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  absl::Status s = Parse({"stray"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "stray"));
  TempDir dir;
  const std::string path = dir.Write("c.toml", "");
  s = Parse({"--config", path, "extra.toml"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "extra.toml"));
}

TEST(ParseCommandLineTest, BadFlagValueIsAnErrorNamingTheFlag) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  absl::Status s = Parse({"--server.workers", "x"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "--server.workers"));
  s = Parse({"--server.verbose=maybe"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "--server.verbose"));
  s = Parse({"--server.workers=100"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.workers"));
}

TEST(ParseCommandLineTest, FlagWithoutValueIsAnError) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--server.listen"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.listen"));
}

TEST(ParseCommandLineTest, RepeatedKeyFlagIsAnError) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--server.listen", "a", "--server.listen", "b"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.listen"));
}

TEST(ParseCommandLineTest, MissingConfigFileIsAnErrorNamingThePath) {
  TempDir dir;
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const std::string path = dir.path() + "/absent.toml";
  const absl::Status s = Parse({"--config", path}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), path));
}

TEST(ParseCommandLineTest, BadConfigFileIsAnError) {
  TempDir dir;
  const std::string path = dir.Write("c.toml", "[server]\nunknown_key = 1\n");
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--config", path}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(std::string(s.message()), "server.unknown_key"));
}

TEST(ParseCommandLineTest, HelpSetsHelpAndPrintsUsage) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  ::testing::internal::CaptureStdout();
  const absl::Status s = Parse({"--help"}, schema, &cl);
  const std::string printed = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(cl.help);
  EXPECT_TRUE(Contains(printed, "Usage: prog"));
  EXPECT_TRUE(Contains(printed, "--config"));
  EXPECT_TRUE(Contains(printed, "listen"));
  EXPECT_TRUE(Contains(printed, "address to listen on"));
}

TEST(ParseCommandLineTest, ShortHelpSetsHelp) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  ::testing::internal::CaptureStdout();
  const absl::Status s = Parse({"-h"}, schema, &cl);
  ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(cl.help);
}

TEST(ParseCommandLineTest, HelpSkipsChecks) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  schema.AddCheck([] { return std::string("always fails"); });
  CommandLine cl;
  ::testing::internal::CaptureStdout();
  const absl::Status s = Parse({"--help"}, schema, &cl);
  ::testing::internal::GetCapturedStdout();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(cl.help);
}

TEST(ParseCommandLineTest, PrintConfigIsReported) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--print-config", "--server.workers=9"}, schema, &cl);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(cl.print_config);
  EXPECT_FALSE(cl.help);
  EXPECT_EQ(cfg.workers, 9);
}

TEST(ParseCommandLineTest, CheckFailureSurfacesWithItsMessage) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  schema.AddCheck([&] {
    return cfg.listen.empty() ? std::string("server.listen must not be empty") : std::string();
  });
  CommandLine cl;
  EXPECT_TRUE(Parse({"--server.listen", "h:1"}, schema, &cl).ok());
  // (boost rejects "--server.listen=" with nothing after '='; use --set.)
  absl::Status s = Parse({"--set", "server.listen="}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()), "server.listen must not be empty");
  s = Parse({"--server.listen", ""}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()), "server.listen must not be empty");
}

TEST(ParseCommandLineTest, ChecksSeeFileAndFlagValues) {
  TempDir dir;
  const std::string path = dir.Write("c.toml", "[server]\nworkers = 10\n");
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  schema.AddCheck([&] {
    return cfg.workers > static_cast<int>(cfg.max_bytes) ? std::string("workers > max_bytes")
                                                         : std::string();
  });
  CommandLine cl;
  const absl::Status s = Parse({"--config", path, "--engine.max_bytes", "5"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.message()), "workers > max_bytes");
}

TEST(ParseCommandLineTest, AbbreviatedFlagsAreRejected) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  // "--server.l" would uniquely prefix "--server.listen" if guessing were on.
  EXPECT_FALSE(Parse({"--server.l", "1.2.3.4:5"}, schema, &cl).ok());
  EXPECT_FALSE(Parse({"--server.listen_", "x"}, schema, &cl).ok());
  EXPECT_FALSE(Parse({"--conf", "x.toml"}, schema, &cl).ok());
  EXPECT_FALSE(Parse({"--hel"}, schema, &cl).ok());
  EXPECT_EQ(cfg.listen, TestConfig().listen);
}

TEST(ParseCommandLineTest, SectionPrefixFlagIsRejected) {
  // Only one key in the section, so "--meta" would be an unambiguous guess.
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--meta", "x"}, schema, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(cfg.name, TestConfig().name);
  EXPECT_FALSE(Parse({"--server", "1.2.3.4:5"}, schema, &cl).ok());
  EXPECT_EQ(cfg.listen, TestConfig().listen);
}

TEST(ParseCommandLineTest, NegativeValueWithEquals) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  CommandLine cl;
  const absl::Status s = Parse({"--engine.ratio=-2.5"}, schema, &cl);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_DOUBLE_EQ(cfg.ratio, -2.5);
}

// ---------------------------------------------------------------- Dump

void ExpectSame(const TestConfig& a, const TestConfig& b) {
  EXPECT_EQ(a.listen, b.listen);
  EXPECT_EQ(a.verbose, b.verbose);
  EXPECT_EQ(a.workers, b.workers);
  EXPECT_EQ(a.max_bytes, b.max_bytes);
  EXPECT_EQ(a.ratio, b.ratio);
  EXPECT_EQ(a.peers, b.peers);
  EXPECT_EQ(a.shards, b.shards);
  EXPECT_EQ(a.name, b.name);
}

TEST(SchemaDumpTest, ContainsHelpSectionsAndValues) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  const std::string dump = schema.Dump();
  // Full dotted keys, each after its help; strings are TOML literal strings
  // when they need no escaping.
  EXPECT_TRUE(Contains(dump, "# address to listen on\nserver.listen = '0.0.0.0:1'\n"));
  EXPECT_TRUE(Contains(dump, "# peer addresses\ncluster.peers = ['p0']\n"));
  EXPECT_TRUE(Contains(dump, "cluster.shards = [7]\n"));
  EXPECT_TRUE(Contains(dump, "ratio = 0.5\n"));
  EXPECT_TRUE(Contains(dump, "max_bytes = 1024\n"));
  EXPECT_TRUE(Contains(dump, "workers = 4\n"));
  EXPECT_TRUE(Contains(dump, "verbose = false\n"));
}

TEST(SchemaDumpTest, RoundTripsThroughLoadToml) {
  TestConfig cfg;
  cfg.listen = "1.2.3.4:5";
  cfg.verbose = true;
  cfg.workers = 33;
  cfg.max_bytes = (std::int64_t{1} << 40) - 1;
  cfg.ratio = 0.75;
  cfg.peers = {"a:1", "", "quote\"and\\backslash", "tab\there"};
  cfg.shards = {-1, 0, 9007199254740993LL};
  cfg.name = "line1\nline2 'single' \xc3\xa9";
  Schema schema;
  Describe(schema, cfg);
  const std::string dump = schema.Dump();

  TestConfig fresh;
  fresh.peers = {"stale"};
  Schema reload;
  Describe(reload, fresh);
  const absl::Status s = reload.LoadToml(dump, "dump");
  ASSERT_TRUE(s.ok()) << s << "\n" << dump;
  ExpectSame(cfg, fresh);
  EXPECT_EQ(reload.Dump(), dump);
}

TEST(SchemaDumpTest, DefaultsRoundTrip) {
  TestConfig cfg;
  Schema schema;
  Describe(schema, cfg);
  TestConfig fresh;
  fresh.workers = 50;
  fresh.peers.clear();
  Schema reload;
  Describe(reload, fresh);
  const absl::Status s = reload.LoadToml(schema.Dump(), "dump");
  ASSERT_TRUE(s.ok()) << s;
  ExpectSame(cfg, fresh);
}

TEST(SchemaDumpTest, EmptyListsAndIntegralDoubleRoundTrip) {
  TestConfig cfg;
  cfg.peers.clear();
  cfg.shards.clear();
  cfg.ratio = 3.0;  // printed without a fraction: reloads as an integer
  Schema schema;
  Describe(schema, cfg);
  TestConfig fresh;
  Schema reload;
  Describe(reload, fresh);
  const absl::Status s = reload.LoadToml(schema.Dump(), "dump");
  ASSERT_TRUE(s.ok()) << s << "\n" << schema.Dump();
  ExpectSame(cfg, fresh);
}

TEST(SchemaDumpTest, TopLevelKeysBeforeSectionsRoundTrip) {
  std::string a = "top";
  int b = 5;
  Schema schema;
  schema.Add("alpha", &a, "top-level key");  // sorts before every section
  schema.Add("section.b", &b, "in a section");
  std::string a2;
  int b2 = 0;
  Schema reload;
  reload.Add("alpha", &a2, "");
  reload.Add("section.b", &b2, "");
  const absl::Status s = reload.LoadToml(schema.Dump(), "dump");
  ASSERT_TRUE(s.ok()) << s << "\n" << schema.Dump();
  EXPECT_EQ(a2, "top");
  EXPECT_EQ(b2, 5);
}

TEST(SchemaDumpTest, ThreeLevelKeysRoundTrip) {
  std::string cert = "c.pem";
  int port = 80;
  Schema schema;
  schema.Add("server.port", &port, "");
  schema.Add("server.tls.cert", &cert, "");
  std::string cert2;
  int port2 = 0;
  Schema reload;
  reload.Add("server.port", &port2, "");
  reload.Add("server.tls.cert", &cert2, "");
  const absl::Status s = reload.LoadToml(schema.Dump(), "dump");
  ASSERT_TRUE(s.ok()) << s << "\n" << schema.Dump();
  EXPECT_EQ(cert2, "c.pem");
  EXPECT_EQ(port2, 80);
}

// BUG (config.cc, Schema::Dump): Dump assumes "one section's keys are
// adjacent" in sorted order, but a subsection's keys can sort between two keys
// of its parent section ("server.a" < "server.tls.cert" < "server.z"). Dump
// then emits [server] ... [server.tls] ... [server] again, and TOML rejects
// the second [server] header as a table redefinition.
TEST(SchemaDumpTest, SubsectionBetweenParentKeysRoundTrips) {
  int a = 1, z = 2;
  std::string cert = "c.pem";
  Schema schema;
  schema.Add("server.a", &a, "");
  schema.Add("server.tls.cert", &cert, "");
  schema.Add("server.z", &z, "");
  int a2 = 0, z2 = 0;
  std::string cert2;
  Schema reload;
  reload.Add("server.a", &a2, "");
  reload.Add("server.tls.cert", &cert2, "");
  reload.Add("server.z", &z2, "");
  const absl::Status s = reload.LoadToml(schema.Dump(), "dump");
  ASSERT_TRUE(s.ok()) << s << "\n" << schema.Dump();
  EXPECT_EQ(a2, 1);
  EXPECT_EQ(cert2, "c.pem");
  EXPECT_EQ(z2, 2);
}

// BUG (config.cc, Schema::Dump): a top-level (undotted) key that sorts after a
// dotted key is emitted under a "[]" header, which is not valid TOML (and a
// root key cannot follow a table header at all).
TEST(SchemaDumpTest, TopLevelKeyAfterSectionsRoundTrips) {
  int b = 5;
  std::string z = "last";
  Schema schema;
  schema.Add("section.b", &b, "");
  schema.Add("zeta", &z, "top-level key sorting after a section");
  int b2 = 0;
  std::string z2;
  Schema reload;
  reload.Add("section.b", &b2, "");
  reload.Add("zeta", &z2, "");
  const absl::Status s = reload.LoadToml(schema.Dump(), "dump");
  ASSERT_TRUE(s.ok()) << s << "\n" << schema.Dump();
  EXPECT_EQ(b2, 5);
  EXPECT_EQ(z2, "last");
}

// BUG (config.cc, DoubleEntry::ToToml): the value is written with the default
// ostream precision (6 significant digits), so Dump loses precision and does
// not round-trip, e.g. 0.1234567 is written as 0.123457.
TEST(SchemaDumpTest, DoublePrecisionRoundTrips) {
  double ratio = 0.1234567;
  Schema schema;
  schema.Add("engine.ratio", &ratio, "");
  double ratio2 = 0;
  Schema reload;
  reload.Add("engine.ratio", &ratio2, "");
  const absl::Status s = reload.LoadToml(schema.Dump(), "dump");
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(ratio2, ratio) << schema.Dump();
}

}  // namespace
}  // namespace im::config
