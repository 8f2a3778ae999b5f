/* connector.c: the handle: connect, query, store, errors, escape, stat, callbacks. */
#include "connector.h"

#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "bytes.h"
#include "engine.h"
#include "errors.h"
#include "escape.h"
#include "result.h"

static void fail_handle(LC *h, const lc_fail *f) { lc_report(&h->last_errno, h->last_error, f); }

static unsigned int fail_code(LC *h, unsigned int code)
{
    lc_report_code(&h->last_errno, h->last_error, code);
    return code;
}

static void clear_error(LC *h) { lc_report_clear(&h->last_errno, h->last_error); }

static void drop_pending(LC *h)
{
    free(h->pending_rows);
    h->pending_rows = NULL;
    h->pending_count = 0;
    h->has_pending = 0;
}

/* A SELECT of the handle or of one of its statements still owes its rows. */
static int rows_owed(const LC *h)
{
    return h->has_pending || h->server->pending_statements > 0 || h->server->storing;
}

LC *lc_init(void)
{
    return calloc(1, sizeof(LC)); /* zeroed: no error, not connected */
}

LC *lc_real_connect(LC *handle, const char *host, const char *user, const char *passwd,
                    const char *db, unsigned int port)
{
    lc_fail f;
    (void)host;
    (void)port;
    if (handle == NULL)
        return NULL;
    clear_error(handle);
    if (handle->connected) {
        fail_code(handle, LC_CR_COMMANDS_OUT_OF_SYNC);
        return NULL;
    }
    if (user == NULL || passwd == NULL || strcmp(user, "lab") != 0 || strcmp(passwd, "lab") != 0) {
        lc_fail_name(&f, LC_ER_ACCESS_DENIED, user, user != NULL ? strlen(user) : 0);
        fail_handle(handle, &f);
        return NULL;
    }
    if (db == NULL || strcmp(db, "shop") != 0) {
        lc_fail_name(&f, LC_ER_BAD_DB, db, db != NULL ? strlen(db) : 0);
        fail_handle(handle, &f);
        return NULL;
    }
    if (lc_server_create(&handle->server) != LC_OK) {
        handle->server = NULL;
        fail_code(handle, LC_CR_OUT_OF_MEMORY);
        return NULL;
    }
    handle->connected = 1;
    return handle;
}

int lc_close(LC *handle)
{
    lc_fail f;
    if (handle == NULL)
        return 0;
    clear_error(handle);
    if (handle->open_statements > 0) {
        lc_fail_num(&f, LC_CR_BUSY, handle->open_statements);
        fail_handle(handle, &f);
        return LC_CR_BUSY;
    }
    if (handle->server != NULL && handle->server->storing)
        return (int)fail_code(handle, LC_CR_COMMANDS_OUT_OF_SYNC);
    drop_pending(handle);
    lc_server_destroy(handle->server);
    free(handle);
    return 0;
}

unsigned int lc_errno(const LC *handle) { return handle != NULL ? handle->last_errno : 0; }

const char *lc_error(const LC *handle) { return handle != NULL ? handle->last_error : ""; }

int lc_query(LC *handle, const char *query)
{
    return lc_real_query(handle, query, query != NULL ? (unsigned long)strlen(query) : 0);
}

int lc_real_query(LC *handle, const char *query, unsigned long length)
{
    lc_ast ast;
    lc_fail f;
    lc_outcome out;
    unsigned int rc;
    if (handle == NULL)
        return LC_CR_SERVER_GONE;
    clear_error(handle);
    if (!handle->connected)
        return (int)fail_code(handle, LC_CR_SERVER_GONE);
    if (rows_owed(handle))
        return (int)fail_code(handle, LC_CR_COMMANDS_OUT_OF_SYNC);
    handle->affected_rows = 0;
    handle->pending_fields = 0;
    if (query == NULL)
        length = 0;
    rc = lc_compile(query != NULL ? query : "", length, 0, NULL, &ast, &f);
    if (rc != LC_OK) {
        fail_handle(handle, &f);
        return (int)rc;
    }
    rc = lc_execute(handle->server, &ast, NULL, &out);
    if (rc != LC_OK) {
        lc_ast_free(&ast);
        return (int)fail_code(handle, rc);
    }
    handle->queries++;
    handle->affected_rows = out.affected;
    if (ast.kind == LC_SQL_SELECT) {
        handle->has_pending = 1;
        handle->pending_rows = out.rows;
        handle->pending_count = out.row_count;
        handle->pending_fields = ast.ncols;
        memcpy(handle->pending_columns, ast.col_index, sizeof ast.col_index);
    }
    lc_ast_free(&ast);
    return 0;
}

LC_RES *lc_store_result(LC *handle)
{
    lc_fail f;
    if (handle == NULL)
        return NULL;
    clear_error(handle);
    if (handle->server != NULL && handle->server->storing) {
        fail_code(handle, LC_CR_COMMANDS_OUT_OF_SYNC);
        return NULL;
    }
    if (!handle->has_pending)
        return NULL;
    /* has_pending stays set while building: a callback cannot run a statement. */
    handle->server->storing = 1;
    LC_RES *res = lc_result_build(handle, &handle->server->people, handle->pending_columns,
                                  handle->pending_fields, handle->pending_rows,
                                  handle->pending_count, 1, &f);
    handle->server->storing = 0;
    drop_pending(handle);
    if (res == NULL)
        fail_handle(handle, &f);
    return res;
}

unsigned int lc_field_count(const LC *handle) { return handle != NULL ? handle->pending_fields : 0; }

uint64_t lc_affected_rows(const LC *handle) { return handle != NULL ? handle->affected_rows : 0; }

unsigned long lc_real_escape_string(LC *handle, char *to, const char *from, unsigned long length)
{
    (void)handle;
    if (to == NULL)
        return 0;
    if (from == NULL)
        length = 0;
    size_t n = lc_escape_bytes(to, from, length);
    to[n] = '\0';
    return (unsigned long)n;
}

char *lc_stat(LC *handle)
{
    if (handle == NULL)
        return NULL;
    clear_error(handle);
    if (!handle->connected) {
        fail_code(handle, LC_CR_SERVER_GONE);
        return NULL;
    }
    unsigned long long queries = handle->queries;
    unsigned long long rows = handle->server->people.count;
    int n = snprintf(NULL, 0, "Queries: %llu  Rows: %llu", queries, rows);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s == NULL) {
        fail_code(handle, LC_CR_OUT_OF_MEMORY);
        return NULL;
    }
    snprintf(s, (size_t)n + 1, "Queries: %llu  Rows: %llu", queries, rows);
    return s;
}

void lc_free(void *ptr) { free(ptr); }

void lc_set_row_callback(LC *handle, lc_row_callback callback, void *user_data)
{
    if (handle == NULL)
        return;
    handle->row_callback = callback;
    handle->row_callback_data = callback != NULL ? user_data : NULL;
}

void lc_set_compat_float_leak(LC *handle, int on)
{
    if (handle != NULL)
        handle->compat_float_leak = on != 0;
}
