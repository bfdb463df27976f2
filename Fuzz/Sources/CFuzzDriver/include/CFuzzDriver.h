#ifndef RILL_CFUZZDRIVER_H
#define RILL_CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (libclang_rt.fuzzer, linked by -sanitize=fuzzer). SwiftPM renames an
/// executable target's entry point to `<Target>_main` and links `main` to it; each target
/// defines that symbol and hands control to libFuzzer here.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
