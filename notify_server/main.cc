#include "notify_server/notify_server.h"

int main(int argc, char** argv) { return im::notify::Main(argc, argv); }
