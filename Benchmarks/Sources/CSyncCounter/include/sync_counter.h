#ifndef TRAM_SYNC_COUNTER_H
#define TRAM_SYNC_COUNTER_H
#include <stdint.h>

/// fdatasync(2) calls made by this process since it started (through the interposed libc symbol).
uint64_t tram_bench_fdatasyncs(void);
/// fsync(2) calls made by this process since it started (the spool uses them for directories).
uint64_t tram_bench_fsyncs(void);

#endif
