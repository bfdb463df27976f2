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
// Minor fixes: (2) uv_poll_init_socket, (3) no leak when uv_poll_init_socket fails, (4) libuv is
// told only when the events hiredis wants change.

#include "redis_libuv.h"

#include <hiredis/sds.h>
#include <stdlib.h>
#include <uv.h>

typedef struct rill_redis_libuv_events {
    redisAsyncContext *context;  // NULL once hiredis has cleaned up: the handle is closing
    uv_poll_t handle;
    int events;                  // the UV_READABLE / UV_WRITABLE bits hiredis asked for
} rill_redis_libuv_events;

static void on_poll(uv_poll_t *handle, int status, int events) {
    rill_redis_libuv_events *p = handle->data;
    int ready = events;
    if (status != 0) {  // (1)
        ready = p->events;
        p->events = 0;  // libuv stopped the handle: a request for the same events must restart it
    }
    // hiredis may free the context inside either call; cleanup() then clears p->context.
    if (p->context != NULL && (ready & UV_READABLE)) redisAsyncHandleRead(p->context);
    if (p->context != NULL && (ready & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

// (4) Only when the mask changes: libuv's uv_poll_start begins with a uv_poll_stop, which takes
// the fd out of epoll at once (a syscall, failing with ENOENT when the fd was not in yet), and
// the next poll puts it back. hiredis asks for writes once per command, so the stock adapter paid
// two epoll_ctl calls per command: 36,000 per 5 s, nearly all failing, under a presence flood.
static void set_events(rill_redis_libuv_events *p, int events) {
    if (events == p->events) return;
    p->events = events;
    if (p->events != 0) {
        uv_poll_start(&p->handle, p->events, on_poll);
    } else {
        uv_poll_stop(&p->handle);
    }
}

static void add_read(void *privdata) {
    rill_redis_libuv_events *p = privdata;
    set_events(p, p->events | UV_READABLE);
}

static void del_read(void *privdata) {
    rill_redis_libuv_events *p = privdata;
    set_events(p, p->events & ~UV_READABLE);
}

static void add_write(void *privdata) {
    rill_redis_libuv_events *p = privdata;
    set_events(p, p->events | UV_WRITABLE);
}

static void del_write(void *privdata) {
    rill_redis_libuv_events *p = privdata;
    set_events(p, p->events & ~UV_WRITABLE);
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

size_t rill_redis_pending_output_bytes(const redisAsyncContext *ac) {
    return ac->c.obuf != NULL ? sdslen(ac->c.obuf) : 0;
}
