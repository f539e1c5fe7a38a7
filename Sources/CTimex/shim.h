// adjtimex(2)/ntp_adjtime(3) and the STA_*/TIME_* constants: glibc's sys/timex.h, which the Glibc module
// does not export. libc provides the functions, so nothing is linked.
#include <sys/timex.h>
