//! The one table, `people(name TEXT, age INT, score DOUBLE)`, its schema and
//! its rows. The schema is fixed, so statements resolve names without a
//! connection.

use super::format::{DOUBLE_BUF_SIZE, format_double, format_int};
use crate::api::{Field, FieldType};

/// The only table name (case-sensitive, as every identifier).
pub const TABLE_NAME: &str = "people";

/// A column of `people`, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Name,
    Age,
    Score,
}

impl Column {
    /// All columns in table order: what `SELECT *` returns.
    pub const ALL: [Column; 3] = [Column::Name, Column::Age, Column::Score];

    /// The column called exactly `name`, if any.
    pub fn by_name(name: &[u8]) -> Option<Column> {
        Column::ALL
            .into_iter()
            .find(|c| c.name().as_bytes() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Age => "age",
            Column::Score => "score",
        }
    }

    /// The column as a result field.
    pub fn field(self) -> Field {
        Field {
            name: self.name().to_string(),
            field_type: self.field_type(),
        }
    }

    pub fn field_type(self) -> FieldType {
        match self {
            Column::Name => FieldType::Text,
            Column::Age => FieldType::Int,
            Column::Score => FieldType::Double,
        }
    }
}

/// A typed value, already checked against its column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(Vec<u8>),
    Int(i64),
    Double(f64),
}

/// One row of `people`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: Vec<u8>,
    pub age: i64,
    pub score: f64,
}

impl Row {
    fn new(name: &str, age: i64, score: f64) -> Row {
        Row {
            name: name.as_bytes().to_vec(),
            age,
            score,
        }
    }

    /// The value in text-protocol form: TEXT as stored, INT `%lld`, DOUBLE
    /// `%.2f` as C writes it into its `LC_DOUBLE_BUF_SIZE` buffer, so cut to
    /// its first 31 bytes (1e31 gives 31 digits and no fraction).
    pub fn text(&self, column: Column) -> Vec<u8> {
        match column {
            Column::Name => self.name.clone(),
            Column::Age => format_int(self.age).into_bytes(),
            Column::Score => {
                let mut text = format_double(self.score).into_bytes();
                text.truncate(DOUBLE_BUF_SIZE - 1);
                text
            }
        }
    }

    /// `self.column op value`; `value` must have the column's type (the
    /// engine converts integer literals for DOUBLE before calling).
    pub fn matches(&self, column: Column, op: super::lexer::Op, value: &Value) -> bool {
        match (column, value) {
            (Column::Name, Value::Text(text)) => op.eval(self.name.as_slice(), text.as_slice()),
            (Column::Age, Value::Int(int)) => op.eval(&self.age, int),
            (Column::Score, Value::Double(double)) => op.eval(&self.score, double),
            _ => false,
        }
    }
}

/// The rows of `people`, in insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub rows: Vec<Row>,
}

impl Table {
    /// The five seed rows every new connection starts with (`LC_SEED_ROWS`).
    pub fn seeded() -> Table {
        Table {
            rows: vec![
                Row::new("alice", 34, 81.50),
                Row::new("bob", 27, 64.25),
                Row::new("carol", 45, 92.75),
                Row::new("dave", 19, 55.00),
                Row::new("eve", 38, 73.10),
            ],
        }
    }
}
