/* parser.c: recursive-descent parser with one token of lookahead. */
#include "parser.h"

#include <string.h>

#include <stdlib.h>

#include "bytes.h"
#include "lexer.h"

typedef struct parser {
    lc_lexer lx;
    lc_token tok;          /* current token */
    int allow_params;
    lc_ast *ast;
    unsigned int status;   /* LC_OK until the first error */
    size_t err_off;
} parser;

static const char *const keywords[] = {"SELECT", "FROM", "WHERE", "LIMIT",
                                       "INSERT", "INTO", "VALUES", "DELETE"};

static int fail_at(parser *p, size_t off)
{
    if (p->status == LC_OK) {
        p->status = LC_ER_PARSE;
        p->err_off = off;
    }
    return 0;
}

/* Fails on the current token: a lexical error reports its own offset. */
static int fail(parser *p)
{
    if (p->tok.kind == TK_OOM) {
        p->status = LC_CR_OUT_OF_MEMORY;
        return 0;
    }
    return fail_at(p, p->tok.off);
}

static void advance(parser *p) { lc_lexer_next(&p->lx, &p->tok); }

static int is_keyword(const parser *p, const char *kw)
{
    return lc_token_is_keyword(&p->lx, &p->tok, kw);
}

static int expect_keyword(parser *p, const char *kw)
{
    if (!is_keyword(p, kw))
        return fail(p);
    advance(p);
    return 1;
}

static int expect(parser *p, lc_tok_kind kind)
{
    if (p->tok.kind != kind)
        return fail(p);
    advance(p);
    return 1;
}

/* A table or column name: an identifier that is not a keyword. */
static int name(parser *p, lc_span *out)
{
    if (p->tok.kind != TK_IDENT)
        return fail(p);
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (is_keyword(p, keywords[i]))
            return fail(p);
    out->ptr = p->lx.src + p->tok.off;
    out->len = p->tok.len;
    advance(p);
    return 1;
}

static int literal(parser *p, lc_lit *lit)
{
    memset(lit, 0, sizeof *lit);
    switch (p->tok.kind) {
    case TK_INT:
        lit->kind = LC_LIT_INT;
        lit->ival = p->tok.ival;
        break;
    case TK_DECIMAL:
        lit->kind = LC_LIT_DECIMAL;
        lit->dval = p->tok.dval;
        break;
    case TK_TEXT: {
        size_t n = lc_text_decode(&p->lx, &p->tok, NULL);
        char *text = malloc(n + 1);
        if (text == NULL) {
            p->status = LC_CR_OUT_OF_MEMORY;
            return 0;
        }
        lc_text_decode(&p->lx, &p->tok, text);
        text[n] = '\0';
        lit->kind = LC_LIT_TEXT;
        lit->text = text;
        lit->text_len = n;
        break;
    }
    case TK_QMARK:
        if (!p->allow_params || p->ast->nparams == LC_MAX_PARAMS)
            return fail(p);
        lit->kind = LC_LIT_PARAM;
        lit->param = p->ast->nparams;
        p->ast->param_off[p->ast->nparams++] = p->tok.off;
        break;
    default:
        return fail(p);
    }
    advance(p);
    return 1;
}

static int condition(parser *p)
{
    lc_ast *a = p->ast;
    if (!is_keyword(p, "WHERE"))
        return 1;
    advance(p);
    if (!name(p, &a->where_col))
        return 0;
    switch (p->tok.kind) {
    case TK_EQ: a->op = LC_OP_EQ; break;
    case TK_NE: a->op = LC_OP_NE; break;
    case TK_LT: a->op = LC_OP_LT; break;
    case TK_LE: a->op = LC_OP_LE; break;
    case TK_GT: a->op = LC_OP_GT; break;
    case TK_GE: a->op = LC_OP_GE; break;
    default: return fail(p);
    }
    advance(p);
    if (!literal(p, &a->where_lit))
        return 0;
    a->has_where = 1;
    return 1;
}

static int select_stmt(parser *p)
{
    lc_ast *a = p->ast;
    a->kind = LC_SQL_SELECT;
    advance(p);
    if (p->tok.kind == TK_STAR) {
        a->star = 1;
        advance(p);
    } else {
        for (;;) {
            if (a->ncols == LC_MAX_SELECT_COLUMNS)
                return fail(p);
            if (!name(p, &a->cols[a->ncols]))
                return 0;
            a->ncols++;
            if (p->tok.kind != TK_COMMA)
                break;
            advance(p);
        }
    }
    if (!expect_keyword(p, "FROM") || !name(p, &a->table) || !condition(p))
        return 0;
    if (is_keyword(p, "LIMIT")) {
        advance(p);
        if (p->tok.kind != TK_INT || p->tok.negative)
            return fail(p);
        a->has_limit = 1;
        a->limit = (uint64_t)p->tok.ival;
        advance(p);
    }
    return 1;
}

static int insert_stmt(parser *p)
{
    lc_ast *a = p->ast;
    a->kind = LC_SQL_INSERT;
    advance(p);
    if (!expect_keyword(p, "INTO") || !name(p, &a->table) || !expect_keyword(p, "VALUES") ||
        !expect(p, TK_LPAREN))
        return 0;
    for (int i = 0; i < 3; i++) {
        if (i > 0 && !expect(p, TK_COMMA))
            return 0;
        if (!literal(p, &a->values[i]))
            return 0;
    }
    return expect(p, TK_RPAREN);
}

static int delete_stmt(parser *p)
{
    lc_ast *a = p->ast;
    a->kind = LC_SQL_DELETE;
    advance(p);
    return expect_keyword(p, "FROM") && name(p, &a->table) && condition(p);
}

unsigned int lc_parse(const char *query, size_t len, int allow_params, lc_ast *out,
                      size_t *err_off)
{
    parser p;
    memset(out, 0, sizeof *out);
    memset(&p, 0, sizeof p);
    lc_lexer_init(&p.lx, query, len);
    p.allow_params = allow_params;
    p.ast = out;
    p.status = LC_OK;
    advance(&p);

    int ok;
    if (is_keyword(&p, "SELECT"))
        ok = select_stmt(&p);
    else if (is_keyword(&p, "INSERT"))
        ok = insert_stmt(&p);
    else if (is_keyword(&p, "DELETE"))
        ok = delete_stmt(&p);
    else
        ok = fail(&p);
    if (ok && p.tok.kind == TK_SEMI)
        advance(&p);
    if (ok && p.tok.kind != TK_END)
        ok = fail(&p);
    if (!ok) {
        lc_ast_free(out);
        *err_off = p.err_off;
        return p.status;
    }
    return LC_OK;
}

void lc_ast_free(lc_ast *ast)
{
    if (ast == NULL)
        return;
    lc_lit *lits[4] = {&ast->where_lit, &ast->values[0], &ast->values[1], &ast->values[2]};
    for (int i = 0; i < 4; i++) {
        free(lits[i]->text);
        lits[i]->text = NULL;
    }
}
