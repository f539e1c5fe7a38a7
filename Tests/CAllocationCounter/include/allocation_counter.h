#ifndef TRAM_ALLOCATION_COUNTER_H
#define TRAM_ALLOCATION_COUNTER_H
#include <stdint.h>

/* Heap allocations made by the calling thread since the process started.
 * Defined by this test-only target, which wraps malloc and friends: linking it
 * into a test binary counts every allocation without LD_PRELOAD. */
uint64_t tram_allocations_on_this_thread(void);

#endif
