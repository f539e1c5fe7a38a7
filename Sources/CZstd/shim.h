#ifndef TRAM_CZSTD_SHIM_H
#define TRAM_CZSTD_SHIM_H
#include <zstd.h>
/* ZSTD_CONTENTSIZE_* are macros built from expressions Swift does not import. */
static const unsigned long long TRAM_ZSTD_CONTENTSIZE_UNKNOWN = ZSTD_CONTENTSIZE_UNKNOWN;
static const unsigned long long TRAM_ZSTD_CONTENTSIZE_ERROR = ZSTD_CONTENTSIZE_ERROR;
#endif
