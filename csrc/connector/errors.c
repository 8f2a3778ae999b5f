/* errors.c: the message of each error code (formats listed in connector.h). */
#include "errors.h"

#include <stdio.h>

#include "connector.h"

void lc_fail_code(lc_fail *f, unsigned int code)
{
    f->code = code;
    f->num = 0;
    f->name = "";
    f->name_len = 0;
}

void lc_fail_name(lc_fail *f, unsigned int code, const char *name, size_t len)
{
    lc_fail_code(f, code);
    f->name = name != NULL ? name : "";
    f->name_len = name != NULL ? len : 0;
}

void lc_fail_num(lc_fail *f, unsigned int code, unsigned long num)
{
    lc_fail_code(f, code);
    f->num = num;
}

void lc_report(unsigned int *errno_out, char *msg, const lc_fail *f)
{
    const size_t n = LC_ERRMSG_SIZE;
    const int len = f->name_len > 65536 ? 65536 : (int)f->name_len;
    const char *s = f->name;
    const unsigned int u = (unsigned int)f->num;

    *errno_out = f->code;
    switch (f->code) {
    case LC_OK: msg[0] = '\0'; break;
    case LC_ER_ACCESS_DENIED: snprintf(msg, n, "Access denied for user '%.*s'", len, s); break;
    case LC_ER_BAD_DB: snprintf(msg, n, "Unknown database '%.*s'", len, s); break;
    case LC_ER_BAD_FIELD: snprintf(msg, n, "Unknown column '%.*s'", len, s); break;
    case LC_ER_PARSE: snprintf(msg, n, "You have an error in your SQL syntax at offset %u", u); break;
    case LC_ER_EMPTY_QUERY: snprintf(msg, n, "Query was empty"); break;
    case LC_ER_NET_PACKET_TOO_LARGE: snprintf(msg, n, "Query is longer than %u bytes", u); break;
    case LC_ER_QUERY_INTERRUPTED: snprintf(msg, n, "Query execution was interrupted"); break;
    case LC_ER_NO_SUCH_TABLE: snprintf(msg, n, "Table 'shop.%.*s' doesn't exist", len, s); break;
    case LC_ER_WRONG_VALUE: snprintf(msg, n, "Incorrect value for column '%.*s'", len, s); break;
    case LC_CR_SERVER_GONE: snprintf(msg, n, "Not connected"); break;
    case LC_CR_OUT_OF_MEMORY: snprintf(msg, n, "Client ran out of memory"); break;
    case LC_CR_COMMANDS_OUT_OF_SYNC:
        snprintf(msg, n, "Commands out of sync; you can't run this command now");
        break;
    case LC_CR_PARAMS_NOT_BOUND:
        snprintf(msg, n, "No data supplied for parameters in prepared statement");
        break;
    case LC_CR_INVALID_PARAMETER_NO: snprintf(msg, n, "Invalid parameter number"); break;
    case LC_CR_NO_PREPARED_STMT: snprintf(msg, n, "Statement not prepared"); break;
    case LC_CR_BUSY: snprintf(msg, n, "Connection has %u open statements", u); break;
    default: snprintf(msg, n, "Unknown error %u", f->code); break;
    }
}

void lc_report_code(unsigned int *errno_out, char *msg, unsigned int code)
{
    lc_fail f;
    lc_fail_code(&f, code);
    lc_report(errno_out, msg, &f);
}

void lc_report_clear(unsigned int *errno_out, char *msg)
{
    *errno_out = LC_OK;
    msg[0] = '\0';
}
