/* errors.h: an error as the engine reports it, and its message text. */
#ifndef LEAKLAB_CONNECTOR_ERRORS_H
#define LEAKLAB_CONNECTOR_ERRORS_H

#include <stddef.h>

/* What went wrong: a code from connector.h plus its one argument, if any. */
typedef struct lc_fail {
    unsigned int code;
    unsigned long num;   /* offset, byte limit or statement count */
    const char *name;    /* user, database, table or column (not NUL-terminated) */
    size_t name_len;
} lc_fail;

void lc_fail_code(lc_fail *f, unsigned int code);
void lc_fail_name(lc_fail *f, unsigned int code, const char *name, size_t len);
void lc_fail_num(lc_fail *f, unsigned int code, unsigned long num);

/* Writes f's code and message (LC_ERRMSG_SIZE buffer, truncated) to an error slot. */
void lc_report(unsigned int *errno_out, char *msg_out, const lc_fail *f);
/* Reports a code that has no argument. */
void lc_report_code(unsigned int *errno_out, char *msg_out, unsigned int code);
void lc_report_clear(unsigned int *errno_out, char *msg_out);

#endif
