/*
 * version: the one version string of cmem.
 *
 * cmemd -V, cmemctl -V, cmem-keygen -V, the daemon's `status` reply and
 * the cmem_build_info metric all print this; packaging reads it from here.
 */
#ifndef CMEM_VERSION_H
#define CMEM_VERSION_H

#define CMEM_VERSION "0.2.0"

#endif
