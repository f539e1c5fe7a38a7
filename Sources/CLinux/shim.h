// glibc headers the Glibc module does not export; libc provides the functions, so nothing is linked.
//   sys/timex.h  adjtimex(2)/ntp_adjtime(3) and the STA_*/TIME_* constants (is the clock synchronised?)
//   malloc.h     mallopt(3) and M_ARENA_MAX (fewer malloc arenas, less RSS)
#include <sys/timex.h>
#include <malloc.h>
