//! The fast path of the loader for large, plain CSV files: the text is split
//! at line boundaries into one chunk per core, each chunk parsed into its own
//! columns, and the chunks appended in order. Cells go through the same
//! [`Column::push`] as the sequential parser, so both give the same table.
//!
//! It declines (returns `None`) files with quotes or lone carriage returns,
//! which the sequential csv-crate parser handles.

use super::DataError;
use super::table::{Column, Table, header_names, trim};
use std::io::Read as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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

/// Whether the fast path cannot read this text: quotes need a real CSV
/// state machine, and lone carriage returns are line ends it does not split on.
fn declines(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.contains(&b'"')
        || (bytes.contains(&b'\r') && text.matches('\r').count() != text.matches("\r\n").count())
}

/// The header (first line with a non-empty field): names, its physical line,
/// and the byte offset just after it; `None` when `text` has no such line.
fn header(
    text: &str,
    delim: char,
    path: &str,
) -> Result<Option<(Vec<String>, usize, usize)>, DataError> {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        offset += line.len();
        if !line.ends_with('\n') {
            // Without a complete first line the caller cannot know where the header ends.
            return Ok(None);
        }
        let line = line.trim_end_matches(['\n', '\r']);
        if line.split(delim).any(|f| !f.trim().is_empty()) {
            let record =
                csv::StringRecord::from(line.split(delim).map(str::trim).collect::<Vec<_>>());
            return Ok(Some((header_names(&record, path)?, i + 1, offset)));
        }
    }
    Ok(None)
}

/// A parsing thread's buffers (column values, line numbers), kept from one
/// block to the next so that each block does not map fresh memory.
type Buffers = (Vec<Vec<f64>>, Vec<usize>);

/// The rows read so far, and the physical line the next piece starts on.
struct Body {
    columns: Vec<Column>,
    lines: Vec<usize>,
    next_line: usize,
    spare: Vec<Buffers>,
}

impl Body {
    /// Room for about `rows` rows, so that appending never moves the columns.
    fn new(columns: usize, first_line: usize, rows: usize) -> Self {
        Self {
            columns: (0..columns)
                .map(|_| Column {
                    values: Vec::with_capacity(rows),
                    ..Column::default()
                })
                .collect(),
            lines: Vec::with_capacity(rows),
            next_line: first_line,
            spare: Vec::new(),
        }
    }

    /// Parses `piece` (whole lines) on every core and appends its rows.
    /// `false` when a part needs the in-memory path: a NUL byte, invalid
    /// UTF-8, quotes or lone carriage returns (that path then reports or
    /// handles them exactly).
    fn append(&mut self, piece: &[u8], delim: char, path: &str) -> Result<bool, DataError> {
        let expected = self.columns.len();
        let decimal_comma = delim == ';';
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(16);
        let chunks = split_at_lines(piece, threads);
        let mut spare = std::mem::take(&mut self.spare);
        let results: Vec<Option<Result<Chunk, Ragged>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .iter()
                .enumerate()
                .map(|(k, chunk)| {
                    let buffers = spare.pop().unwrap_or_default();
                    std::thread::Builder::new()
                        .name(format!("steplab-load-{k}"))
                        .spawn_scoped(scope, move || {
                            parse_chunk(chunk, delim, expected, decimal_comma, buffers)
                        })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.ok().and_then(|h| h.join().ok()).flatten())
                .collect()
        });
        for result in results {
            let Some(result) = result else {
                return Ok(false);
            };
            let first_line = self.next_line;
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
                    self.lines
                        .extend(chunk.lines.iter().map(|l| first_line + l));
                    let mut values = Vec::with_capacity(expected);
                    for (mine, mut theirs) in self.columns.iter_mut().zip(chunk.columns) {
                        for r in theirs
                            .first_texts
                            .iter_mut()
                            .chain(theirs.first_missing.iter_mut())
                        {
                            r.line += first_line;
                        }
                        values.push(mine.append(theirs));
                    }
                    self.next_line += chunk.newlines;
                    self.spare.push((values, chunk.lines));
                }
            }
        }
        Ok(true)
    }

    fn into_table(
        self,
        names: Vec<String>,
        delimiter: u8,
        latin1: bool,
        path: &str,
    ) -> Result<Table, DataError> {
        if self.lines.is_empty() {
            return Err(DataError::NoRows { path: path.into() });
        }
        Ok(Table {
            path: path.into(),
            names,
            columns: self.columns,
            lines: self.lines,
            delimiter,
            decimal_comma: delimiter == b';',
            latin1,
        })
    }
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
    let delim = char::from(delimiter);
    if declines(text) {
        return Ok(None);
    }
    let Some((names, header_line, offset)) = header(text, delim, path)? else {
        return Ok(None);
    };
    let mut body = Body::new(names.len(), header_line + 1, 0);
    if !body.append(&text.as_bytes()[offset..], delim, path)? {
        return Ok(None);
    }
    body.into_table(names, delimiter, latin1, path).map(Some)
}

/// How far a load has come, shared with the thread that shows it; setting
/// `cancel` stops the load at the next block.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes read so far.
    pub done: AtomicU64,
    /// The file's size in bytes.
    pub total: AtomicU64,
    /// Set to stop loading.
    pub cancel: AtomicBool,
}

impl Progress {
    /// The fraction read, in [0, 1].
    #[must_use]
    #[allow(clippy::cast_possible_truncation)] // A fraction in [0, 1] fits an f32.
    pub fn fraction(&self) -> f32 {
        let total = self.total.load(Ordering::Relaxed).max(1);
        (self.done.load(Ordering::Relaxed) as f64 / total as f64).min(1.0) as f32
    }
}

/// Bytes read per block when streaming: memory stays at one block plus the columns.
const BLOCK_BYTES: usize = 32 << 20;

/// Reads a large plain CSV block by block, parsing each block on every core,
/// so the whole file is never in memory at once. `None` means the file needs
/// the in-memory path (small, quoted, not UTF-8, ...).
///
/// # Errors
/// Reading fails, the load is cancelled, or the same errors as the sequential parser.
pub fn read_streaming(
    path: &Path,
    shown: &str,
    progress: &Progress,
) -> Result<Option<Table>, DataError> {
    let io = |e: std::io::Error| DataError::Io {
        reason: e.to_string(),
        path: shown.into(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    progress.total.store(size, Ordering::Relaxed);
    if usize::try_from(size).is_ok_and(|s| s < MIN_BYTES) {
        return Ok(None);
    }
    // One thread reads the next block while the cores parse this one; parsed
    // blocks go back to it to be filled again.
    let (blocks, received) = std::sync::mpsc::sync_channel(1);
    let (give_back, returned) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("steplab-read".into())
            .spawn_scoped(scope, move || read_blocks(file, &blocks, &returned));
        if reader.is_err() {
            return Ok(None);
        }
        let mut state: Option<(Vec<String>, u8, Body)> = None;
        let mut offset = 0usize;
        for block in received {
            if progress.cancel.load(Ordering::Relaxed) {
                return Err(DataError::Cancelled { path: shown.into() });
            }
            let block = block.map_err(io)?;
            let mut body_bytes: &[u8] = &block;
            if state.is_none() {
                // The header, from the start of the file: checked and parsed here,
                // the rest of each block by the parsing threads.
                let mut head = &block[..block.len().min(1 << 16)];
                if head.len() < block.len() {
                    let Some(cut) = head.iter().rposition(|&b| b == b'\n') else {
                        return Ok(None);
                    };
                    head = &head[..=cut];
                }
                if let Some(nul) = head.iter().position(|&b| b == 0) {
                    return Err(DataError::Binary {
                        offset: nul,
                        path: shown.into(),
                    });
                }
                let Ok(text) = std::str::from_utf8(head) else {
                    return Ok(None);
                };
                let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
                let text = &text[bom..];
                // Many control bytes mean binary content: the in-memory path says so.
                if super::table::mostly_control(text.as_bytes()) || declines(text) {
                    return Ok(None);
                }
                let delimiter = super::table::sniff_delimiter(text);
                let Some((names, header_line, after)) = header(text, char::from(delimiter), shown)?
                else {
                    return Ok(None);
                };
                body_bytes = &block[bom + after..];
                // Rows in the file, from the length of the first lines (a little over).
                let sample = &body_bytes[..body_bytes.len().min(1 << 16)];
                let lines = memchr::memchr_iter(b'\n', sample).count().max(1);
                let rows = usize::try_from(size).unwrap_or(0) / sample.len().div_ceil(lines).max(1);
                let body = Body::new(names.len(), header_line + 1, rows + rows / 16 + 16);
                state = Some((names, delimiter, body));
            }
            let Some((_, delimiter, body)) = &mut state else {
                return Ok(None);
            };
            if !body.append(body_bytes, char::from(*delimiter), shown)? {
                return Ok(None);
            }
            offset += block.len();
            progress.done.store(offset as u64, Ordering::Relaxed);
            let _ = give_back.send(block);
        }
        let Some((names, delimiter, body)) = state else {
            return Ok(None);
        };
        body.into_table(names, delimiter, false, shown).map(Some)
    })
}

/// Sends `file` in blocks of whole lines (the last block takes what is left)
/// until the end or until the receiver hangs up, refilling the blocks that
/// come back through `returned`.
fn read_blocks(
    mut file: std::fs::File,
    blocks: &std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>,
    returned: &std::sync::mpsc::Receiver<Vec<u8>>,
) {
    let mut tail = Vec::new();
    loop {
        let mut block = returned.try_recv().unwrap_or_default();
        block.clear();
        block.reserve(BLOCK_BYTES + tail.len());
        block.append(&mut tail);
        let want = BLOCK_BYTES as u64;
        let read = match (&mut file).take(want).read_to_end(&mut block) {
            Ok(read) => read,
            Err(e) => {
                let _ = blocks.send(Err(e));
                return;
            }
        };
        let eof = (read as u64) < want;
        if !eof {
            let cut = block.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            tail = block.split_off(cut);
        }
        if blocks.send(Ok(block)).is_err() || eof {
            return;
        }
    }
}

/// Splits `body` into about `parts` pieces, each ending just after a newline.
fn split_at_lines(body: &[u8], parts: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(parts);
    let mut rest = body;
    for k in (1..=parts).rev() {
        if k == 1 || rest.is_empty() {
            out.push(rest);
            break;
        }
        let target = rest.len() / k;
        let cut = rest[target..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| target + p + 1);
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out
}

/// Parses the line at `start` when it is exactly `row.len()` plain decimals
/// (no spaces, quotes or exponents) separated by `delim`: fills `row` and
/// returns where the next line starts and whether this one ended in a newline.
fn plain_row(bytes: &[u8], start: usize, delim: u8, row: &mut [f64]) -> Option<(usize, bool)> {
    let last = row.len().checked_sub(1)?;
    let mut at = start;
    for (k, value) in row.iter_mut().enumerate() {
        let (v, used) = super::table::decimal_prefix(&bytes[at..])?;
        *value = v;
        at += used;
        if k < last {
            (bytes.get(at) == Some(&delim)).then_some(())?;
            at += 1;
        }
    }
    match bytes.get(at) {
        None => Some((at, false)),
        Some(b'\n') => Some((at + 1, true)),
        Some(b'\r') if bytes.get(at + 1) == Some(&b'\n') => Some((at + 2, true)),
        Some(_) => None,
    }
}

/// The text of `rest` (the chunk from its first line that is not plain
/// decimals on), or `None` when the fast path declines it: a NUL byte,
/// invalid UTF-8, quotes or lone carriage returns. Lines of plain decimals
/// hold none of these, so checking from there on checks the whole chunk.
fn checked_text(rest: &[u8]) -> Option<&str> {
    // One scan for the bytes the fast path may decline.
    let unusual = memchr::memchr3(0, b'"', b'\r', rest).is_some();
    if unusual && rest.contains(&0) {
        return None;
    }
    std::str::from_utf8(rest)
        .ok()
        .filter(|t| !(unusual && declines(t)))
}

/// Parses one chunk of whole lines; `None` when the fast path declines it
/// (see [`checked_text`]).
fn parse_chunk(
    bytes: &[u8],
    delim: char,
    expected: usize,
    decimal_comma: bool,
    (values, mut lines): Buffers,
) -> Option<Result<Chunk, Ragged>> {
    // Rows are about as long as the first one.
    let first_len = memchr::memchr(b'\n', bytes)
        .map_or(bytes.len(), |p| p + 1)
        .max(1);
    let chunk_len = bytes.len();
    let estimate = chunk_len / first_len + 1;
    let mut columns: Vec<Column> = values
        .into_iter()
        .chain(std::iter::repeat_with(Vec::new))
        .take(expected)
        .map(|mut values| {
            values.clear();
            values.reserve(estimate);
            Column {
                values,
                ..Column::default()
            }
        })
        .collect();
    lines.clear();
    lines.reserve(estimate);
    let mut newlines = 0;
    let mut fields: Vec<&str> = Vec::with_capacity(expected + 1);
    let mut row = vec![0.0; expected];
    let delim = u8::try_from(delim).unwrap_or(b',');
    // The text from the first line that is not plain decimals on (`base` is
    // where it starts in `bytes`), checked once, when that line comes.
    let mut checked: Option<(usize, &str)> = None;
    // While no column holds text, lines of plain decimals are parsed in
    // place (one pass over their bytes); any other line takes the general
    // path below, which gives the same cells for plain lines.
    let mut plain = true;
    let mut start = 0;
    let mut line_index = 0;
    while start < bytes.len() {
        let i = line_index;
        line_index += 1;
        if plain && let Some((next, complete)) = plain_row(bytes, start, delim, &mut row) {
            for (column, &v) in columns.iter_mut().zip(&row) {
                column.push_number(v);
            }
            lines.push(i);
            newlines += usize::from(complete);
            start = next;
            continue;
        }
        let (base, text) = match checked {
            Some(c) => c,
            None => *checked.insert((start, checked_text(&bytes[start..])?)),
        };
        // One vectorized scan for delimiters and the newline splits the
        // line; both are ASCII, so every slice boundary is a char boundary.
        fields.clear();
        let mut field_start = start;
        let mut end = bytes.len();
        let mut complete = false;
        for at in memchr::memchr2_iter(delim, b'\n', &bytes[start..]).map(|at| start + at) {
            if bytes[at] == b'\n' {
                end = at;
                complete = true;
                break;
            }
            fields.push(trim(&text[field_start - base..at - base]));
            field_start = at + 1;
        }
        let last = &text[field_start - base..end - base];
        fields.push(trim(last.strip_suffix('\r').unwrap_or(last)));
        if complete {
            newlines += 1;
        }
        start = end + 1;
        let meaningful = fields
            .iter()
            .rposition(|f| !f.is_empty())
            .map_or(0, |p| p + 1);
        if meaningful == 0 {
            continue;
        }
        if fields.len() < expected || meaningful > expected {
            return Some(Err(Ragged {
                line: i,
                found: if fields.len() < expected {
                    fields.len()
                } else {
                    meaningful
                },
            }));
        }
        for (column, field) in columns.iter_mut().zip(&fields) {
            column.push(field, i, decimal_comma);
        }
        plain = plain && columns.iter().all(|c| c.texts.is_none());
        lines.push(i);
    }
    Some(Ok(Chunk {
        columns,
        lines,
        newlines,
    }))
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
    fn plain_lines_parsed_in_place_agree_with_the_sequential_parser() {
        // Plain decimals (taken in place) among cells the general path must
        // read: exponents, spaces, too many digits, markers, and a text cell
        // that turns the in-place path off for the rest of its chunk.
        let cells = [
            "1.5",
            "-0",
            "+3",
            ".5",
            "5.",
            "007.50",
            "1e5",
            " 2",
            "-",
            "",
            "nan",
            "4",
            "12345678901234567890.5",
            "9007199254740993",
            "9007199254740992",
        ];
        for delim in [',', ';'] {
            let mut text = format!("a{delim}b{delim}c\n");
            for i in 0..6000 {
                let a = cells[i % cells.len()];
                let c = if i == 4000 {
                    "text".into()
                } else {
                    format!("-{i}")
                };
                let end = if i % 4 == 0 { "\r\n" } else { "\n" };
                let _ = write!(text, "{a}{delim}{i}.{}{delim}{c}{end}", i % 7);
                if i % 1000 == 999 {
                    text.push('\n');
                }
            }
            let _ = write!(text, "7{delim}8{delim}9");
            let fast = parse(&text, delim as u8, false, "f").unwrap().unwrap();
            let slow = parse_sequential(&text, delim as u8, false, "f").unwrap();
            same(&fast, &slow);
            assert_eq!(fast.lines.len(), 6001);
        }
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
    fn streamed_files_fall_back_for_nul_bytes_quotes_and_keep_the_bom_out() {
        let dir = std::env::temp_dir().join(format!("steplab-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::from("\u{feff}a,b\n");
        while text.len() < 2 * MIN_BYTES {
            let i = text.len();
            let _ = writeln!(text, "{i},{}", i % 7);
        }
        let path = dir.join("plain.csv");
        std::fs::write(&path, &text).unwrap();
        let streamed = read_streaming(&path, "p", &Progress::default())
            .unwrap()
            .unwrap();
        let slow = parse_sequential(text.trim_start_matches('\u{feff}'), b',', false, "p").unwrap();
        same(&streamed, &slow);
        assert_eq!(streamed.names, ["a", "b"]);
        // A quoted cell far from the header: the streaming path declines the file.
        let quoted = format!("{text}\"1\",2\n");
        std::fs::write(&path, &quoted).unwrap();
        assert!(
            read_streaming(&path, "p", &Progress::default())
                .unwrap()
                .is_none()
        );
        // A lone carriage return, or a Windows-1252 byte, after megabytes of
        // plain lines (which are not checked): declined as well.
        for tail in [&b"1,2\r3,4\n"[..], &b"caf\xe9,2\n"[..]] {
            let mut bytes = text.clone().into_bytes();
            bytes.extend_from_slice(tail);
            std::fs::write(&path, &bytes).unwrap();
            assert!(
                read_streaming(&path, "p", &Progress::default())
                    .unwrap()
                    .is_none()
            );
        }
        // A NUL byte far from the header: the whole load reports where it is.
        let mut bytes = text.clone().into_bytes();
        let at = bytes.len() - 10;
        bytes[at] = 0;
        std::fs::write(&path, &bytes).unwrap();
        let err = crate::data::table::read_table(&path).unwrap_err();
        assert!(
            matches!(err, DataError::Binary { offset, .. } if offset == at),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn quoted_files_are_declined() {
        assert!(parse("a,b\n\"1\",2\n", b',', false, "f").unwrap().is_none());
        assert!(parse("a,b\r1,2\r", b',', false, "f").unwrap().is_none());
    }
}
