#ifndef RILL_CLIBUV_SHIM_H
#define RILL_CLIBUV_SHIM_H

#include <uv.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <string.h>
#include <errno.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef __linux__
#include <sched.h>
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

// ThreadSanitizer's annotation entry points (compiler-rt's tsan_interface.h). Declared weak: in
// a build without -sanitize=thread they are absent and the calls below do nothing.
extern void __tsan_acquire(void *addr) __attribute__((weak));
extern void __tsan_release(void *addr) __attribute__((weak));

/// Tells ThreadSanitizer the calling thread acquired the synchronisation object at `addr`
/// (a no-op without TSan). Used where a lock TSan cannot see orders memory (Swift's `Mutex`).
static inline void rill_tsan_acquire(void *addr) { if (__tsan_acquire) __tsan_acquire(addr); }
/// Tells ThreadSanitizer the calling thread released the synchronisation object at `addr`.
static inline void rill_tsan_release(void *addr) { if (__tsan_release) __tsan_release(addr); }

/// Bytes the allocator has handed out and not had back (glibc's mallinfo2(): uordblks in the
/// arenas plus hblkhd in mmapped blocks); -1 where unknown (not glibc).
static inline long long rill_allocator_in_use_bytes(void) {
#ifdef __GLIBC__
    struct mallinfo2 info = mallinfo2();
    return (long long)(info.uordblks + info.hblkhd);
#else
    return -1;
#endif
}

/// The process's resident anonymous memory in bytes (/proc/self/statm: resident less shared,
/// i.e. less file-backed pages such as the shared libraries' code); -1 where unknown.
static inline long long rill_resident_anonymous_bytes(void) {
#ifdef __linux__
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char text[128];
    ssize_t count = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (count <= 0) return -1;
    text[count] = 0;
    char *end = NULL;
    strtoll(text, &end, 10);                            // size
    long long resident = strtoll(end, &end, 10);        // resident
    long long shared = strtoll(end, NULL, 10);          // shared (file-backed)
    return (resident - shared) * (long long)sysconf(_SC_PAGESIZE);
#else
    return -1;
#endif
}

/// Gives the allocator's free pages back to the kernel (glibc's malloc_trim(0), which also
/// releases whole free pages inside each arena, not only at its top). Returns 1 if memory was
/// released; 0 if none was or the allocator cannot.
static inline int rill_allocator_release_free_memory(void) {
#ifdef __GLIBC__
    return malloc_trim(0);
#else
    return 0;
#endif
}

/// Names the calling thread (visible in top, perf and gdb); the kernel keeps 15 bytes.
static inline void rill_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

/// The CPUs this process may run on (its affinity mask, so `taskset` counts), at least 1.
static inline int rill_available_cpu_count(void) {
#ifdef __linux__
    // A plain bit mask (1,024 CPUs): the CPU_* macros need _GNU_SOURCE before any include.
    unsigned long mask[16];
    memset(mask, 0, sizeof(mask));
    if (sched_getaffinity(0, sizeof(mask), (void *)mask) == 0) {
        int count = 0;
        for (int i = 0; i < 16; i++) count += __builtin_popcountl(mask[i]);
        if (count > 0) return count;
    }
#endif
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

/// Whether nothing listens on `address` yet: binds a plain socket (SO_REUSEADDR, as libuv's
/// listeners, so connections lingering in TIME_WAIT do not count; no SO_REUSEPORT, so every
/// listener counts, even one that would let SO_REUSEPORT sockets share its port) and closes it.
/// 0 when free, else the negated errno of the bind (-EADDRINUSE when taken).
static inline int rill_probe_bind(const struct sockaddr *address, socklen_t length) {
    int fd = socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (address->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    int rc = bind(fd, address, length) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

#endif
