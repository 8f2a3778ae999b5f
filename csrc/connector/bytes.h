/* Internal helper of the connector (not part of its API). */
#ifndef LEAKLAB_CONNECTOR_BYTES_H
#define LEAKLAB_CONNECTOR_BYTES_H

#include <stddef.h>

/* Copies n bytes of s (which may hold NULs) and appends a NUL: one malloc
 * block of n + 1 bytes, or NULL. */
char *lc_copy_bytes(const char *s, size_t n);

#endif
