//! Literals typed for their column: TEXT takes text only, INT integers
//! only, DOUBLE both. Shared by prepare (the literals written in the query)
//! and execute (the values bound to '?').

use super::error;
use super::parser::Lit;
use super::table::{Column, Value};
use crate::api::{Error, Param};

/// The literal's value, typed for `column`: TEXT takes text only, INT
/// integers only, DOUBLE integers (converted as C's `(double)`) or decimals.
pub(super) fn typed(lit: &Lit, column: Column, params: &[&Param]) -> Result<Value, Error> {
    let value = untyped(lit, params);
    match column {
        Column::Name => text(value, column).map(Value::Text),
        Column::Age => int(value, column).map(Value::Int),
        Column::Score => double(value, column).map(Value::Double),
    }
}

/// Whether a literal written in the query fits `column`, before any value
/// is bound: `lc_stmt_prepare` refuses a wrong literal at once, while a '?'
/// fits any column until execute.
pub(super) fn check_written(lit: &Lit, column: Column) -> Result<(), Error> {
    if matches!(lit, Lit::Param(_)) {
        return Ok(());
    }
    typed(lit, column, &[]).map(drop)
}

/// A literal's value as written (or as bound, for a '?').
pub(super) fn untyped(lit: &Lit, params: &[&Param]) -> Value {
    match lit {
        Lit::Text(text) => Value::Text(text.clone()),
        Lit::Int(int) => Value::Int(*int),
        Lit::Decimal(double) => Value::Double(*double),
        Lit::Param(index) => match params[*index] {
            Param::Int(int) => Value::Int(*int),
            Param::Double(double) => Value::Double(*double),
            Param::Text(text) => Value::Text(text.clone()),
        },
    }
}

pub(super) fn text(value: Value, column: Column) -> Result<Vec<u8>, Error> {
    match value {
        Value::Text(text) => Ok(text),
        _ => Err(error::wrong_value(column.name())),
    }
}

pub(super) fn int(value: Value, column: Column) -> Result<i64, Error> {
    match value {
        Value::Int(int) => Ok(int),
        _ => Err(error::wrong_value(column.name())),
    }
}

pub(super) fn double(value: Value, column: Column) -> Result<f64, Error> {
    match value {
        Value::Int(int) => Ok(int as f64),
        Value::Double(double) => Ok(double),
        Value::Text(_) => Err(error::wrong_value(column.name())),
    }
}
