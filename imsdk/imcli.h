#pragma once
// imcli: an interactive chat client on imsdk, for people and scripts.
// `--script` reads commands from stdin and prints one JSON object per line.

namespace im::sdk {

/// Runs imcli with command-line arguments; returns the process exit code.
int RunImcli(int argc, char** argv);

}  // namespace im::sdk
