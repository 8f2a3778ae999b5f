/* escape.h: backslash escaping of text values (lc_real_escape_string, expanded SQL). */
#ifndef LEAKLAB_CONNECTOR_ESCAPE_H
#define LEAKLAB_CONNECTOR_ESCAPE_H

#include <stddef.h>

/* Writes the escaped bytes of from[0..len) to to (NULL: only count); returns their count. No NUL. */
size_t lc_escape_bytes(char *to, const char *from, size_t len);

#endif
