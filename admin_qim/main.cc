#include "admin_qim/admin_server.h"

int main(int argc, char** argv) { return im::admin::Main(argc, argv); }
