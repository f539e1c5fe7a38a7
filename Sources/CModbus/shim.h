#ifndef TRAM_CMODBUS_SHIM_H
#define TRAM_CMODBUS_SHIM_H
#include <modbus/modbus.h>
#include <errno.h>

/* libmodbus builds its error codes from macros Swift cannot import. */
static const int TRAM_MODBUS_ENOBASE = MODBUS_ENOBASE;
static const int TRAM_EMBXILFUN  = EMBXILFUN;   /* 01 illegal function */
static const int TRAM_EMBXILADD  = EMBXILADD;   /* 02 illegal data address */
static const int TRAM_EMBXILVAL  = EMBXILVAL;   /* 03 illegal data value */
static const int TRAM_EMBXSFAIL  = EMBXSFAIL;   /* 04 server device failure */
static const int TRAM_EMBXACK    = EMBXACK;     /* 05 acknowledge */
static const int TRAM_EMBXSBUSY  = EMBXSBUSY;   /* 06 server busy */
static const int TRAM_EMBXNACK   = EMBXNACK;    /* 07 negative acknowledge */
static const int TRAM_EMBXMEMPAR = EMBXMEMPAR;  /* 08 memory parity */
static const int TRAM_EMBXGPATH  = EMBXGPATH;   /* 0A gateway path unavailable */
static const int TRAM_EMBXGTAR   = EMBXGTAR;    /* 0B gateway target failed */
static const int TRAM_EMBBADCRC  = EMBBADCRC;
static const int TRAM_EMBBADDATA = EMBBADDATA;
static const int TRAM_EMBBADEXC  = EMBBADEXC;
static const int TRAM_EMBMDATA   = EMBMDATA;
static const int TRAM_EMBBADSLAVE = EMBBADSLAVE;

static inline int tram_errno(void) { return errno; }
static inline void tram_set_errno(int value) { errno = value; }

#endif
