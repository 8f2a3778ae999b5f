/* engine.h: the in-memory "server": checks and runs a parsed statement on the people table. */
#ifndef LEAKLAB_CONNECTOR_ENGINE_H
#define LEAKLAB_CONNECTOR_ENGINE_H

#include <stdint.h>

#include "connector.h"
#include "errors.h"
#include "parser.h"
#include "table.h"

/* One per connected handle (LC.server). */
struct lc_server {
    lc_table people;
    unsigned int pending_statements; /* statements with a SELECT not yet stored */
    int storing;                     /* inside lc_store_result (row callback running) */
};

/* A bound statement parameter. */
typedef struct lc_param {
    int bound;
    lc_field_type type;
    int64_t ival;
    double dval;
    char *text;        /* lc_copy_bytes'd */
    size_t text_len;
} lc_param;

/* What a statement did: matched row numbers of a SELECT, affected rows. */
typedef struct lc_outcome {
    uint32_t *rows;    /* malloc'd, NULL when row_count == 0 */
    uint64_t row_count;
    uint64_t affected;
} lc_outcome;

unsigned int lc_server_create(struct lc_server **out);
void lc_server_destroy(struct lc_server *server);

/*
 * Checks table, then columns left to right, then literal types left to right,
 * resolving column numbers into ast. params == NULL: a '?' fits any column
 * (prepare time); otherwise every parameter must be bound.
 */
unsigned int lc_check(lc_ast *ast, const lc_param *params, lc_fail *fail);

/*
 * Everything before running, in the documented error order: length, empty,
 * syntax, then lc_check. On success the caller owns ast (lc_ast_free); on
 * failure nothing stays allocated and fail says why.
 */
unsigned int lc_compile(const char *query, size_t len, int allow_params,
                        const lc_param *params, lc_ast *ast, lc_fail *fail);

/* Runs a checked statement. LC_OK or LC_CR_OUT_OF_MEMORY (nothing changed). */
unsigned int lc_execute(struct lc_server *server, const lc_ast *ast, const lc_param *params,
                        lc_outcome *out);

#endif
