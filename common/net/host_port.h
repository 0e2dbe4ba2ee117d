#pragma once
// "host:port" addresses as config files and flags give them.

#include <string>
#include <vector>

namespace im::net {

/// Splits "host:port" ("[::1]:80" too). False when it is not of that form.
/// Pure; thread safe.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

/// For config checks (config::Schema::AddCheck): "" when `value` is host:port,
/// otherwise "<key>: '<value>' is not host:port".
std::string CheckHostPort(const std::string& key, const std::string& value);
/// The same for every element of a list.
std::string CheckHostPorts(const std::string& key, const std::vector<std::string>& values);

}  // namespace im::net
