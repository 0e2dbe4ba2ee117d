// The [tls] keys (common/rpc/tls.h) and server.tls_* keys (common/net/tcp_server.h):
// validation names the key, unreadable or non-PEM files are refused at start-up.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "common/config/config.h"
#include "common/net/tcp_server.h"
#include "common/rpc/tls.h"

namespace im {
namespace {

absl::Status Load(const std::string& toml, rpc::TlsOptions* tls) {
  config::Schema schema;
  rpc::AddTlsKeys(schema, tls);
  if (absl::Status s = schema.LoadToml(toml, "test.toml"); !s.ok()) return s;
  return schema.Validate();
}

TEST(TlsConfigTest, OffByDefault) {
  rpc::TlsOptions tls;
  ASSERT_TRUE(Load("", &tls).ok());
  EXPECT_FALSE(tls.enabled());
  EXPECT_TRUE(tls.require_client_cert);
}

TEST(TlsConfigTest, CertWithoutKeyOrCaNamesTheMissingKey) {
  rpc::TlsOptions a;
  absl::Status s = Load("[tls]\ncert_file = \"/x.pem\"\nca_file = \"/ca.pem\"\n", &a);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("tls.key_file"), std::string::npos) << s;
  rpc::TlsOptions b;
  s = Load("[tls]\ncert_file = \"/x.pem\"\nkey_file = \"/x.key\"\n", &b);
  EXPECT_NE(std::string(s.message()).find("tls.ca_file"), std::string::npos) << s;
  rpc::TlsOptions c;
  s = Load("[tls]\nca_file = \"/ca.pem\"\n", &c);
  EXPECT_NE(std::string(s.message()).find("tls.cert_file"), std::string::npos) << s;
}

TEST(TlsConfigTest, InstallRefusesMissingAndNonPemFiles) {
  rpc::TlsOptions tls;
  tls.cert_file = "/nonexistent/cert.pem";
  tls.key_file = "/nonexistent/key.pem";
  tls.ca_file = "/nonexistent/ca.pem";
  absl::Status s = rpc::InstallTls(tls);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("tls.cert_file"), std::string::npos) << s;

  char path[] = "/tmp/qim-tls-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "not a certificate\n";
  tls.cert_file = path;
  s = rpc::InstallTls(tls);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("not a PEM file"), std::string::npos) << s;
  std::remove(path);
  EXPECT_FALSE(rpc::TlsEnabled());
}

TEST(ClientTlsConfigTest, ListenerNeedsCertAndKey) {
  config::Schema schema;
  net::ClientTlsOptions tls;
  net::AddClientTlsKeys(schema, &tls);
  ASSERT_TRUE(schema.LoadToml("[server]\ntls_listen = \"127.0.0.1:0\"\n", "t.toml").ok());
  absl::Status s = schema.Validate();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("server.tls_cert_file"), std::string::npos) << s;
}

TEST(ClientTlsConfigTest, BadListenAddressNamesTheKey) {
  config::Schema schema;
  net::ClientTlsOptions tls;
  net::AddClientTlsKeys(schema, &tls);
  ASSERT_TRUE(schema.LoadToml("[server]\ntls_listen = \"nope\"\ntls_cert_file = \"a\"\ntls_key_file = \"b\"\n", "t.toml").ok());
  absl::Status s = schema.Validate();
  EXPECT_NE(std::string(s.message()).find("server.tls_listen"), std::string::npos) << s;
}

TEST(ClientTlsConfigTest, UnreadableCertFailsStart) {
  net::TcpServerOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = 1;
  options.tls.listen = "127.0.0.1:0";
  options.tls.cert_file = "/nonexistent/cert.pem";
  options.tls.key_file = "/nonexistent/key.pem";
  struct NoHandler final : net::SessionHandler {
    void OnLogin(const net::SessionPtr&, const client::ImLogin&) override {}
    void OnLoggedIn(const net::SessionPtr&) override {}
    bool OnFrame(const net::SessionPtr&, const net::Frame&) override { return false; }
    void OnClose(const net::SessionPtr&) override {}
  } handler;
  net::TcpServer server(options, &handler);
  absl::Status s = server.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("server.tls_cert_file"), std::string::npos) << s;
}

}  // namespace
}  // namespace im
