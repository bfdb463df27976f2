// A libuv adapter for hiredis's async API: a corrected copy of hiredis 0.14's
// adapters/libuv.h (BSD-3-Clause, Salvatore Sanfilippo and Pieter Noordhuis), matching what
// hiredis 1.x later fixed.
//
// The one change that matters, (1): when libuv reports a socket error (POLLERR arrives as a
// non-zero status, and libuv has already stopped the handle), the stock adapter returns without
// telling hiredis, so hiredis never learns that the connection is gone: a refused connect hangs
// forever and a reset connection never gets its disconnect callback. Here hiredis is asked to
// read and write as it wanted to, which makes it find the socket error itself and run its
// connect or disconnect callbacks.
// Minor fixes: (2) uv_poll_init_socket, (3) no leak when uv_poll_init_socket fails.

#include "redis_libuv.h"

#include <stdlib.h>
#include <uv.h>

typedef struct rill_redis_libuv_events {
    redisAsyncContext *context;  // NULL once hiredis has cleaned up: the handle is closing
    uv_poll_t handle;
    int events;                  // the UV_READABLE / UV_WRITABLE bits hiredis asked for
} rill_redis_libuv_events;

static void on_poll(uv_poll_t *handle, int status, int events) {
    rill_redis_libuv_events *p = handle->data;
    int ready = status != 0 ? p->events : events;  // (1)
    // hiredis may free the context inside either call; cleanup() then clears p->context.
    if (p->context != NULL && (ready & UV_READABLE)) redisAsyncHandleRead(p->context);
    if (p->context != NULL && (ready & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

static void update(rill_redis_libuv_events *p) {
    if (p->events != 0) {
        uv_poll_start(&p->handle, p->events, on_poll);
    } else {
        uv_poll_stop(&p->handle);
    }
}

static void add_read(void *privdata) {
    rill_redis_libuv_events *p = privdata;
    p->events |= UV_READABLE;
    update(p);
}

static void del_read(void *privdata) {
    rill_redis_libuv_events *p = privdata;
    p->events &= ~UV_READABLE;
    update(p);
}

static void add_write(void *privdata) {
    rill_redis_libuv_events *p = privdata;
    p->events |= UV_WRITABLE;
    update(p);
}

static void del_write(void *privdata) {
    rill_redis_libuv_events *p = privdata;
    p->events &= ~UV_WRITABLE;
    update(p);
}

static void on_close(uv_handle_t *handle) {
    free(handle->data);
}

static void cleanup(void *privdata) {
    rill_redis_libuv_events *p = privdata;
    p->context = NULL;
    uv_close((uv_handle_t *)&p->handle, on_close);
}

int rill_redis_libuv_attach(redisAsyncContext *ac, void *uv_loop) {
    if (ac->ev.data != NULL) return REDIS_ERR;

    rill_redis_libuv_events *p = calloc(1, sizeof(*p));
    if (p == NULL) return REDIS_ERR;
    if (uv_poll_init_socket((uv_loop_t *)uv_loop, &p->handle, ac->c.fd) != 0) {  // (2)
        free(p);                                                                  // (3)
        return REDIS_ERR;
    }
    p->handle.data = p;
    p->context = ac;

    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}
