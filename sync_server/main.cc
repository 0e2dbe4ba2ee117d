#include "sync_server/sync_server.h"

int main(int argc, char** argv) { return im::sync::Main(argc, argv); }
