/* escape.c: NUL \n \r \ ' " 0x1a become \0 \n \r \\ \' \" \Z. */
#include "escape.h"

size_t lc_escape_bytes(char *to, const char *from, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = from[i], e;
        switch (c) {
        case '\0': e = '0'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\\': e = '\\'; break;
        case '\'': e = '\''; break;
        case '"': e = '"'; break;
        case '\x1a': e = 'Z'; break;
        default: e = 0; break;
        }
        if (e != 0) {
            if (to != NULL) {
                to[n] = '\\';
                to[n + 1] = e;
            }
            n += 2;
        } else {
            if (to != NULL)
                to[n] = c;
            n++;
        }
    }
    return n;
}
