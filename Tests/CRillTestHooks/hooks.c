#include "CRillTestHooks.h"
#include <dlfcn.h>
#include <pthread.h>

// The runtime declares the hook with the Swift calling convention.
typedef void (*rill_original_t)(void *job) __attribute__((swiftcall));
typedef void (*rill_hook_t)(void *job, rill_original_t original) __attribute__((swiftcall));

// Per thread, so tests running in parallel on different loops never see each other's counts.
static _Thread_local int watching;
static _Thread_local long enqueue_count;

__attribute__((swiftcall)) static void counting_hook(void *job, rill_original_t original) {
    if (watching) enqueue_count += 1;
    original(job);
}

void rill_install_global_enqueue_counter(void) {
    rill_hook_t *hook = (rill_hook_t *)dlsym(RTLD_DEFAULT, "swift_task_enqueueGlobal_hook");
    if (hook) *hook = counting_hook;
}

void rill_watch_current_thread_for_global_enqueues(void) {
    enqueue_count = 0;
    watching = 1;
}

long rill_global_enqueue_count(void) { return enqueue_count; }
