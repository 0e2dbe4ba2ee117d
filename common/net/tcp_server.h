#pragma once
// A TCP server for the client protocol: one io_context per thread, an acceptor
// that survives running out of file descriptors, and sessions (session.h)
// that enforce login, timeouts, frame size, request rate and a bounded output
// queue. The daemon supplies a SessionHandler. Asio stays in tcp_server.cc.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/net/session.h"

namespace im::config {
class Schema;
}

namespace im::net {

/// Optional second listener for the same protocol inside TLS (docs/protocol.md
/// "TLS"). Each TLS connection is decrypted on its io thread and handed to an
/// ordinary session over a socketpair, so limits and handlers are the same.
struct ClientTlsOptions {
  std::string listen;     // host:port; empty: no TLS listener
  std::string cert_file;  // PEM certificate chain presented to clients
  std::string key_file;   // PEM private key of cert_file
  int handshake_timeout_ms = 10000;  // no finished handshake by then: close
};

struct TcpServerOptions {
  std::string listen = "0.0.0.0:21983";  // host:port; port 0 picks a free one
  int threads = 0;                       // io threads; 0: one per core
  int max_connections = 100000;          // accepted beyond this: closed at once
  int accept_retry_ms = 100;             // after EMFILE/ENFILE: retry accepting after this
  int sweep_interval_ms = 250;           // how often timeouts are checked
  int backlog = 4096;                    // listen() backlog
  SessionLimits limits;
  ClientTlsOptions tls;
};

/// Declares server.tls_listen, server.tls_cert_file and server.tls_key_file
/// (bound to `options`) with a check that they are set together. Start-up only.
void AddClientTlsKeys(config::Schema& schema, ClientTlsOptions* options);

struct TcpServerStats {
  std::uint64_t connections = 0;       // open now
  std::uint64_t accepted_total = 0;
  std::uint64_t refused_total = 0;     // over max_connections
  std::uint64_t fd_exhausted_total = 0;  // accept() failed with EMFILE/ENFILE
  std::uint64_t dropped_slow_total = 0;  // closed because the output queue overflowed
  std::uint64_t protocol_errors_total = 0;
  std::uint64_t tls_handshake_failures_total = 0;  // bad handshakes and handshake timeouts
};

class TcpServer {
 public:
  /// `handler` must outlive the server.
  TcpServer(TcpServerOptions options, SessionHandler* handler);
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  /// Binds and listens, then starts the io threads. Main thread only.
  absl::Status Start();
  /// The bound port (after Start()).
  int port() const;
  /// The bound TLS port (after Start()); 0 without options.tls.listen.
  int tls_port() const;
  int threads() const;
  /// Stops accepting; existing sessions continue. Thread safe.
  void StopAccepting();
  /// Closes every session, stops and joins the io threads. Main thread only.
  void Stop();
  /// Runs `fn` on io thread `thread_index` (Session::thread_index()). Thread safe.
  void Post(int thread_index, std::function<void()> fn);
  /// Thread safe.
  TcpServerStats stats() const;

  struct Impl;

 private:
  absl::Status StartTlsListener();
  std::unique_ptr<Impl> impl_;
};

}  // namespace im::net
