#ifndef RILL_CLIBUV_SHIM_H
#define RILL_CLIBUV_SHIM_H

#include <uv.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/prctl.h>
#ifdef __linux__
#include <sys/ioctl.h>
#include <linux/sockios.h>
#endif

// libuv's handle "subclasses" share a common prefix; C code casts between them freely, Swift
// cannot. These helpers keep the casts in one audited place.
static inline uv_handle_t *rill_tcp_as_handle(uv_tcp_t *tcp) { return (uv_handle_t *)tcp; }
static inline uv_stream_t *rill_tcp_as_stream(uv_tcp_t *tcp) { return (uv_stream_t *)tcp; }
static inline uv_handle_t *rill_stream_as_handle(uv_stream_t *s) { return (uv_handle_t *)s; }
static inline uv_handle_t *rill_timer_as_handle(uv_timer_t *t) { return (uv_handle_t *)t; }
static inline uv_handle_t *rill_async_as_handle(uv_async_t *a) { return (uv_handle_t *)a; }
static inline uv_handle_t *rill_prepare_as_handle(uv_prepare_t *p) { return (uv_handle_t *)p; }
static inline uv_handle_t *rill_check_as_handle(uv_check_t *c) { return (uv_handle_t *)c; }
static inline uv_handle_t *rill_idle_as_handle(uv_idle_t *i) { return (uv_handle_t *)i; }

/// Sets SO_REUSEPORT on a bound-to-be socket so several loops can each listen on one port.
static inline int rill_set_reuseport(uv_tcp_t *tcp) {
    uv_os_fd_t fd;
    int rc = uv_fileno((uv_handle_t *)tcp, &fd);
    if (rc != 0) return rc;
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
}

/// Bytes in a TCP socket's send queue the peer has not acknowledged (Linux SIOCOUTQ); 0 when
/// unknown. Tells a peer that reads from one that stalled even while libuv's queue is still.
static inline int rill_tcp_unacknowledged_bytes(uv_tcp_t *tcp) {
#ifdef __linux__
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)tcp, &fd) != 0) return 0;
    int count = 0;
    if (ioctl(fd, SIOCOUTQ, &count) != 0) return 0;
    return count;
#else
    (void)tcp;
    return 0;
#endif
}

/// Names the calling thread (visible in top, perf and gdb); the kernel keeps 15 bytes.
static inline void rill_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

#endif
