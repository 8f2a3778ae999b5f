/* engine.c: semantic checks and execution of SELECT / INSERT / DELETE. */
#include "engine.h"

#include <string.h>

#include <stdlib.h>

#include "bytes.h"
#include "lexer.h"

unsigned int lc_server_create(struct lc_server **out)
{
    struct lc_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return LC_CR_OUT_OF_MEMORY;
    if (lc_table_seed(&s->people) != LC_OK) {
        free(s);
        return LC_CR_OUT_OF_MEMORY;
    }
    *out = s;
    return LC_OK;
}

void lc_server_destroy(struct lc_server *server)
{
    if (server == NULL)
        return;
    lc_table_free(&server->people);
    free(server);
}

static int find_column(const lc_span *name, unsigned int *index)
{
    for (unsigned int i = 0; i < LC_COLUMN_COUNT; i++) {
        if (lc_columns[i].name_len == name->len &&
            memcmp(lc_columns[i].name, name->ptr, name->len) == 0) {
            *index = i;
            return 1;
        }
    }
    return 0;
}

/* The type a literal (or its bound parameter) carries: TEXT, INT or DOUBLE. */
static lc_field_type literal_type(const lc_lit *lit, const lc_param *params)
{
    switch (lit->kind) {
    case LC_LIT_TEXT: return LC_TYPE_TEXT;
    case LC_LIT_INT: return LC_TYPE_INT;
    case LC_LIT_DECIMAL: return LC_TYPE_DOUBLE;
    case LC_LIT_PARAM: break;
    }
    return params[lit->param].type;
}

static int literal_fits(lc_field_type column, const lc_lit *lit, const lc_param *params)
{
    if (lit->kind == LC_LIT_PARAM && params == NULL)
        return 1;
    lc_field_type t = literal_type(lit, params);
    if (column == LC_TYPE_DOUBLE)
        return t == LC_TYPE_DOUBLE || t == LC_TYPE_INT;
    return t == column;
}

static unsigned int wrong_value(lc_fail *fail, unsigned int column)
{
    lc_fail_name(fail, LC_ER_WRONG_VALUE, lc_columns[column].name, lc_columns[column].name_len);
    return fail->code;
}

unsigned int lc_check(lc_ast *ast, const lc_param *params, lc_fail *fail)
{
    static const char people[] = "people";
    if (ast->table.len != sizeof people - 1 || memcmp(ast->table.ptr, people, ast->table.len) != 0) {
        lc_fail_name(fail, LC_ER_NO_SUCH_TABLE, ast->table.ptr, ast->table.len);
        return fail->code;
    }
    if (ast->kind == LC_SQL_SELECT) {
        if (ast->star) {
            ast->ncols = LC_COLUMN_COUNT;
            for (unsigned int i = 0; i < LC_COLUMN_COUNT; i++)
                ast->col_index[i] = i;
        } else {
            for (unsigned int i = 0; i < ast->ncols; i++) {
                if (!find_column(&ast->cols[i], &ast->col_index[i])) {
                    lc_fail_name(fail, LC_ER_BAD_FIELD, ast->cols[i].ptr, ast->cols[i].len);
                    return fail->code;
                }
            }
        }
    }
    if (ast->has_where && !find_column(&ast->where_col, &ast->where_index)) {
        lc_fail_name(fail, LC_ER_BAD_FIELD, ast->where_col.ptr, ast->where_col.len);
        return fail->code;
    }
    if (ast->has_where && !literal_fits(lc_columns[ast->where_index].type, &ast->where_lit, params))
        return wrong_value(fail, ast->where_index);
    if (ast->kind == LC_SQL_INSERT) {
        for (unsigned int i = 0; i < LC_COLUMN_COUNT; i++)
            if (!literal_fits(lc_columns[i].type, &ast->values[i], params))
                return wrong_value(fail, i);
    }
    lc_fail_code(fail, LC_OK);
    return LC_OK;
}

/* A literal as a value of its (checked) column's type. */
typedef struct value {
    const char *text;
    size_t text_len;
    int64_t ival;
    double dval;
} value;

static value resolve(const lc_lit *lit, const lc_param *params, lc_field_type column)
{
    value v = {"", 0, 0, 0.0};
    lc_field_type t;
    const char *text = lit->text;
    size_t text_len = lit->text_len;
    int64_t ival = lit->ival;
    double dval = lit->dval;
    if (lit->kind == LC_LIT_PARAM) {
        const lc_param *p = &params[lit->param];
        t = p->type;
        text = p->text;
        text_len = p->text_len;
        ival = p->ival;
        dval = p->dval;
    } else {
        t = literal_type(lit, params);
    }
    if (column == LC_TYPE_TEXT) {
        v.text = text != NULL ? text : "";
        v.text_len = text_len;
    } else if (column == LC_TYPE_INT) {
        v.ival = ival;
    } else {
        v.dval = t == LC_TYPE_INT ? (double)ival : dval;
    }
    return v;
}

typedef struct condition {
    int present;
    unsigned int column;
    lc_op op;
    value v;
} condition;

static int compare_ok(int cmp, lc_op op)
{
    switch (op) {
    case LC_OP_EQ: return cmp == 0;
    case LC_OP_NE: return cmp != 0;
    case LC_OP_LT: return cmp < 0;
    case LC_OP_LE: return cmp <= 0;
    case LC_OP_GT: return cmp > 0;
    case LC_OP_GE: return cmp >= 0;
    }
    return 0;
}

static int matches(const lc_person *row, const condition *c)
{
    if (!c->present)
        return 1;
    switch (lc_columns[c->column].type) {
    case LC_TYPE_TEXT: {
        size_t n = row->name_len < c->v.text_len ? row->name_len : c->v.text_len;
        int cmp = n ? memcmp(row->name, c->v.text, n) : 0;
        if (cmp == 0)
            cmp = row->name_len < c->v.text_len ? -1 : row->name_len > c->v.text_len;
        return compare_ok(cmp, c->op);
    }
    case LC_TYPE_INT:
        return compare_ok(row->age < c->v.ival ? -1 : row->age > c->v.ival, c->op);
    case LC_TYPE_DOUBLE: {
        double a = row->score, b = c->v.dval; /* IEEE: NaN only satisfies != */
        switch (c->op) {
        case LC_OP_EQ: return a == b;
        case LC_OP_NE: return a != b;
        case LC_OP_LT: return a < b;
        case LC_OP_LE: return a <= b;
        case LC_OP_GT: return a > b;
        case LC_OP_GE: return a >= b;
        }
    }
    }
    return 0;
}

static int drop_row(const lc_person *row, const void *ctx) { return matches(row, ctx); }

unsigned int lc_execute(struct lc_server *server, const lc_ast *ast, const lc_param *params,
                        lc_outcome *out)
{
    lc_table *t = &server->people;
    condition cond;
    memset(&cond, 0, sizeof cond);
    memset(out, 0, sizeof *out);
    if (ast->has_where) {
        cond.present = 1;
        cond.column = ast->where_index;
        cond.op = ast->op;
        cond.v = resolve(&ast->where_lit, params, lc_columns[ast->where_index].type);
    }
    switch (ast->kind) {
    case LC_SQL_SELECT: {
        uint64_t max = t->count;
        if (ast->has_limit && ast->limit < max)
            max = ast->limit;
        if (max == 0)
            return LC_OK;
        uint32_t *rows = malloc((size_t)max * sizeof *rows);
        if (rows == NULL)
            return LC_CR_OUT_OF_MEMORY;
        uint64_t n = 0;
        for (size_t i = 0; i < t->count && n < max; i++)
            if (matches(&t->rows[i], &cond))
                rows[n++] = (uint32_t)i;
        if (n == 0) {
            free(rows);
            rows = NULL;
        }
        out->rows = rows;
        out->row_count = n;
        out->affected = n;
        return LC_OK;
    }
    case LC_SQL_INSERT: {
        value name = resolve(&ast->values[0], params, LC_TYPE_TEXT);
        value age = resolve(&ast->values[1], params, LC_TYPE_INT);
        value score = resolve(&ast->values[2], params, LC_TYPE_DOUBLE);
        unsigned int rc = lc_table_append(t, name.text, name.text_len, age.ival, score.dval);
        if (rc != LC_OK)
            return rc;
        out->affected = 1;
        return LC_OK;
    }
    case LC_SQL_DELETE:
        out->affected = lc_table_remove_if(t, drop_row, &cond);
        return LC_OK;
    }
    return LC_OK;
}

static int only_blanks(const char *query, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!lc_is_space((unsigned char)query[i]) && query[i] != ';')
            return 0;
    return 1;
}

unsigned int lc_compile(const char *query, size_t len, int allow_params,
                        const lc_param *params, lc_ast *ast, lc_fail *fail)
{
    size_t off = 0;
    unsigned int rc;
    memset(ast, 0, sizeof *ast);
    if (len > LC_MAX_QUERY_LEN) {
        lc_fail_num(fail, LC_ER_NET_PACKET_TOO_LARGE, LC_MAX_QUERY_LEN);
        return fail->code;
    }
    if (only_blanks(query, len)) {
        lc_fail_code(fail, LC_ER_EMPTY_QUERY);
        return fail->code;
    }
    rc = lc_parse(query, len, allow_params, ast, &off);
    if (rc == LC_ER_PARSE) {
        lc_fail_num(fail, LC_ER_PARSE, (unsigned long)off);
        return rc;
    }
    if (rc != LC_OK) {
        lc_fail_code(fail, rc);
        return rc;
    }
    rc = lc_check(ast, params, fail);
    if (rc != LC_OK)
        lc_ast_free(ast);
    return rc;
}
