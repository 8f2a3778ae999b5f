//! Syntax only: tokens to a tree that still names tables and columns as
//! written. Name resolution and types come later (see `statement.rs`), as
//! the spec orders syntax errors before table, column and type errors.

use super::lexer::{Lexer, Op, Tok, Token};

/// Most columns a SELECT may list (`LC_MAX_SELECT_COLUMNS`).
pub const MAX_SELECT_COLUMNS: usize = 16;
/// Most '?' a prepared statement may hold (`LC_MAX_PARAMS`).
pub const MAX_PARAMS: usize = 16;

/// Reserved words: never valid as table or column names.
const KEYWORDS: [&str; 8] = [
    "SELECT", "FROM", "WHERE", "LIMIT", "INSERT", "INTO", "VALUES", "DELETE",
];

/// A literal as written; `Param(i)` is the i-th '?' (from 0).
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Text(Vec<u8>),
    Int(i64),
    Decimal(f64),
    Param(usize),
}

/// A table or column name as written (matched case-sensitively later).
pub(crate) type Name<'a> = &'a [u8];

/// `column op lit`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cond<'a> {
    pub(crate) column: Name<'a>,
    pub(crate) op: Op,
    pub(crate) value: Lit,
}

/// One statement's syntax tree. `columns == None` is `SELECT *`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ast<'a> {
    Select {
        columns: Option<Vec<Name<'a>>>,
        table: Name<'a>,
        filter: Option<Cond<'a>>,
        limit: Option<u64>,
    },
    Insert {
        table: Name<'a>,
        values: [Lit; 3],
    },
    Delete {
        table: Name<'a>,
        filter: Option<Cond<'a>>,
    },
}

/// A parsed statement and the offsets of its '?' tokens (for expanded SQL).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed<'a> {
    pub(crate) ast: Ast<'a>,
    pub(crate) params: Vec<usize>,
}

/// Parses one statement; `Err` holds the offset of the first token that does
/// not fit. The caller has already ruled out too-long and empty queries.
pub(crate) fn parse_syntax(src: &[u8], allow_params: bool) -> Result<Parsed<'_>, usize> {
    let mut lexer = Lexer::new(src);
    let mut parser = Parser {
        current: lexer.next_token(),
        lexer,
        allow_params,
        params: Vec::new(),
    };
    let ast = parser.statement()?;
    parser.end()?;
    Ok(Parsed {
        ast,
        params: parser.params,
    })
}

/// Recursive descent with one token of lookahead; every method returns the
/// failing token's offset as its error.
struct Parser<'a> {
    lexer: Lexer<'a>,
    current: Token<'a>,
    allow_params: bool,
    params: Vec<usize>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token<'a> {
        &self.current
    }

    fn fail<T>(&self) -> Result<T, usize> {
        Err(self.current.offset)
    }

    /// Moves to the next token, returning the one consumed.
    fn bump(&mut self) -> Token<'a> {
        std::mem::replace(&mut self.current, self.lexer.next_token())
    }

    /// True (and consumed) if the current token is the keyword `word`.
    fn eat_keyword(&mut self, word: &str) -> bool {
        let found =
            matches!(self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(word.as_bytes()));
        if found {
            self.bump();
        }
        found
    }

    fn keyword(&mut self, word: &str) -> Result<(), usize> {
        if self.eat_keyword(word) {
            Ok(())
        } else {
            self.fail()
        }
    }

    fn eat(&mut self, tok: &Tok<'_>) -> bool {
        let found = self.peek().tok == *tok;
        if found {
            self.bump();
        }
        found
    }

    fn expect(&mut self, tok: &Tok<'_>) -> Result<(), usize> {
        if self.eat(tok) { Ok(()) } else { self.fail() }
    }

    fn statement(&mut self) -> Result<Ast<'a>, usize> {
        if self.eat_keyword("SELECT") {
            self.select()
        } else if self.eat_keyword("INSERT") {
            self.insert()
        } else if self.eat_keyword("DELETE") {
            self.delete()
        } else {
            self.fail()
        }
    }

    /// One optional ';', then nothing but whitespace.
    fn end(&mut self) -> Result<(), usize> {
        self.eat(&Tok::Semi);
        self.expect(&Tok::End)
    }

    fn select(&mut self) -> Result<Ast<'a>, usize> {
        let columns = self.columns()?;
        self.keyword("FROM")?;
        let table = self.name()?;
        let filter = self.filter()?;
        let limit = if self.eat_keyword("LIMIT") {
            Some(self.uint()?)
        } else {
            None
        };
        Ok(Ast::Select {
            columns,
            table,
            filter,
            limit,
        })
    }

    fn insert(&mut self) -> Result<Ast<'a>, usize> {
        self.keyword("INTO")?;
        let table = self.name()?;
        self.keyword("VALUES")?;
        self.expect(&Tok::LParen)?;
        let name = self.lit()?;
        self.expect(&Tok::Comma)?;
        let age = self.lit()?;
        self.expect(&Tok::Comma)?;
        let score = self.lit()?;
        self.expect(&Tok::RParen)?;
        Ok(Ast::Insert {
            table,
            values: [name, age, score],
        })
    }

    fn delete(&mut self) -> Result<Ast<'a>, usize> {
        self.keyword("FROM")?;
        let table = self.name()?;
        let filter = self.filter()?;
        Ok(Ast::Delete { table, filter })
    }

    /// `'*'` (as `None`) or up to [`MAX_SELECT_COLUMNS`] names.
    fn columns(&mut self) -> Result<Option<Vec<Name<'a>>>, usize> {
        if self.eat(&Tok::Star) {
            return Ok(None);
        }
        let mut columns = vec![self.name()?];
        while self.eat(&Tok::Comma) {
            if columns.len() == MAX_SELECT_COLUMNS {
                return self.fail();
            }
            columns.push(self.name()?);
        }
        Ok(Some(columns))
    }

    /// An identifier that is not a reserved word.
    fn name(&mut self) -> Result<Name<'a>, usize> {
        match self.peek().tok {
            Tok::Word(word) if !is_keyword(word) => {
                self.bump();
                Ok(word)
            }
            _ => self.fail(),
        }
    }

    fn filter(&mut self) -> Result<Option<Cond<'a>>, usize> {
        if !self.eat_keyword("WHERE") {
            return Ok(None);
        }
        let column = self.name()?;
        let Tok::Op(op) = self.peek().tok else {
            return self.fail();
        };
        self.bump();
        let value = self.lit()?;
        Ok(Some(Cond { column, op, value }))
    }

    /// Digits only: no '-', not even "-0".
    fn uint(&mut self) -> Result<u64, usize> {
        match self.peek().tok {
            Tok::Int {
                value,
                signed: false,
            } => {
                self.bump();
                Ok(value.unsigned_abs())
            }
            _ => self.fail(),
        }
    }

    fn lit(&mut self) -> Result<Lit, usize> {
        if self.peek().tok == Tok::Param {
            return self.param();
        }
        let lit = match &self.peek().tok {
            Tok::Text(text) => Lit::Text(text.clone()),
            Tok::Int { value, .. } => Lit::Int(*value),
            Tok::Decimal(value) => Lit::Decimal(*value),
            _ => return self.fail(),
        };
        self.bump();
        Ok(lit)
    }

    /// A '?': only in prepared statements, at most [`MAX_PARAMS`].
    fn param(&mut self) -> Result<Lit, usize> {
        if !self.allow_params || self.params.len() == MAX_PARAMS {
            return self.fail();
        }
        let offset = self.bump().offset;
        self.params.push(offset);
        Ok(Lit::Param(self.params.len() - 1))
    }
}

fn is_keyword(word: &[u8]) -> bool {
    KEYWORDS
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_tree() {
        let parsed = parse_syntax(
            b"select name, age from people where age >= 30 limit 2;",
            false,
        );
        assert_eq!(
            parsed.unwrap().ast,
            Ast::Select {
                columns: Some(vec![b"name".as_slice(), b"age"]),
                table: b"people",
                filter: Some(Cond {
                    column: b"age",
                    op: Op::Ge,
                    value: Lit::Int(30)
                }),
                limit: Some(2),
            }
        );
    }

    #[test]
    fn params_record_offsets() {
        let parsed = parse_syntax(b"INSERT INTO people VALUES (?, 1, ?)", true).unwrap();
        assert_eq!(parsed.params, vec![27, 33]);
    }

    #[test]
    fn keywords_are_reserved() {
        assert_eq!(parse_syntax(b"SELECT from FROM people", false), Err(7));
        assert_eq!(parse_syntax(b"SELECT * FROM Values", false), Err(14));
    }

    #[test]
    fn limit_rejects_sign_and_decimal() {
        assert_eq!(
            parse_syntax(b"SELECT * FROM people LIMIT -0", false),
            Err(27)
        );
        assert_eq!(
            parse_syntax(b"SELECT * FROM people LIMIT 1.0", false),
            Err(27)
        );
    }
}
