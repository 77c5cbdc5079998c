#ifndef SWITCHYARD_CSYSTEMD_SHIM_H
#define SWITCHYARD_CSYSTEMD_SHIM_H
#include <systemd/sd-daemon.h>
#endif
