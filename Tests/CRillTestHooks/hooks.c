#include "CRillTestHooks.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

// The runtime declares the hook with the Swift calling convention.
typedef void (*rill_original_t)(void *job) __attribute__((swiftcall));
typedef void (*rill_hook_t)(void *job, rill_original_t original) __attribute__((swiftcall));

static _Atomic long enqueue_count;
static _Atomic unsigned long watched_thread;

__attribute__((swiftcall)) static void counting_hook(void *job, rill_original_t original) {
    if ((unsigned long)pthread_self() == atomic_load(&watched_thread)) {
        atomic_fetch_add(&enqueue_count, 1);
    }
    original(job);
}

void rill_install_global_enqueue_counter(void) {
    rill_hook_t *hook = (rill_hook_t *)dlsym(RTLD_DEFAULT, "swift_task_enqueueGlobal_hook");
    if (hook) *hook = counting_hook;
}

void rill_watch_current_thread_for_global_enqueues(void) {
    atomic_store(&enqueue_count, 0);
    atomic_store(&watched_thread, (unsigned long)pthread_self());
}

long rill_global_enqueue_count(void) { return atomic_load(&enqueue_count); }
