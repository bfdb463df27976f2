#ifndef CRILL_TEST_HOOKS_H
#define CRILL_TEST_HOOKS_H

/// Installs a counting hook on the Swift runtime's global-executor enqueue. Only enqueues made
/// on threads that called rill_watch_current_thread_for_global_enqueues count, per thread: a
/// job that leaves an event loop for the global pool is enqueued on the loop's own thread.
void rill_install_global_enqueue_counter(void);
/// Counts global enqueues made on the calling thread from now on (resets the count).
void rill_watch_current_thread_for_global_enqueues(void);
/// Global-executor enqueues made on the calling (watched) thread since it was registered.
long rill_global_enqueue_count(void);

#endif
