#ifndef RILL_CHIREDIS_SHIM_H
#define RILL_CHIREDIS_SHIM_H

// hiredis from Debian's libhiredis-dev (0.14 on Debian 12, 1.x elsewhere). Only the API common
// to both is used: argv commands, the async context, `ac->c.err`. The stock libuv adapter
// (adapters/libuv.h) is deliberately not included: it hangs on socket errors; CRedisLibUV has
// the fixed copy.
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#endif
