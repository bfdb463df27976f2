#ifndef RILL_CLIBUV_SHIM_H
#define RILL_CLIBUV_SHIM_H
#include <uv.h>
#endif
