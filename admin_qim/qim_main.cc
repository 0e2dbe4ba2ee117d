#include "admin_qim/qim_console.h"

int main(int argc, char** argv) { return im::qim::Main(argc, argv); }
