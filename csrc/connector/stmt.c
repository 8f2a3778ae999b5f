/* stmt.c: prepared statements (LC_STMT is private to this file). */
#include "connector.h"

#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "bytes.h"
#include "engine.h"
#include "errors.h"
#include "escape.h"
#include "result.h"

struct LC_STMT {
    LC *handle;
    unsigned int last_errno;
    char last_error[LC_ERRMSG_SIZE];
    int prepared;
    char *query;                      /* owned copy: the AST's names point into it */
    size_t query_len;
    lc_ast ast;
    lc_param params[LC_MAX_PARAMS];
    int has_pending;                  /* an executed SELECT whose rows are not stored */
    uint32_t *pending_rows;
    uint64_t pending_count;
    uint64_t affected_rows;
};

static unsigned int fail_code(LC_STMT *s, unsigned int code)
{
    lc_report_code(&s->last_errno, s->last_error, code);
    return code;
}

static void clear_error(LC_STMT *s) { lc_report_clear(&s->last_errno, s->last_error); }

static void drop_pending(LC_STMT *s)
{
    if (!s->has_pending)
        return;
    free(s->pending_rows);
    s->pending_rows = NULL;
    s->pending_count = 0;
    s->has_pending = 0;
    s->handle->server->pending_statements--;
}

static void unprepare(LC_STMT *s)
{
    drop_pending(s);
    lc_ast_free(&s->ast);
    memset(&s->ast, 0, sizeof s->ast);
    free(s->query);
    s->query = NULL;
    s->query_len = 0;
    for (unsigned int i = 0; i < LC_MAX_PARAMS; i++)
        free(s->params[i].text);
    memset(s->params, 0, sizeof s->params);
    s->prepared = 0;
    s->affected_rows = 0;
}

LC_STMT *lc_stmt_init(LC *handle)
{
    if (handle == NULL)
        return NULL;
    lc_report_clear(&handle->last_errno, handle->last_error);
    LC_STMT *s = calloc(1, sizeof *s);
    if (s == NULL) {
        lc_report_code(&handle->last_errno, handle->last_error, LC_CR_OUT_OF_MEMORY);
        return NULL;
    }
    s->handle = handle;
    handle->open_statements++;
    return s;
}

int lc_stmt_prepare(LC_STMT *stmt, const char *query, unsigned long length)
{
    lc_fail f;
    if (stmt == NULL)
        return LC_CR_NO_PREPARED_STMT;
    clear_error(stmt);
    unprepare(stmt);
    if (!stmt->handle->connected)
        return (int)fail_code(stmt, LC_CR_SERVER_GONE);
    if (query == NULL)
        length = 0;
    if (length > LC_MAX_QUERY_LEN) {
        lc_fail_num(&f, LC_ER_NET_PACKET_TOO_LARGE, LC_MAX_QUERY_LEN);
        lc_report(&stmt->last_errno, stmt->last_error, &f);
        return (int)f.code;
    }
    stmt->query = lc_copy_bytes(query != NULL ? query : "", length);
    if (stmt->query == NULL)
        return (int)fail_code(stmt, LC_CR_OUT_OF_MEMORY);
    stmt->query_len = length;
    unsigned int rc = lc_compile(stmt->query, length, 1, NULL, &stmt->ast, &f);
    if (rc != LC_OK) {
        lc_report(&stmt->last_errno, stmt->last_error, &f);
        unprepare(stmt);
        return (int)rc;
    }
    stmt->prepared = 1;
    return 0;
}

unsigned long lc_stmt_param_count(const LC_STMT *stmt)
{
    return stmt != NULL && stmt->prepared ? stmt->ast.nparams : 0;
}

/* Checks the statement and index; on success returns the slot to fill. */
static lc_param *bind_slot(LC_STMT *stmt, unsigned int index, unsigned int *rc)
{
    clear_error(stmt);
    if (!stmt->prepared)
        *rc = fail_code(stmt, LC_CR_NO_PREPARED_STMT);
    else if (index >= stmt->ast.nparams)
        *rc = fail_code(stmt, LC_CR_INVALID_PARAMETER_NO);
    else
        return &stmt->params[index];
    return NULL;
}

static void set_param(lc_param *p, lc_field_type type, long long i, double d, char *text,
                      size_t len)
{
    free(p->text);
    p->bound = 1;
    p->type = type;
    p->ival = i;
    p->dval = d;
    p->text = text;
    p->text_len = len;
}

int lc_stmt_bind_int(LC_STMT *stmt, unsigned int index, long long value)
{
    unsigned int rc = LC_OK;
    if (stmt == NULL)
        return LC_CR_NO_PREPARED_STMT;
    lc_param *p = bind_slot(stmt, index, &rc);
    if (p != NULL)
        set_param(p, LC_TYPE_INT, value, 0.0, NULL, 0);
    return (int)rc;
}

int lc_stmt_bind_double(LC_STMT *stmt, unsigned int index, double value)
{
    unsigned int rc = LC_OK;
    if (stmt == NULL)
        return LC_CR_NO_PREPARED_STMT;
    lc_param *p = bind_slot(stmt, index, &rc);
    if (p != NULL)
        set_param(p, LC_TYPE_DOUBLE, 0, value, NULL, 0);
    return (int)rc;
}

int lc_stmt_bind_text(LC_STMT *stmt, unsigned int index, const char *value, unsigned long length)
{
    unsigned int rc = LC_OK;
    if (stmt == NULL)
        return LC_CR_NO_PREPARED_STMT;
    lc_param *p = bind_slot(stmt, index, &rc);
    if (p == NULL)
        return (int)rc;
    if (value == NULL)
        length = 0;
    char *copy = lc_copy_bytes(value != NULL ? value : "", length);
    if (copy == NULL)
        return (int)fail_code(stmt, LC_CR_OUT_OF_MEMORY); /* the old binding stays */
    set_param(p, LC_TYPE_TEXT, 0, 0.0, copy, length);
    return 0;
}

int lc_stmt_execute(LC_STMT *stmt)
{
    lc_fail f;
    lc_outcome out;
    if (stmt == NULL)
        return LC_CR_NO_PREPARED_STMT;
    clear_error(stmt);
    LC *h = stmt->handle;
    if (!stmt->prepared)
        return (int)fail_code(stmt, LC_CR_NO_PREPARED_STMT);
    if (!h->connected)
        return (int)fail_code(stmt, LC_CR_SERVER_GONE);
    if (h->has_pending || h->server->pending_statements > 0 || h->server->storing)
        return (int)fail_code(stmt, LC_CR_COMMANDS_OUT_OF_SYNC);
    stmt->affected_rows = 0;
    for (unsigned int i = 0; i < stmt->ast.nparams; i++)
        if (!stmt->params[i].bound)
            return (int)fail_code(stmt, LC_CR_PARAMS_NOT_BOUND);
    unsigned int rc = lc_check(&stmt->ast, stmt->params, &f);
    if (rc != LC_OK) {
        lc_report(&stmt->last_errno, stmt->last_error, &f);
        return (int)rc;
    }
    rc = lc_execute(h->server, &stmt->ast, stmt->params, &out);
    if (rc != LC_OK)
        return (int)fail_code(stmt, rc);
    h->queries++;
    stmt->affected_rows = out.affected;
    if (stmt->ast.kind == LC_SQL_SELECT) {
        stmt->has_pending = 1;
        stmt->pending_rows = out.rows;
        stmt->pending_count = out.row_count;
        h->server->pending_statements++;
    }
    return 0;
}

uint64_t lc_stmt_affected_rows(const LC_STMT *stmt)
{
    return stmt != NULL ? stmt->affected_rows : 0;
}

LC_RES *lc_stmt_result_metadata(LC_STMT *stmt)
{
    if (stmt == NULL)
        return NULL;
    clear_error(stmt);
    if (!stmt->prepared) {
        fail_code(stmt, LC_CR_NO_PREPARED_STMT);
        return NULL;
    }
    if (stmt->ast.kind != LC_SQL_SELECT)
        return NULL;
    LC_RES *res = lc_result_metadata(stmt->ast.col_index, stmt->ast.ncols);
    if (res == NULL)
        fail_code(stmt, LC_CR_OUT_OF_MEMORY);
    return res;
}

LC_RES *lc_stmt_store_result(LC_STMT *stmt)
{
    lc_fail f;
    if (stmt == NULL)
        return NULL;
    clear_error(stmt);
    if (!stmt->prepared) {
        fail_code(stmt, LC_CR_NO_PREPARED_STMT);
        return NULL;
    }
    if (!stmt->has_pending)
        return NULL;
    LC_RES *res = lc_result_build(stmt->handle, &stmt->handle->server->people, stmt->ast.col_index,
                                  stmt->ast.ncols, stmt->pending_rows, stmt->pending_count, 0, &f);
    drop_pending(stmt);
    if (res == NULL)
        lc_report(&stmt->last_errno, stmt->last_error, &f);
    return res;
}

/* Writes one bound value as SQL text (dst NULL: only count); returns its length. */
static size_t put_value(char *dst, const lc_param *p)
{
    int n;
    switch (p->type) {
    case LC_TYPE_INT:
        n = snprintf(NULL, 0, "%lld", (long long)p->ival);
        if (dst != NULL && n > 0)
            snprintf(dst, (size_t)n + 1, "%lld", (long long)p->ival);
        return n > 0 ? (size_t)n : 0;
    case LC_TYPE_DOUBLE:
        n = snprintf(NULL, 0, "%.2f", p->dval);
        if (dst != NULL && n > 0)
            snprintf(dst, (size_t)n + 1, "%.2f", p->dval);
        return n > 0 ? (size_t)n : 0;
    case LC_TYPE_TEXT:
        break;
    }
    size_t len = lc_escape_bytes(dst != NULL ? dst + 1 : NULL, p->text, p->text_len);
    if (dst != NULL) {
        dst[0] = '\'';
        dst[len + 1] = '\'';
    }
    return len + 2;
}

/* The query with bound '?' replaced (dst NULL: only count); returns its length. */
static size_t expand(const LC_STMT *s, char *dst)
{
    size_t n = 0, from = 0;
    for (unsigned int i = 0; i <= s->ast.nparams; i++) {
        size_t to = i < s->ast.nparams ? s->ast.param_off[i] : s->query_len;
        if (dst != NULL)
            memcpy(dst + n, s->query + from, to - from);
        n += to - from;
        if (i == s->ast.nparams)
            break;
        if (s->params[i].bound) {
            n += put_value(dst != NULL ? dst + n : NULL, &s->params[i]);
        } else {
            if (dst != NULL)
                dst[n] = '?';
            n++;
        }
        from = to + 1;
    }
    return n;
}

char *lc_stmt_expanded_sql(LC_STMT *stmt)
{
    if (stmt == NULL)
        return NULL;
    clear_error(stmt);
    if (!stmt->prepared) {
        fail_code(stmt, LC_CR_NO_PREPARED_STMT);
        return NULL;
    }
    size_t n = expand(stmt, NULL);
    char *sql = malloc(n + 1);
    if (sql == NULL) {
        fail_code(stmt, LC_CR_OUT_OF_MEMORY);
        return NULL;
    }
    expand(stmt, sql);
    sql[n] = '\0';
    return sql;
}

unsigned int lc_stmt_errno(const LC_STMT *stmt) { return stmt != NULL ? stmt->last_errno : 0; }

const char *lc_stmt_error(const LC_STMT *stmt) { return stmt != NULL ? stmt->last_error : ""; }

int lc_stmt_close(LC_STMT *stmt)
{
    if (stmt == NULL)
        return 0;
    unprepare(stmt);
    stmt->handle->open_statements--;
    free(stmt);
    return 0;
}
