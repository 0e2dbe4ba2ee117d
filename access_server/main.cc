#include "access_server/access_server.h"

int main(int argc, char** argv) { return im::access::Main(argc, argv); }
