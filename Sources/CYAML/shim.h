#ifndef TRAM_CYAML_SHIM_H
#define TRAM_CYAML_SHIM_H
#include <yaml.h>
#endif
