#include "storage_server/storage_server.h"

int main(int argc, char** argv) { return im::storage::Main(argc, argv); }
