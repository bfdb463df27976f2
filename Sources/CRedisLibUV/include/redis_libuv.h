#ifndef RILL_REDIS_LIBUV_H
#define RILL_REDIS_LIBUV_H

#include <hiredis/async.h>

/// Attaches `ac` to the libuv loop `uv_loop` (a `uv_loop_t *`, passed untyped so that no libuv
/// type reaches Swift through this header). Call it on the loop's thread, right after
/// `redisAsyncConnect` and before setting the connect callback.
///
/// Returns REDIS_OK, or REDIS_ERR when the context already has an adapter, memory is short or
/// libuv refuses the socket; the context is then untouched and the caller frees it.
int rill_redis_libuv_attach(redisAsyncContext *ac, void *uv_loop);

/// The bytes of commands hiredis holds for `ac` that have not been written to its socket yet.
size_t rill_redis_pending_output_bytes(const redisAsyncContext *ac);

#endif
