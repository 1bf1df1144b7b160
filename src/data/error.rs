//! The loader's errors: one sentence each, naming line, column and text, path last.

/// Everything that can go wrong between a file on disk and a valid [`super::Dataset`].
///
/// Positions are 1-based physical lines of the file (the header is line 1);
/// columns are named; the offending text is quoted; the path comes last.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    /// The file could not be read at all.
    #[error("cannot read the file ({reason}): {path}")]
    Io {
        /// The operating system's reason.
        reason: String,
        /// The file.
        path: String,
    },
    /// The user cancelled the load.
    #[error("loading was cancelled: {path}")]
    Cancelled {
        /// The file.
        path: String,
    },
    /// The file's values need more memory than the system will give.
    #[error(
        "the file's values need about {megabytes} MB of memory, more than the system will give: {path}"
    )]
    TooLarge {
        /// Memory the values need, in megabytes.
        megabytes: usize,
        /// The file.
        path: String,
    },
    /// The file is empty or holds only blank lines.
    #[error("the file is empty: {path}")]
    Empty {
        /// The file.
        path: String,
    },
    /// The file has a header but no data rows.
    #[error("the file has a header (line 1) but no data rows: {path}")]
    NoRows {
        /// The file.
        path: String,
    },
    /// NUL bytes or other binary content.
    #[error("this is not a text CSV file (binary content near byte {offset}): {path}")]
    Binary {
        /// Byte offset of the first binary byte.
        offset: usize,
        /// The file.
        path: String,
    },
    /// The CSV structure itself is broken (e.g. an unterminated quote).
    #[error("line {line} cannot be parsed as CSV ({reason}): {path}")]
    Malformed {
        /// Physical line.
        line: usize,
        /// The parser's reason.
        reason: String,
        /// The file.
        path: String,
    },
    /// Two header cells carry the same name.
    #[error(
        "column name '{name}' appears twice in the header (line 1, columns {first} and {second}): {path}"
    )]
    DuplicateColumn {
        /// The repeated name.
        name: String,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the second occurrence.
        second: usize,
        /// The file.
        path: String,
    },
    /// A row with a different number of fields than the header.
    #[error("line {line} has {} ('{}') but the header has {}{hint}: {path}", plural(*.found, "field"), one_line(.text), plural(*.expected, "column"))]
    Ragged {
        /// Physical line.
        line: usize,
        /// That line's text.
        text: String,
        /// Fields in that row.
        found: usize,
        /// Columns in the header.
        expected: usize,
        /// Extra context: a quote that is never closed.
        hint: String,
        /// The file.
        path: String,
    },
    /// A text cell in a column that must be numeric.
    #[error("line {line}, column '{column}': '{}' is not a number{hint}: {path}", one_line(.text))]
    NotNumeric {
        /// Physical line.
        line: usize,
        /// Column name.
        column: String,
        /// The cell's text.
        text: String,
        /// Extra context, e.g. that the column is a text column.
        hint: String,
        /// The file.
        path: String,
    },
    /// A column name the user asked for does not exist.
    #[error(
        "there is no column named '{}' (columns: {}): {path}",
        escaped(.name, usize::MAX),
        escaped(.available, usize::MAX)
    )]
    UnknownColumn {
        /// The requested name.
        name: String,
        /// The header's names, comma separated.
        available: String,
        /// The file.
        path: String,
    },
    /// Missing or non-finite cells under `--missing error`.
    #[error(
        "{summary}; drop those rows or fill in the column means to continue (--missing drop or mean; in the window, drop rows or fill mean): {path}"
    )]
    Missing {
        /// Per-column counts and first positions.
        summary: String,
        /// The file.
        path: String,
    },
    /// A column with zero variance under standardization.
    #[error(
        "column '{column}' is constant (every value is {}), so it cannot be standardized: {path}",
        super::Label::Number(*.value)
    )]
    Constant {
        /// Column name.
        column: String,
        /// Its only value.
        value: f64,
        /// The file.
        path: String,
    },
    /// The selection leaves nothing to learn from.
    #[error("{reason}: {path}")]
    Selection {
        /// What is wrong with the chosen columns or rows.
        reason: String,
        /// The file.
        path: String,
    },
}

/// "1 field", "3 fields": `n` and `noun`, plural when n ≠ 1.
fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// A cell's text as it can be quoted in one line: line breaks and tabs
/// written as \n, \r and \t, and cut after 60 characters.
pub(crate) fn one_line(text: &str) -> String {
    escaped(text, 60)
}

/// `text` with line breaks and tabs written as \n, \r and \t, cut after
/// `limit` characters.
fn escaped(text: &str, limit: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == limit {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_cells_stay_on_one_line_and_short() {
        let e = DataError::NotNumeric {
            line: 3,
            column: "x".into(),
            text: "two\r\nlines\tand a tab".into(),
            hint: String::new(),
            path: "f.csv".into(),
        };
        assert_eq!(
            e.to_string(),
            "line 3, column 'x': 'two\\r\\nlines\\tand a tab' is not a number: f.csv"
        );
        assert_eq!(one_line(&"é".repeat(70)), format!("{}…", "é".repeat(60)));
        let e = DataError::UnknownColumn {
            name: "a\nb".into(),
            available: "x, two\nlines".into(),
            path: "f.csv".into(),
        };
        assert_eq!(
            e.to_string(),
            "there is no column named 'a\\nb' (columns: x, two\\nlines): f.csv"
        );
    }
}
