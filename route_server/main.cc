#include "route_server/route_server.h"

int main(int argc, char** argv) { return im::route::Main(argc, argv); }
