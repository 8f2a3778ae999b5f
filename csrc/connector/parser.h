/* parser.h: the statement AST and the parser of the query grammar (connector.h). */
#ifndef LEAKLAB_CONNECTOR_PARSER_H
#define LEAKLAB_CONNECTOR_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "connector.h"

typedef enum lc_op { LC_OP_EQ, LC_OP_NE, LC_OP_LT, LC_OP_LE, LC_OP_GT, LC_OP_GE } lc_op;

typedef enum lc_lit_kind { LC_LIT_TEXT, LC_LIT_INT, LC_LIT_DECIMAL, LC_LIT_PARAM } lc_lit_kind;

typedef struct lc_lit {
    lc_lit_kind kind;
    char *text;          /* LC_LIT_TEXT: decoded value, malloc'd (text_len + 1 bytes) */
    size_t text_len;
    int64_t ival;        /* LC_LIT_INT */
    double dval;         /* LC_LIT_DECIMAL */
    unsigned int param;  /* LC_LIT_PARAM: parameter number from 0 */
} lc_lit;

/* A name as written in the query (points into the query text, not owned). */
typedef struct lc_span {
    const char *ptr;
    size_t len;
} lc_span;

typedef enum lc_stmt_kind { LC_SQL_SELECT, LC_SQL_INSERT, LC_SQL_DELETE } lc_stmt_kind;

typedef struct lc_ast {
    lc_stmt_kind kind;
    lc_span table;
    int star;                                   /* SELECT *: columns filled in by the check */
    unsigned int ncols;                         /* SELECT columns */
    lc_span cols[LC_MAX_SELECT_COLUMNS];
    unsigned int col_index[LC_MAX_SELECT_COLUMNS]; /* resolved by lc_check */
    int has_where;
    lc_span where_col;
    unsigned int where_index;                   /* resolved by lc_check */
    lc_op op;
    lc_lit where_lit;
    int has_limit;
    uint64_t limit;
    lc_lit values[3];                           /* INSERT */
    unsigned int nparams;
    size_t param_off[LC_MAX_PARAMS];            /* byte offset of each '?' */
} lc_ast;

/*
 * Parses query[0..len). Returns LC_OK, LC_ER_PARSE (offset in *err_off) or
 * LC_CR_OUT_OF_MEMORY; on failure nothing stays allocated. Length and
 * empty-query checks are the caller's (they come first).
 */
unsigned int lc_parse(const char *query, size_t len, int allow_params, lc_ast *out,
                      size_t *err_off);
/* Frees the literals' text; the AST itself is the caller's. NULL-safe, idempotent. */
void lc_ast_free(lc_ast *ast);

#endif
