/* lexer.h: splits a query (pointer + length, may hold NUL bytes) into tokens, on demand. */
#ifndef LEAKLAB_CONNECTOR_LEXER_H
#define LEAKLAB_CONNECTOR_LEXER_H

#include <stddef.h>
#include <stdint.h>

typedef enum lc_tok_kind {
    TK_END,      /* end of input: off = query length */
    TK_IDENT,    /* [A-Za-z_][A-Za-z0-9_]* (keywords included) */
    TK_INT,      /* -?[0-9]+ fitting int64: ival */
    TK_DECIMAL,  /* -?[0-9]+.[0-9]+ : dval */
    TK_TEXT,     /* '...': off/len span the quotes too; lc_text_decode for the value */
    TK_STAR, TK_COMMA, TK_LPAREN, TK_RPAREN, TK_SEMI, TK_QMARK,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
    TK_BAD,      /* lexical error at off: unknown byte, unterminated text, int64 overflow */
    TK_OOM       /* out of memory while converting a decimal */
} lc_tok_kind;

typedef struct lc_token {
    lc_tok_kind kind;
    size_t off;
    size_t len;
    int negative;   /* TK_INT / TK_DECIMAL written with a leading '-' */
    int64_t ival;
    double dval;
} lc_token;

typedef struct lc_lexer {
    const char *src;
    size_t len;
    size_t pos;
} lc_lexer;

int lc_is_space(unsigned char c);
void lc_lexer_init(lc_lexer *lx, const char *src, size_t len);
void lc_lexer_next(lc_lexer *lx, lc_token *tok);
/* 1 if the identifier token equals keyword kw (upper case), ignoring case. */
int lc_token_is_keyword(const lc_lexer *lx, const lc_token *tok, const char *kw);
/* Decodes a TK_TEXT token's value into out (NULL: just count); returns its length. */
size_t lc_text_decode(const lc_lexer *lx, const lc_token *tok, char *out);

#endif
