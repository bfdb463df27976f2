// The floor: the least any HTTP/1.1 server on this machine can spend per request and per SSE
// connection. One thread, level-triggered epoll, TCP_DEFER_ACCEPT (as Rill's default: accepted
// once the request is there), accept4, TCP_NODELAY, one read and one write
// per request (or per pipelined batch), close(2) on EOF — the system calls nginx and Rill also
// make — and almost nothing in user space: no parser beyond finding "\r\n\r\n", no Date or
// Server field, no routing beyond "/stream" or not, no allocation after start.
//
// Not a server to use: a request split over two reads waits for the rest in a fixed 4 KB
// buffer, a bigger one closes the connection, and a short write closes it. It answers what the
// harnesses send (wrk's GET /ping, rill-load's churn GET /stream) the way Rill does:
//   GET /ping     -> 200, Content-Length 4, "pong"
//   GET /stream…  -> 200 text/event-stream, chunked, the opening "retry: 3000" chunk, then held
//
//   cc -O2 -o /tmp/floor-server Benchmarks/reference/floor-server.c
//   /tmp/floor-server --host 127.0.0.1 --port 18331
//   Benchmarks/scripts/cpu-split.sh http 4 6 floor=/tmp/floor-server rill=.build/release/rill-hub nginx
//
// Loopback benchmarking only (Benchmarks/scripts/floor.sh builds and runs it).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { maxDescriptors = 65536, bufferBytes = 4096, maxEvents = 512 };

static const char pingResponse[] =
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 4\r\n\r\npong";
static const char streamResponse[] =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    "transfer-encoding: chunked\r\n\r\nd\r\nretry: 3000\n\n\r\n";

// Per descriptor: bytes of an incomplete request kept from the last read.
static unsigned short pendingBytes[maxDescriptors];
static char (*pending)[bufferBytes];

static void closeConnection(int fd) {
    pendingBytes[fd] = 0;
    close(fd);  // the kernel drops it from the epoll set
}

// Answers every complete request in `data`; keeps an incomplete tail. False: close.
static int answer(int fd, const char *data, size_t count) {
    static char out[64 * 1024];
    size_t outBytes = 0, start = 0;
    for (size_t i = 3; i < count; i++) {
        if (data[i] != '\n' || data[i - 1] != '\r' || data[i - 2] != '\n' || data[i - 3] != '\r') continue;
        int isStream = count - start > 12 && memcmp(data + start, "GET /stream", 11) == 0;
        const char *response = isStream ? streamResponse : pingResponse;
        size_t length = isStream ? sizeof streamResponse - 1 : sizeof pingResponse - 1;
        if (outBytes + length > sizeof out) return 0;
        memcpy(out + outBytes, response, length);
        outBytes += length;
        start = i + 1;
    }
    size_t rest = count - start;
    if (rest > bufferBytes) return 0;
    if (rest > 0) memmove(pending[fd], data + start, rest);
    pendingBytes[fd] = (unsigned short)rest;
    if (outBytes == 0) return 1;
    return write(fd, out, outBytes) == (ssize_t)outBytes;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 18331;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: floor-server [--host ADDRESS] [--port PORT]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    pending = calloc(maxDescriptors, bufferBytes);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (!pending || inet_pton(AF_INET, host, &address.sin_addr) != 1 ||
        bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 4096) != 0) {
        perror("floor-server");
        return 1;
    }
    int deferSeconds = 5;
    setsockopt(listener, IPPROTO_TCP, TCP_DEFER_ACCEPT, &deferSeconds, sizeof deferSeconds);
    int poll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(poll, EPOLL_CTL_ADD, listener, &event);
    struct epoll_event events[maxEvents];
    static char input[bufferBytes * 2];
    for (;;) {
        int ready = epoll_wait(poll, events, maxEvents, -1);
        for (int e = 0; e < ready; e++) {
            int fd = events[e].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (client >= maxDescriptors) {
                        close(client);
                        continue;
                    }
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event clientEvent = {.events = EPOLLIN, .data.fd = client};
                    epoll_ctl(poll, EPOLL_CTL_ADD, client, &clientEvent);
                }
                continue;
            }
            size_t kept = pendingBytes[fd];
            memcpy(input, pending[fd], kept);
            ssize_t count = read(fd, input + kept, sizeof input - kept);
            if (count > 0) {
                if (!answer(fd, input, kept + (size_t)count)) closeConnection(fd);
            } else if (count == 0 || (errno != EAGAIN && errno != EINTR)) {
                closeConnection(fd);
            }
        }
    }
}
