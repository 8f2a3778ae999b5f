//! Execution: binds parameters, checks literal types left to right, then
//! runs the statement against the table (`lc_stmt_execute` / the second
//! half of `lc_query`).

use super::error;
use super::lexer::Op;
use super::literal::{double, int, text, typed, untyped};
use super::parser::Lit;
use super::statement::{Filter, Kind, Statement};
use super::table::{Column, Row, Table, Value};
use crate::api::{Error, Outcome, Param};

/// Runs `stmt` on `table`. Checks, in order: more params than '?' (2034),
/// any '?' without a value (2031), then literal types left to right (1366).
pub(crate) fn execute(
    table: &mut Table,
    stmt: &Statement,
    params: &[Option<Param>],
) -> Result<Outcome, Error> {
    let bound = bind(stmt.param_count(), params)?;
    match stmt.kind() {
        Kind::Select {
            columns,
            filter,
            limit,
        } => {
            let predicate = predicate(filter.as_ref(), &bound)?;
            Ok(select(table, columns, predicate.as_ref(), *limit))
        }
        Kind::Insert { values } => {
            let row = new_row(values, &bound)?;
            table.rows.push(row);
            Ok(Outcome {
                affected_rows: 1,
                ..Outcome::default()
            })
        }
        Kind::Delete { filter } => {
            let predicate = predicate(filter.as_ref(), &bound)?;
            Ok(delete(table, predicate.as_ref()))
        }
    }
}

/// Every parameter's value, or the binding error the C API would report.
fn bind(count: usize, params: &[Option<Param>]) -> Result<Vec<&Param>, Error> {
    if params.len() > count {
        return Err(error::invalid_parameter_no());
    }
    let bound: Option<Vec<&Param>> = params.iter().map(Option::as_ref).collect();
    match bound {
        Some(bound) if bound.len() == count => Ok(bound),
        _ => Err(error::params_not_bound()),
    }
}

/// A WHERE condition with its literal typed.
struct Predicate {
    column: Column,
    op: Op,
    value: Value,
}

impl Predicate {
    fn matches(&self, row: &Row) -> bool {
        row.matches(self.column, self.op, &self.value)
    }
}

fn predicate(filter: Option<&Filter>, params: &[&Param]) -> Result<Option<Predicate>, Error> {
    filter
        .map(|f| {
            Ok(Predicate {
                column: f.column,
                op: f.op,
                value: typed(&f.value, f.column, params)?,
            })
        })
        .transpose()
}

/// No WHERE matches every row.
fn keeps(predicate: Option<&Predicate>, row: &Row) -> bool {
    predicate.is_none_or(|p| p.matches(row))
}

/// Matching rows in insertion order, at most `limit`; affected rows is the
/// number of rows returned.
fn select(
    table: &Table,
    columns: &[Column],
    predicate: Option<&Predicate>,
    limit: Option<u64>,
) -> Outcome {
    let limit = limit.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let rows: Vec<Vec<Vec<u8>>> = table
        .rows
        .iter()
        .filter(|row| keeps(predicate, row))
        .take(limit)
        .map(|row| columns.iter().map(|&c| row.text(c)).collect())
        .collect();
    Outcome {
        fields: columns.iter().map(|c| c.field()).collect(),
        affected_rows: rows.len() as u64,
        rows,
    }
}

/// INSERT checks name, age, score in that order.
fn new_row(values: &[Lit; 3], params: &[&Param]) -> Result<Row, Error> {
    let [name, age, score] = values;
    Ok(Row {
        name: text(untyped(name, params), Column::Name)?,
        age: int(untyped(age, params), Column::Age)?,
        score: double(untyped(score, params), Column::Score)?,
    })
}

fn delete(table: &mut Table, predicate: Option<&Predicate>) -> Outcome {
    let before = table.rows.len();
    table.rows.retain(|row| !keeps(predicate, row));
    Outcome {
        affected_rows: (before - table.rows.len()) as u64,
        ..Outcome::default()
    }
}
