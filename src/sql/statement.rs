//! A statement checked up to what `lc_stmt_prepare` can know: length,
//! emptiness, syntax, the table and the columns. Literal types wait for
//! execution, since a '?' has no type until it is bound.

use super::error;
use super::format::{format_double, format_int, quote_text};
use super::lexer::Op;
use super::lexer::is_blank;
use super::literal::check_written;
use super::parser::{Ast, Cond, Lit, parse_syntax};
use super::table::{Column, TABLE_NAME};
use crate::api::{Error, Field, MAX_QUERY_LEN, Param};

/// `column op lit`, with the column resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    pub(crate) column: Column,
    pub(crate) op: Op,
    pub(crate) value: Lit,
}

/// What the statement does, with names resolved against `people`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Select {
        columns: Vec<Column>,
        filter: Option<Filter>,
        limit: Option<u64>,
    },
    /// Values in column order: name, age, score.
    Insert {
        values: [Lit; 3],
    },
    Delete {
        filter: Option<Filter>,
    },
}

/// A parsed and resolved statement, independent of any connection, so one
/// can be prepared once and run many times (as `LC_STMT`).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sql: Vec<u8>,
    kind: Kind,
    /// Byte offset of each '?' in `sql`, in order.
    params: Vec<usize>,
}

/// Checks `sql` in the spec's error order (length, empty, syntax, table,
/// columns left to right). With `allow_params`, '?' may stand for a literal.
pub fn parse(sql: &[u8], allow_params: bool) -> Result<Statement, Error> {
    if sql.len() > MAX_QUERY_LEN {
        return Err(error::too_long());
    }
    if is_blank(sql) {
        return Err(error::empty_query());
    }
    let parsed = parse_syntax(sql, allow_params).map_err(error::parse)?;
    let kind = resolve(parsed.ast)?;
    check_written_literals(&kind)?;
    Ok(Statement {
        sql: sql.to_vec(),
        kind,
        params: parsed.params,
    })
}

/// The types of the literals written in the query, left to right, as the
/// C library checks them at prepare (a '?' is checked at execute).
fn check_written_literals(kind: &Kind) -> Result<(), Error> {
    match kind {
        Kind::Select { filter, .. } | Kind::Delete { filter } => filter
            .as_ref()
            .map_or(Ok(()), |f| check_written(&f.value, f.column)),
        Kind::Insert { values } => values
            .iter()
            .zip(Column::ALL)
            .try_for_each(|(lit, column)| check_written(lit, column)),
    }
}

/// The table first, then every column name left to right.
fn resolve(ast: Ast<'_>) -> Result<Kind, Error> {
    match ast {
        Ast::Select {
            columns,
            table,
            filter,
            limit,
        } => {
            check_table(table)?;
            let columns = match columns {
                None => Column::ALL.to_vec(),
                Some(names) => names.into_iter().map(column).collect::<Result<_, _>>()?,
            };
            let filter = filter.map(resolve_filter).transpose()?;
            Ok(Kind::Select {
                columns,
                filter,
                limit,
            })
        }
        Ast::Insert { table, values } => {
            check_table(table)?;
            Ok(Kind::Insert { values })
        }
        Ast::Delete { table, filter } => {
            check_table(table)?;
            let filter = filter.map(resolve_filter).transpose()?;
            Ok(Kind::Delete { filter })
        }
    }
}

fn check_table(name: &[u8]) -> Result<(), Error> {
    if name == TABLE_NAME.as_bytes() {
        Ok(())
    } else {
        Err(error::no_such_table(name))
    }
}

fn column(name: &[u8]) -> Result<Column, Error> {
    Column::by_name(name).ok_or_else(|| error::bad_field(name))
}

fn resolve_filter(cond: Cond<'_>) -> Result<Filter, Error> {
    Ok(Filter {
        column: column(cond.column)?,
        op: cond.op,
        value: cond.value,
    })
}

impl Statement {
    /// How many '?' the statement holds (`lc_stmt_param_count`).
    pub fn param_count(&self) -> usize {
        self.params.len()
    }

    /// Binds `params` in order, as the C backend does with
    /// `lc_stmt_bind_*`: one past the statement's count fails with 2034.
    pub fn bind_all(&self, params: &[Param]) -> Result<Vec<Option<Param>>, Error> {
        if params.len() > self.param_count() {
            return Err(error::invalid_parameter_no());
        }
        Ok(params.iter().cloned().map(Some).collect())
    }

    /// The query text as given.
    pub fn sql(&self) -> &[u8] {
        &self.sql
    }

    /// The result columns of a SELECT (duplicates repeat); empty otherwise,
    /// as `lc_stmt_result_metadata` has no result for INSERT or DELETE.
    pub fn fields(&self) -> Vec<Field> {
        let Kind::Select { columns, .. } = &self.kind else {
            return Vec::new();
        };
        columns.iter().map(|c| c.field()).collect()
    }

    /// `lc_stmt_expanded_sql`: the query with each bound '?' replaced by its
    /// value; a '?' with no value (`None` or past the end) stays '?'.
    pub fn expanded_sql(&self, params: &[Option<Param>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.sql.len());
        let mut copied = 0;
        for (index, &offset) in self.params.iter().enumerate() {
            out.extend_from_slice(&self.sql[copied..offset]);
            match params.get(index).and_then(Option::as_ref) {
                Some(param) => out.extend(render(param)),
                None => out.push(b'?'),
            }
            copied = offset + 1;
        }
        out.extend_from_slice(&self.sql[copied..]);
        out
    }

    pub(crate) fn kind(&self) -> &Kind {
        &self.kind
    }
}

/// A parameter as a literal: INT `%lld`, DOUBLE `%.2f`, TEXT quoted and escaped.
fn render(param: &Param) -> Vec<u8> {
    match param {
        Param::Int(value) => format_int(*value).into_bytes(),
        Param::Double(value) => format_double(*value).into_bytes(),
        Param::Text(value) => quote_text(value),
    }
}
