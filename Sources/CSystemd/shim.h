// sd-bus, systemd's D-Bus client (libsystemd0, on every Debian system already: systemd, udev and dbus link it).
// Only TramDBus imports this module, and it calls no variadic function: Swift cannot call C varargs, so messages
// are built with sd_bus_message_append_basic and read with sd_bus_message_read_basic and enter_container.
#include <systemd/sd-bus.h>
