/* libmodbus for the bare C loop that sets the floor any client is measured against. */
#include <modbus/modbus.h>
