#include "bytes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

char *lc_copy_bytes(const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    if (n != 0)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
