#ifndef RILL_CMALLOCSTATS_H
#define RILL_CMALLOCSTATS_H

#include <stddef.h>

/// glibc's heap counters (mallinfo2), for the benchmark server's --heap-stats flag. Swift's
/// Glibc module does not import <malloc.h>.
typedef struct {
    size_t inUseBytes;    // uordblks: bytes in allocated chunks (brk heap and arenas)
    size_t freeBytes;     // fordblks: bytes in free chunks
    size_t mmappedBytes;  // hblkhd: bytes in chunks allocated with mmap
} rill_heap_stats;

rill_heap_stats rill_heap_stats_now(void);

#endif
