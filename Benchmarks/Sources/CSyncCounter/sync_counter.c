// Benchmark-only wrappers: tram-bench defines fdatasync and fsync itself, so the static link binds
// TramSpool's calls here; each is counted and then made as the raw system call, as glibc would.
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sync_counter.h"

static _Atomic uint64_t fdatasyncs;
static _Atomic uint64_t fsyncs;

uint64_t tram_bench_fdatasyncs(void) { return atomic_load(&fdatasyncs); }
uint64_t tram_bench_fsyncs(void) { return atomic_load(&fsyncs); }

int fdatasync(int fd) {
    atomic_fetch_add(&fdatasyncs, 1);
    return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd) {
    atomic_fetch_add(&fsyncs, 1);
    return (int)syscall(SYS_fsync, fd);
}
