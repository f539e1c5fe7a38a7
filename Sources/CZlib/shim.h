// zlib, for gzip bodies to receivers that take Content-Encoding: gzip (VictoriaMetrics, InfluxDB) and the wire benchmark.
#include <zlib.h>
