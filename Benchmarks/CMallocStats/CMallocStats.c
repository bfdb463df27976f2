#include "CMallocStats.h"
#include <malloc.h>

rill_heap_stats rill_heap_stats_now(void) {
    struct mallinfo2 info = mallinfo2();
    rill_heap_stats stats = { info.uordblks, info.fordblks, info.hblkhd };
    return stats;
}
