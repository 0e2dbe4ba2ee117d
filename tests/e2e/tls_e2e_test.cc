// TLS, end to end: a throwaway CA and certificates made with the openssl CLI,
// the whole cluster started with inter-daemon gRPC over mutual TLS and a TLS
// client listener on notify_server and sync_server (docs/security.md).
//  - gRPC: a client with the CA and a client certificate connects; one without
//    TLS, one trusting another CA and one without a client certificate do not.
//  - client TCP: a client over TLS logs in to notify and sync and gets
//    heartbeat answers (which notify and sync get from access_server over TLS
//    gRPC); plain TCP to the TLS port gets nothing; the plain port still works.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/net/client_protocol.h"
#include "common/net/frame_codec.h"
#include "common/rpc/grpc_util.h"
#include "common/rpc/tls.h"
#include "proto/access.grpc.pb.h"
#include "proto/im_client.pb.h"
#include "tests/support/local_cluster.h"
#include "tests/support/raw_client.h"

namespace im {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using testing::LocalCluster;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Makes `name`.pem/.key signed by CA `ca` (ca.pem/ca.key) in `dir`, valid for
// 127.0.0.1, as TLS server and client.
bool MakeCert(const std::string& dir, const std::string& ca, const std::string& name) {
  const std::string p = dir + "/" + name;
  std::ofstream(dir + "/ext.cnf") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                  << "extendedKeyUsage=serverAuth,clientAuth\n";
  std::string out;
  return testing::RunCommand({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                              "-nodes", "-keyout", p + ".key", "-out", p + ".csr", "-subj", "/CN=" + name},
                             &out) == 0 &&
         testing::RunCommand({"openssl", "x509", "-req", "-in", p + ".csr", "-CA", dir + "/" + ca + ".pem", "-CAkey",
                              dir + "/" + ca + ".key", "-CAcreateserial", "-out", p + ".pem", "-days", "2",
                              "-extfile", dir + "/ext.cnf"},
                             &out) == 0;
}

bool MakeCa(const std::string& dir, const std::string& name) {
  std::string out;
  return testing::RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                              "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/" + name + ".key", "-out",
                              dir + "/" + name + ".pem", "-days", "2", "-subj", "/CN=" + name},
                             &out) == 0;
}

// A blocking client-protocol client over TLS (asio::ssl), trusting `ca_file`.
class TlsClient {
 public:
  explicit TlsClient(const std::string& ca_file) : ssl_(asio::ssl::context::tls_client), stream_(io_, ssl_) {
    ssl_.load_verify_file(ca_file);
  }

  bool Connect(int port) {
    boost::system::error_code ec;
    stream_.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (ec) return false;
    SetTimeout(5);
    // On the stream: the SSL object copied the context's settings when made.
    stream_.set_verify_mode(asio::ssl::verify_peer);
    stream_.set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
    stream_.handshake(asio::ssl::stream_base::client, ec);
    return !ec;
  }

  bool Send(const std::string& frame) {
    boost::system::error_code ec;
    asio::write(stream_, asio::buffer(frame), ec);
    return !ec;
  }

  struct Received {
    net::FrameHeader header;
    std::string body;
  };

  std::optional<Received> Read() {
    for (;;) {
      net::ParseResult r = net::ParseFrame(buffer_);
      if (r.status == net::ParseStatus::kFrame) {
        Received frame{r.frame.header, std::string(r.frame.body)};
        buffer_.erase(0, r.consumed);
        return frame;
      }
      if (r.status != net::ParseStatus::kNeedMore) return std::nullopt;
      char chunk[4096];
      boost::system::error_code ec;
      const std::size_t n = stream_.read_some(asio::buffer(chunk), ec);
      if (ec) return std::nullopt;
      buffer_.append(chunk, n);
    }
  }

 private:
  void SetTimeout(int seconds) {
    timeval tv{seconds, 0};
    const int fd = stream_.next_layer().native_handle();
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  asio::io_context io_;
  asio::ssl::context ssl_;
  asio::ssl::stream<tcp::socket> stream_;
  std::string buffer_;
};

class TlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(setup_ok_) << "cluster set-up failed; see the first test's output"; }

  static void SetUpTestSuite() {
    certs_ = new testing::TempDir("qim-tls");
    const std::string d = certs_->path();
    ASSERT_TRUE(MakeCa(d, "ca") && MakeCert(d, "ca", "node") && MakeCa(d, "otherca") &&
                MakeCert(d, "otherca", "stranger"))
        << "openssl failed";
    cluster_ = new LocalCluster();
    testing::ClusterOptions options;
    const std::vector<std::string> grpc_tls = {"--tls.cert_file", d + "/node.pem", "--tls.key_file",
                                               d + "/node.key", "--tls.ca_file", d + "/ca.pem"};
    for (const char* name : {"admin", "storage0", "route0", "access0", "notify0", "sync0"}) {
      options.extra_flags[name] = grpc_tls;
    }
    for (const char* name : {"notify0", "sync0"}) {
      const int port = testing::PickFreePort();
      tls_ports_[name] = port;
      for (const std::string& f : {std::string("--server.tls_listen"), "127.0.0.1:" + std::to_string(port),
                                   std::string("--server.tls_cert_file"), d + "/node.pem",
                                   std::string("--server.tls_key_file"), d + "/node.key"}) {
        options.extra_flags[name].push_back(f);
      }
    }
    absl::Status s = cluster_->Start(options);
    ASSERT_TRUE(s.ok()) << s;
    auto uid = cluster_->CreateAccount("tls_ann");
    ASSERT_TRUE(uid.ok()) << uid.status();
    uid_ = *uid;
    auto token = cluster_->IssueToken(uid_);
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *token;
    setup_ok_ = true;
  }
  static void TearDownTestSuite() {
    delete cluster_;
    delete certs_;
  }

  static std::string Cert(const std::string& file) { return ReadFile(certs_->path() + "/" + file); }

  // A real call to access0 (GetSyncOffsets) over `channel`.
  static grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = rpc::AccessService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(rpc::DeadlineAfter(10000));
    rpc::GetSyncOffsetsRequest request;
    request.set_uid(uid_);
    rpc::GetSyncOffsetsReply reply;
    return stub->GetSyncOffsets(&context, request, &reply);
  }
  static grpc::Status Call(const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
    return Call(grpc::CreateChannel(cluster_->address("access0"), credentials));
  }

  static std::shared_ptr<grpc::ChannelCredentials> Ssl(const std::string& ca, const std::string& cert,
                                                       const std::string& key) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = Cert(ca);
    if (!cert.empty()) o.pem_cert_chain = Cert(cert);
    if (!key.empty()) o.pem_private_key = Cert(key);
    return grpc::SslCredentials(o);
  }

  // Logs in over TLS to `port` and checks a heartbeat is answered.
  void LogInAndPing(int port) {
    TlsClient c(certs_->path() + "/ca.pem");
    ASSERT_TRUE(c.Connect(port)) << "TLS handshake with port " << port;
    client::ImLogin login;
    login.set_token(token_);
    login.set_device_id(7);
    ASSERT_TRUE(c.Send(net::EncodeFrame(uid_, net::kCmdLogin, 1, login)));
    auto res = c.Read();
    ASSERT_TRUE(res.has_value());
    ASSERT_EQ(res->header.cmdid, net::kCmdLoginRes);
    client::ImLoginRes login_res;
    ASSERT_TRUE(login_res.ParseFromArray(res->body.data(), static_cast<int>(res->body.size())));
    EXPECT_EQ(login_res.code(), net::kCodeOk) << login_res.desp();
    ASSERT_TRUE(c.Send(net::EncodeFrame(uid_, net::kCmdHeartPing, 2, client::UserMsgSyncInfo())));
    auto pong = c.Read();
    ASSERT_TRUE(pong.has_value());
    EXPECT_EQ(pong->header.cmdid, net::kCmdHeartPong);
    EXPECT_EQ(pong->header.seq, 2);
  }

  static testing::TempDir* certs_;
  static LocalCluster* cluster_;
  static std::map<std::string, int> tls_ports_;
  static std::int64_t uid_;
  static std::string token_;
  static bool setup_ok_;
};

testing::TempDir* TlsE2eTest::certs_ = nullptr;
LocalCluster* TlsE2eTest::cluster_ = nullptr;
std::map<std::string, int> TlsE2eTest::tls_ports_;
std::int64_t TlsE2eTest::uid_ = 0;
std::string TlsE2eTest::token_;
bool TlsE2eTest::setup_ok_ = false;

TEST_F(TlsE2eTest, GrpcWithTheCaAndAClientCertConnects) {
  grpc::Status status = Call(Ssl("ca.pem", "node.pem", "node.key"));
  EXPECT_TRUE(status.ok()) << status.error_message();
  // And through the shared helper, as the daemons dial each other.
  rpc::TlsOptions tls;
  tls.cert_file = certs_->path() + "/node.pem";
  tls.key_file = certs_->path() + "/node.key";
  tls.ca_file = certs_->path() + "/ca.pem";
  ASSERT_TRUE(rpc::InstallTls(tls).ok());
  status = Call(rpc::MakeChannel(cluster_->address("access0")));
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(rpc::InstallTls(rpc::TlsOptions()).ok());
}

TEST_F(TlsE2eTest, GrpcWithoutTlsFails) { EXPECT_FALSE(Call(grpc::InsecureChannelCredentials()).ok()); }

TEST_F(TlsE2eTest, GrpcTrustingAnotherCaFails) {
  EXPECT_FALSE(Call(Ssl("otherca.pem", "node.pem", "node.key")).ok());
}

TEST_F(TlsE2eTest, GrpcWithoutAClientCertFails) { EXPECT_FALSE(Call(Ssl("ca.pem", "", "")).ok()); }

TEST_F(TlsE2eTest, GrpcWithAClientCertOfAnotherCaFails) {
  EXPECT_FALSE(Call(Ssl("ca.pem", "stranger.pem", "stranger.key")).ok());
}

TEST_F(TlsE2eTest, ClientLogsInToNotifyOverTls) { LogInAndPing(tls_ports_["notify0"]); }

TEST_F(TlsE2eTest, ClientLogsInToSyncOverTls) { LogInAndPing(tls_ports_["sync0"]); }

TEST_F(TlsE2eTest, PlainTcpToTheTlsPortGetsNoAnswer) {
  for (const char* name : {"notify0", "sync0"}) {
    testing::RawClient c;
    ASSERT_TRUE(c.Connect(tls_ports_[name]));
    EXPECT_NE(c.Login(uid_, token_), net::kCodeOk) << name;
  }
}

TEST_F(TlsE2eTest, PlainPortStillServes) {
  testing::RawClient c;
  ASSERT_TRUE(c.Connect(cluster_->notify_port()));
  EXPECT_EQ(c.Login(uid_, token_, 8), net::kCodeOk);
}

TEST_F(TlsE2eTest, ServerTrustingAnotherCaIsRefusedByTheClient) {
  // The client side checks the server too: a client trusting another CA
  // fails the handshake.
  TlsClient c(certs_->path() + "/otherca.pem");
  EXPECT_FALSE(c.Connect(tls_ports_["notify0"]));
}

TEST_F(TlsE2eTest, QimConsoleReachesAdminWithTlsFlagsOnly) {
  const std::string d = certs_->path();
  std::vector<std::string> qim = {testing::BinaryPath("qim"), "--endpoint",
                                  "127.0.0.1:" + std::to_string(cluster_->admin_grpc_port()), "--secret",
                                  "test-admin-secret", "--timeout-ms", "5000"};
  std::vector<std::string> with_tls = qim;
  for (const std::string& f : {std::string("--tls-cert"), d + "/node.pem", std::string("--tls-key"), d + "/node.key",
                               std::string("--tls-ca"), d + "/ca.pem"}) {
    with_tls.push_back(f);
  }
  for (auto* argv : {&qim, &with_tls}) {
    argv->push_back("node");
    argv->push_back("list");
  }
  std::string out;
  EXPECT_EQ(testing::RunCommand(with_tls, &out), 0) << out;
  EXPECT_NE(testing::RunCommand(qim, &out), 0) << out;
}

}  // namespace
}  // namespace im
