#pragma once
// The gRPC admin service (proto/admin.proto) over AdminOps. Every call needs
// the metadata `authorization: Bearer <admin secret>` (UNAUTHENTICATED
// otherwise). Calls run on a small pool of worker threads, since they block on
// MySQL, Redis or other daemons; gRPC's own threads never wait.

#include <memory>
#include <string>

namespace grpc {
class Service;
}

namespace im::admin {

class AdminOps;

struct AdminServiceOptions {
  std::string admin_secret;
  int workers = 4;
};

/// A service to register with a grpc::ServerBuilder. `ops` is not owned and
/// must outlive the service; destroy the service only after the server has
/// shut down (its destructor joins the workers).
std::unique_ptr<grpc::Service> NewAdminService(AdminOps* ops, AdminServiceOptions options);

}  // namespace im::admin
