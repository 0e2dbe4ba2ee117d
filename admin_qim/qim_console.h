#pragma once
// qim: the operators' console for admin_qim's gRPC AdminService.
//
//   qim account create zxt77 --password secret1    one-shot commands
//   qim                                             interactive prompt (or
//                                                   commands line by line from
//                                                   a pipe)
//
// The endpoint and the admin secret come from --endpoint/--secret, else
// QIM_ENDPOINT/QIM_SECRET, else the config file (--config, QIM_CONFIG, or
// ~/.config/qim/config.toml with keys `endpoint` and `secret`). Exit codes:
// 0 done, 1 the call failed (the message says why), 2 bad usage or settings.

#include <string>
#include <vector>

namespace im::qim {

int Main(int argc, char** argv);

/// Tab completion of the interactive prompt: the words that may follow
/// `line` (the text before the cursor) and start with its last, unfinished
/// word — command names first, then a command's subcommands, then its
/// --options. Sorted, without duplicates. Pure; thread safe.
std::vector<std::string> Completions(const std::string& line);

}  // namespace im::qim
