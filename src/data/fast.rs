//! The fast path of the loader for large, plain CSV files: the text is split
//! at line boundaries into one chunk per core, each chunk parsed into its own
//! columns, and the chunks appended in order. Cells go through the same
//! [`Column::push`] as the sequential parser, so both give the same table.
//!
//! It declines (returns `None`) files with quotes or lone carriage returns,
//! which the sequential csv-crate parser handles.

use super::DataError;
use super::table::{Column, Table, header_names};

/// Files smaller than this are parsed sequentially (threads would not pay off).
pub const MIN_BYTES: usize = 1 << 20;

/// One chunk's columns and the (chunk-relative, 0-based) line of each row.
struct Chunk {
    columns: Vec<Column>,
    lines: Vec<usize>,
    newlines: usize,
}

/// A ragged row inside a chunk (chunk-relative line).
struct Ragged {
    line: usize,
    found: usize,
}

/// Parses `text` in parallel, or returns `None` when the file needs the
/// sequential parser.
///
/// # Errors
/// The same errors, with the same lines, as the sequential parser.
pub fn parse(
    text: &str,
    delimiter: u8,
    latin1: bool,
    path: &str,
) -> Result<Option<Table>, DataError> {
    let bytes = text.as_bytes();
    if bytes.contains(&b'"')
        || (bytes.contains(&b'\r') && text.matches('\r').count() != text.matches("\r\n").count())
    {
        return Ok(None);
    }
    let delim = char::from(delimiter);
    let decimal_comma = delimiter == b';';

    // The header is the first line with a non-empty field.
    let mut offset = 0;
    let mut header_line = 0;
    let mut header = None;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        offset += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
        if line.split(delim).any(|f| !f.trim().is_empty()) {
            header_line = i + 1;
            let record =
                csv::StringRecord::from(line.split(delim).map(str::trim).collect::<Vec<_>>());
            header = Some(header_names(&record, path)?);
            break;
        }
    }
    let Some(names) = header else {
        return Err(DataError::Empty { path: path.into() });
    };
    let body = &text[offset..];
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(16);
    let chunks = split_at_lines(body, threads);
    let expected = names.len();
    let results: Vec<Option<Result<Chunk, Ragged>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .enumerate()
            .map(|(k, chunk)| {
                std::thread::Builder::new()
                    .name(format!("steplab-load-{k}"))
                    .spawn_scoped(scope, move || {
                        parse_chunk(chunk, delim, expected, decimal_comma)
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.ok().and_then(|h| h.join().ok()))
            .collect()
    });

    let mut columns = vec![Column::default(); expected];
    let mut lines = Vec::new();
    // Physical line of the chunk's first line.
    let mut first_line = header_line + 1;
    for result in results {
        let Some(result) = result else {
            // A thread could not start or panicked: let the sequential parser answer.
            return Ok(None);
        };
        match result {
            Err(r) => {
                return Err(DataError::Ragged {
                    line: first_line + r.line,
                    found: r.found,
                    expected,
                    path: path.into(),
                });
            }
            Ok(chunk) => {
                lines.extend(chunk.lines.iter().map(|l| first_line + l));
                for (mine, mut theirs) in columns.iter_mut().zip(chunk.columns) {
                    for r in theirs
                        .first_texts
                        .iter_mut()
                        .chain(theirs.first_missing.iter_mut())
                    {
                        r.line += first_line;
                    }
                    mine.append(theirs);
                }
                first_line += chunk.newlines;
            }
        }
    }
    if lines.is_empty() {
        return Err(DataError::NoRows { path: path.into() });
    }
    Ok(Some(Table {
        path: path.into(),
        names,
        columns,
        lines,
        delimiter,
        decimal_comma,
        latin1,
    }))
}

/// Splits `body` into about `parts` pieces, each ending just after a newline.
fn split_at_lines(body: &str, parts: usize) -> Vec<&str> {
    let mut out = Vec::with_capacity(parts);
    let mut rest = body;
    for k in (1..=parts).rev() {
        if k == 1 || rest.is_empty() {
            out.push(rest);
            break;
        }
        let target = rest.len() / k;
        let cut = rest.as_bytes()[target..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| target + p + 1);
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out
}

fn parse_chunk(
    chunk: &str,
    delim: char,
    expected: usize,
    decimal_comma: bool,
) -> Result<Chunk, Ragged> {
    let estimate = chunk.len() / (expected.max(1) * 8).max(16);
    let mut columns: Vec<Column> = (0..expected)
        .map(|_| Column {
            values: Vec::with_capacity(estimate),
            ..Column::default()
        })
        .collect();
    let mut lines = Vec::with_capacity(estimate);
    let mut newlines = 0;
    let mut fields: Vec<&str> = Vec::with_capacity(expected + 1);
    for (i, raw) in chunk.split_inclusive('\n').enumerate() {
        if raw.ends_with('\n') {
            newlines += 1;
        }
        let line = raw.trim_end_matches(['\n', '\r']);
        fields.clear();
        fields.extend(line.split(delim).map(str::trim));
        let meaningful = fields
            .iter()
            .rposition(|f| !f.is_empty())
            .map_or(0, |p| p + 1);
        if meaningful == 0 {
            continue;
        }
        if fields.len() < expected || meaningful > expected {
            return Err(Ragged {
                line: i,
                found: if fields.len() < expected {
                    fields.len()
                } else {
                    meaningful
                },
            });
        }
        for (column, field) in columns.iter_mut().zip(&fields) {
            column.push(field, i, decimal_comma);
        }
        lines.push(i);
    }
    Ok(Chunk {
        columns,
        lines,
        newlines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::table::parse_sequential;
    use std::fmt::Write as _;

    fn same(a: &Table, b: &Table) {
        assert_eq!(a.names, b.names);
        let first_diff = a.lines.iter().zip(&b.lines).position(|(x, y)| x != y);
        assert_eq!(
            first_diff,
            None,
            "{:?}",
            first_diff.map(|i| (
                &a.lines[i.saturating_sub(2)..i + 2],
                &b.lines[i.saturating_sub(2)..i + 2]
            ))
        );
        assert_eq!(a.lines.len(), b.lines.len());
        for (x, y) in a.columns.iter().zip(&b.columns) {
            assert_eq!(x.values.len(), y.values.len());
            assert!(
                x.values
                    .iter()
                    .zip(&y.values)
                    .all(|(u, v)| u.to_bits() == v.to_bits() || (u.is_nan() && v.is_nan()))
            );
            assert_eq!(x.texts, y.texts);
            assert_eq!(
                (x.numeric_count, x.text_count, x.missing_count),
                (y.numeric_count, y.text_count, y.missing_count)
            );
            assert_eq!(x.first_texts, y.first_texts);
            assert_eq!(x.first_missing, y.first_missing);
        }
    }

    #[test]
    fn fast_and_sequential_parsers_agree_on_messy_content() {
        let mut text = String::from("\n  a ; b;label;\r\n");
        for i in 0..5000 {
            let a = if i % 97 == 0 {
                "NA".to_string()
            } else {
                format!("{},{}", i, i % 10)
            };
            let label = if i % 3 == 0 {
                "x"
            } else if i % 5 == 0 {
                "12"
            } else {
                ""
            };
            let _ = write!(text, " {a} ;{};{label};\r\n", i * 2);
            if i % 1000 == 0 {
                text.push_str(";;;\r\n\r\n");
            }
        }
        let fast = parse(&text, b';', false, "f").unwrap().unwrap();
        let slow = parse_sequential(&text, b';', false, "f").unwrap();
        same(&fast, &slow);
        assert_eq!(fast.lines[0], 3);
        assert!(fast.columns[2].texts.is_some());
    }

    #[test]
    fn ragged_rows_report_the_same_line() {
        let mut text = String::from("a,b\n");
        for i in 0..3000 {
            let _ = writeln!(text, "{i},{i}");
        }
        text.push_str("1\n");
        let fast = parse(&text, b',', false, "f").err().unwrap();
        let slow = parse_sequential(&text, b',', false, "f").unwrap_err();
        assert_eq!(fast, slow);
        assert_eq!(
            fast.to_string(),
            "line 3002 has 1 fields but the header has 2 columns: f"
        );
    }

    #[test]
    fn quoted_files_are_declined() {
        assert!(parse("a,b\n\"1\",2\n", b',', false, "f").unwrap().is_none());
        assert!(parse("a,b\r1,2\r", b',', false, "f").unwrap().is_none());
    }
}
