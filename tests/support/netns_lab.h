#pragma once
// A private LAN of "hosts" for multi-host tests: one network namespace per
// host, each joined by a veth pair to a bridge that lives in a namespace of
// its own, so the machine's own network (the root namespace) is never
// touched. Hosts get addresses 10.77.<subnet>.<10 + i>/24. Needs root and
// iproute2 (`ip`). Namespaces are named <prefix><pid>-<host>, and the lab
// has a work directory $TMPDIR/<prefix><pid> for the tests' files; the
// namespaces and directories of earlier runs whose process is gone (a
// crashed or killed test) are removed at creation.

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/support/test_services.h"

namespace im::testing {

class NetnsLab {
 public:
  /// Removes stale namespaces of crashed runs with the same prefix, then
  /// creates the bridge namespace. An error (with the reason: not root, no
  /// `ip`, namespaces not permitted) means this machine cannot run the lab.
  static absl::StatusOr<std::unique_ptr<NetnsLab>> Create(const std::string& prefix);
  /// Deletes every namespace it created (processes still inside keep theirs
  /// alive until they exit; stop them first) and the work directory.
  ~NetnsLab();
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  /// Adds a host `name` ([a-z0-9]+): its namespace with loopback up and eth0
  /// on the bridge. Returns its address.
  absl::StatusOr<std::string> AddHost(const std::string& name);

  /// The host's namespace name, address, and ServiceHost (address + the
  /// `ip netns exec <ns>` prefix) to start processes on it.
  std::string netns(const std::string& name) const { return prefix_ + "-" + name; }
  const std::string& address(const std::string& name) const { return hosts_.at(name).address; }
  ServiceHost host(const std::string& name) const;

  /// The work directory (e.g. for TMPDIR), removed with the lab.
  const std::string& dir() const { return dir_; }

  /// Takes the host's link down or up (the bridge side of its veth): a cut
  /// cable. The host keeps running but reaches nothing and nobody reaches it.
  absl::Status SetLink(const std::string& name, bool up);

  /// Runs `ip` with args; error with its output when it fails.
  static absl::Status Ip(const std::vector<std::string>& args);

 private:
  struct Host {
    std::string address;
    std::string bridge_port;  // the veth end on the bridge
  };
  explicit NetnsLab(std::string prefix, int subnet) : prefix_(std::move(prefix)), subnet_(subnet) {}
  std::string bridge_ns() const { return prefix_ + "-bridge"; }
  static void RemoveStale(const std::string& prefix, const std::string& tmp);

  std::string prefix_;  // <prefix><pid>
  std::string dir_;
  int subnet_;
  std::map<std::string, Host> hosts_;
  std::vector<std::string> namespaces_;  // created, deleted in reverse
};

/// Moves the calling thread into a network namespace (by name, as created by
/// `ip netns add`) and back on destruction. Sockets and threads the thread
/// creates meanwhile belong to that namespace; child processes inherit it.
class ScopedNetns {
 public:
  explicit ScopedNetns(const std::string& netns);
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;
  const absl::Status& status() const { return status_; }

 private:
  int saved_fd_ = -1;
  absl::Status status_;
};

}  // namespace im::testing
