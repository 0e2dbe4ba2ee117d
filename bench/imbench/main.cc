#include <cstdio>

#include "bench/imbench/imbench.h"

int main(int argc, char** argv) {
  im::bench::Options options;
  std::string error;
  bool help = false;
  if (!im::bench::ParseOptions(argc, argv, &options, &error, &help)) {
    std::fprintf(help ? stdout : stderr, "%s%s\n", help ? "" : "imbench: ", error.c_str());
    return help ? 0 : 2;
  }
  return im::bench::Run(options);
}
