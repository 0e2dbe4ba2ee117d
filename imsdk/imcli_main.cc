#include "imsdk/imcli.h"

int main(int argc, char** argv) { return im::sdk::RunImcli(argc, argv); }
