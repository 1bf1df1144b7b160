//! The fast path of the loader for large, plain CSV files: the body is split
//! at line boundaries into a few parts per core, each part parsed (by the
//! next core free) into its own stretch of every column of one shared grid,
//! and the parts joined in order. Cells go through the same `Column::push` as the sequential
//! parser, so both give the same table.
//!
//! Quoted cells are read when each closes on its own line with nothing but
//! a delimiter after it; the fast path declines (returns `None`) other
//! quoting and lone carriage returns, which the sequential csv-crate parser
//! handles.

use super::DataError;
use super::table::{Column, Grid, ShortPath, Swar, Table, Texts, header_names, trim, unnamed_hint};
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Files smaller than this are parsed sequentially (threads would not pay off).
pub const MIN_BYTES: usize = 1 << 20;

/// Bytes a parsing thread reads from the file at a time: small enough to
/// stay in its core's cache between the read and the parse, large enough
/// that a read's fixed cost does not count.
const BUFFER_BYTES: usize = 1 << 20;

/// Rows parsed from a part of the file: columns, their values, and the line
/// of each row counted from the part's first line.
struct Rows<'g> {
    columns: Vec<Column>,
    values: Room<'g>,
    lines: Vec<usize>,
    /// The line the next rows start on (the part's first plus its newlines).
    next_line: usize,
}

impl Rows<'_> {
    /// Keeps a row's values and line; `None` when its room outgrew the
    /// memory the system will give.
    #[inline(always)]
    #[allow(clippy::inline_always)]
    fn push(&mut self, row: &[f64], line: usize) -> Option<()> {
        self.values.push_row(row).then_some(())?;
        self.lines.push(line);
        Some(())
    }
}

/// Where a part writes its values: its room in the grid all parts share
/// (so that joining them copies nothing), or, once it outgrows that room,
/// a grid of its own.
enum Room<'g> {
    Shared {
        columns: Vec<&'g mut [f64]>,
        room: usize,
        rows: usize,
    },
    Own(Grid),
}

impl Room<'_> {
    /// Column `c`'s values so far.
    fn column(&self, c: usize) -> &[f64] {
        match self {
            Room::Shared { columns, rows, .. } => &columns[c][..*rows],
            Room::Own(grid) => grid.column(c),
        }
    }

    /// Appends a row (one value per column); false when a grid of its own
    /// needs memory the system will not give.
    #[inline]
    #[must_use]
    fn push_row(&mut self, row: &[f64]) -> bool {
        let (columns, room, rows) = match self {
            Room::Own(grid) => return grid.push_row(row),
            Room::Shared {
                columns,
                room,
                rows,
            } => (columns, *room, rows),
        };
        if *rows < room {
            for (column, &v) in columns.iter_mut().zip(row) {
                column[*rows] = v;
            }
            *rows += 1;
            return true;
        }
        // Outgrown (the rows were shorter than estimated): on in a grid of
        // its own, which the join copies in.
        let Some(mut own) = Grid::try_new(columns.len(), 2 * room + 1) else {
            return false;
        };
        for r in 0..*rows {
            let earlier: Vec<f64> = columns.iter().map(|column| column[r]).collect();
            if !own.push_row(&earlier) {
                return false;
            }
        }
        let pushed = own.push_row(row);
        *self = Room::Own(own);
        pushed
    }
}

/// A ragged row: its line, and the number of fields it has.
struct Ragged {
    line: usize,
    found: usize,
    text: String,
}

/// A part's outcome: its rows, a ragged row, or `None` when the fast path
/// declines the part (a NUL byte, invalid UTF-8, quotes or lone carriage
/// returns, or a part that outgrew its room with no memory left to grow;
/// the in-memory path then reports or handles them exactly).
type Part<'g> = Option<Result<Rows<'g>, Ragged>>;

/// Parses parts of the body into one table, on one thread per core that
/// each take the next part not yet taken (so that a core slowed by the
/// rest of the machine takes fewer): part k, of `lens[k]` bytes, by
/// `parse(k, rows)`, with room for `room(lens[k])` rows. Part 0's lines
/// count from `first_line`, the others' from 0 until they are joined in
/// order. `Ok(None)`: a part was declined.
///
/// # Errors
/// The first part's error, in file order.
fn parse_in_parts(
    lens: &[usize],
    (names, header_fields, first_line): (Vec<String>, usize, usize),
    room: impl Fn(usize) -> usize,
    parse: impl for<'g> Fn(usize, Rows<'g>) -> Result<Part<'g>, DataError> + Sync,
    (delimiter, latin1, path): (u8, bool, &str),
) -> Result<Option<Table>, DataError> {
    let rooms: Vec<usize> = lens.iter().map(|&len| room(len)).collect();
    let total: usize = rooms.iter().sum();
    let Some(mut grid) = Grid::try_new(names.len(), total) else {
        return Err(DataError::TooLarge {
            megabytes: names.len().saturating_mul(total).saturating_mul(8) / 1_000_000,
            path: path.into(),
        });
    };
    // The parts not yet taken, in order, each with its rows.
    let pending = Mutex::new(
        grid.split(&rooms)
            .into_iter()
            .enumerate()
            .map(|(k, columns)| {
                let rows = Rows {
                    columns: vec![Column::default(); names.len()],
                    values: Room::Shared {
                        columns,
                        room: rooms[k],
                        rows: 0,
                    },
                    lines: Vec::with_capacity(rooms[k]),
                    next_line: if k == 0 { first_line } else { 0 },
                };
                (k, rows)
            }),
    );
    // Each thread's parts, by number.
    let parse_next = || {
        let mut done = Vec::new();
        loop {
            let Some((k, rows)) = pending.lock().ok().and_then(|mut p| p.next()) else {
                return done;
            };
            done.push((k, parse(k, rows)));
        }
    };
    let mut results: Vec<Result<Part<'_>, DataError>> = Vec::new();
    results.resize_with(lens.len(), || Ok(None));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads().min(lens.len()))
            .map(|t| {
                std::thread::Builder::new()
                    .name(format!("steplab-load-{t}"))
                    .spawn_scoped(scope, parse_next)
            })
            .collect();
        // A part whose thread cannot start or panics is declined (left
        // `Ok(None)`), unless another thread took it.
        for (k, result) in handles
            .into_iter()
            .filter_map(|h| h.ok()?.join().ok())
            .flatten()
        {
            results[k] = result;
        }
    });
    let mut parts = Vec::with_capacity(results.len());
    for result in results {
        parts.push(result?);
    }
    let Some(joined) = join(parts, (names.len(), header_fields), path)? else {
        return Ok(None);
    };
    Ok(Some(Table {
        path: path.into(),
        names,
        columns: joined.columns,
        values: grid.close_up(&rooms, &joined.placed),
        lines: joined.lines,
        delimiter,
        decimal_comma: delimiter == b';',
        latin1,
    }))
}

/// Parts joined: their columns and lines in file order, and where each
/// part's values are.
struct Joined {
    columns: Vec<Column>,
    lines: Vec<usize>,
    /// Per part, its rows and, if it outgrew its room, its own grid.
    placed: Vec<(usize, Option<Grid>)>,
}

/// Joins the parts in file order: cell positions and lines shifted by the
/// lines before each part, and a column with text in any part keeps every
/// cell's text. `Ok(None)`: a part was declined.
///
/// # Errors
/// The first ragged row, in file order; no rows at all.
fn join(
    parts: Vec<Part<'_>>,
    (expected, header_fields): (usize, usize),
    path: &str,
) -> Result<Option<Joined>, DataError> {
    let with_text: Vec<bool> = (0..expected)
        .map(|c| {
            parts
                .iter()
                .any(|p| matches!(p, Some(Ok(rows)) if rows.columns[c].texts.is_some()))
        })
        .collect();
    let mut columns: Vec<Column> = with_text
        .iter()
        .map(|&text| Column {
            texts: text.then(Texts::default),
            ..Column::default()
        })
        .collect();
    let mut lines = Vec::new();
    let mut placed = Vec::with_capacity(parts.len());
    let mut line = 0;
    for part in parts {
        let rows = match part {
            None => return Ok(None),
            Some(Err(r)) => {
                return Err(DataError::Ragged {
                    line: line + r.line,
                    found: r.found,
                    text: r.text,
                    expected,
                    hint: unnamed_hint(r.found, expected, header_fields),
                    path: path.into(),
                });
            }
            Some(Ok(rows)) => rows,
        };
        for (c, (all, mut column)) in columns.iter_mut().zip(rows.columns).enumerate() {
            if with_text[c] && column.texts.is_none() {
                column.texts = Some(Texts::of_values(rows.values.column(c)));
            }
            for r in column
                .first_texts
                .iter_mut()
                .chain(column.first_missing.iter_mut())
            {
                r.line += line;
            }
            all.append(column);
        }
        lines.extend(rows.lines.iter().map(|l| line + l));
        line += rows.next_line;
        placed.push(match rows.values {
            Room::Shared { rows, .. } => (rows, None),
            Room::Own(grid) => (grid.rows(), Some(grid)),
        });
    }
    if lines.is_empty() {
        return Err(DataError::NoRows { path: path.into() });
    }
    Ok(Some(Joined {
        columns,
        lines,
        placed,
    }))
}

/// Whether the fast path cannot read this text: lone carriage returns are
/// line ends it does not split on. (Quoting it cannot read is found line by
/// line, by [`split_fields`].)
fn declines(text: &str) -> bool {
    text.as_bytes().contains(&b'\r') && text.matches('\r').count() != text.matches("\r\n").count()
}

/// Splits the line `bytes[start..end]` (no newline in it; `text` is the
/// same bytes as text from `base` on) at `delim` into trimmed fields, as
/// the csv crate does when a field that starts with a quote is quoted to
/// the next quote. `None` (the fast path declines) for what needs the
/// crate's fuller rules: a quote anywhere else in a field, a doubled quote,
/// anything but the delimiter or the line's end after a closing quote, or a
/// quote left open (a field going on to the next line).
fn split_fields<'t>(
    text: &'t str,
    base: usize,
    (bytes, start, end): (&[u8], usize, usize),
    delim: u8,
    fields: &mut Vec<&'t str>,
) -> Option<()> {
    // The line's end, before a carriage return that ends it.
    let stop = if end > start && bytes[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    let mut at = start;
    loop {
        if at < stop && bytes[at] == b'"' {
            let close = at + 1 + memchr::memchr(b'"', &bytes[at + 1..stop])?;
            fields.push(trim(&text[at + 1 - base..close - base]));
            at = close + 1;
            if at == stop {
                return Some(());
            }
            (bytes[at] == delim).then_some(())?;
        } else {
            let next = memchr::memchr(delim, &bytes[at..stop]).map_or(stop, |p| at + p);
            if memchr::memchr(b'"', &bytes[at..next]).is_some() {
                return None;
            }
            fields.push(trim(&text[at - base..next - base]));
            if next == stop {
                return Some(());
            }
            at = next;
        }
        at += 1;
    }
}

/// A file's header line.
struct Header {
    names: Vec<String>,
    /// Its fields, with trailing empty ones.
    fields: usize,
    /// Its physical line.
    line: usize,
    /// The byte offset just after it.
    after: usize,
}

/// The header (first line with a non-empty field); `None` when `text` has
/// no such line.
fn header(text: &str, delim: u8, path: &str) -> Result<Option<Header>, DataError> {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        offset += line.len();
        if !line.ends_with('\n') {
            // Without a complete first line the caller cannot know where the header ends.
            return Ok(None);
        }
        let line = line.trim_end_matches(['\n', '\r']);
        let mut fields = Vec::new();
        let bytes = line.as_bytes();
        if split_fields(line, 0, (bytes, 0, bytes.len()), delim, &mut fields).is_none() {
            return Ok(None);
        }
        if fields.iter().any(|f| !f.is_empty()) {
            let record = csv::StringRecord::from(fields);
            return Ok(Some(Header {
                names: header_names(&record, path)?,
                fields: record.len(),
                line: i + 1,
                after: offset,
            }));
        }
    }
    Ok(None)
}

/// Parts of the file per parsing thread: small enough that a core slowed
/// by the rest of the machine holds the others up by a small part at most.
const PARTS_PER_THREAD: usize = 8;

/// The number of parsing threads: one per core.
fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(16)
}

/// The rows in `bytes` of `total` bytes, from the length of its first lines
/// (a little over, so that the columns seldom grow).
fn estimate_rows(sample: &[u8], total: usize) -> usize {
    let sample = &sample[..sample.len().min(1 << 16)];
    if sample.is_empty() {
        return 16;
    }
    let lines = memchr::memchr_iter(b'\n', sample).count().max(1);
    let rows = total / sample.len().div_ceil(lines).max(1);
    rows + rows / 16 + 16
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
    if declines(text) {
        return Ok(None);
    }
    let Some(Header {
        names,
        fields: header_fields,
        line: header_line,
        after: offset,
    }) = header(text, delimiter, path)?
    else {
        return Ok(None);
    };
    let body = &text.as_bytes()[offset..];
    let pieces = split_at_lines(body, threads() * PARTS_PER_THREAD);
    let lens: Vec<usize> = pieces.iter().map(|p| p.len()).collect();
    parse_in_parts(
        &lens,
        (names, header_fields, header_line + 1),
        |bytes| estimate_rows(body, bytes),
        |k, mut rows| Ok(parse_lines(pieces[k], delimiter, &mut rows).map(|r| r.map(|()| rows))),
        (delimiter, latin1, path),
    )
}

/// How far a load has come, shared with the thread that shows it; setting
/// `cancel` stops the load at the next buffer.
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

/// Reads a large plain CSV straight from the file on every core: each
/// thread reads the next part of the body not yet taken, a cache-sized
/// buffer at a time, and parses it into that part's stretch of the
/// columns, so the whole file is never in memory at once and the bytes are
/// parsed where the kernel copied them, in the core's cache. `None` means
/// the file needs the in-memory path (small, not UTF-8, unusual quoting, ...).
///
/// # Errors
/// Reading fails, the load is cancelled, or the same errors as the sequential parser.
pub fn read_streaming(
    path: &Path,
    shown: &str,
    progress: &Progress,
) -> Result<Option<Table>, DataError> {
    read_parts(
        path,
        shown,
        progress,
        threads() * PARTS_PER_THREAD,
        BUFFER_BYTES,
    )
}

/// [`read_streaming`] in `parts` parts, each read `buffer` bytes at a time.
fn read_parts(
    path: &Path,
    shown: &str,
    progress: &Progress,
    parts: usize,
    buffer: usize,
) -> Result<Option<Table>, DataError> {
    let io = |e: std::io::Error| DataError::Io {
        reason: e.to_string(),
        path: shown.into(),
    };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    progress.total.store(size, Ordering::Relaxed);
    let Ok(size) = usize::try_from(size) else {
        return Ok(None);
    };
    if size < MIN_BYTES {
        return Ok(None);
    }
    // The header, from the start of the file: checked and parsed here, the
    // body by the parsing threads.
    let mut head = vec![0; size.min(1 << 16)];
    file.read_exact_at(&mut head, 0).map_err(io)?;
    let Some(cut) = head.iter().rposition(|&b| b == b'\n') else {
        return Ok(None);
    };
    let head = &head[..=cut];
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
    let Some(Header {
        names,
        fields: header_fields,
        line: header_line,
        after,
    }) = header(text, delimiter, shown)?
    else {
        return Ok(None);
    };
    let start = bom + after;
    progress.done.store(start as u64, Ordering::Relaxed);
    let bounds = part_bounds(&file, start..size, parts).map_err(io)?;
    let lens: Vec<usize> = bounds.windows(2).map(|w| w[1] - w[0]).collect();
    // A failed read or a cancellation in any part ends the load.
    parse_in_parts(
        &lens,
        (names, header_fields, header_line + 1),
        |bytes| estimate_rows(&head[start..], bytes),
        |k, rows| {
            parse_part(
                &file,
                bounds[k]..bounds[k + 1],
                delimiter,
                buffer,
                progress,
                rows,
            )
            .map_err(|e| e.map_or(DataError::Cancelled { path: shown.into() }, io))
        },
        (delimiter, false, shown),
    )
}

/// Where each of about `parts` parts of `body` starts (each just after a
/// newline), then the body's end: `parts + 1` increasing offsets at most.
fn part_bounds(file: &File, body: Range<usize>, parts: usize) -> std::io::Result<Vec<usize>> {
    let mut bounds = vec![body.start];
    let mut window = vec![0; 1 << 12];
    for k in 1..parts {
        let previous = bounds[bounds.len() - 1];
        // The first newline at or after `at − 1`: the part starts just after it.
        let mut at = (body.start + (body.end - body.start) * k / parts)
            .saturating_sub(1)
            .max(previous);
        let start = loop {
            let read = file.read_at(&mut window, at as u64)?;
            if read == 0 {
                break body.end;
            }
            if let Some(p) = memchr::memchr(b'\n', &window[..read]) {
                break (at + p + 1).min(body.end);
            }
            at += read;
        };
        if start > previous && start < body.end {
            bounds.push(start);
        }
    }
    bounds.push(body.end);
    Ok(bounds)
}

/// Reads and parses the lines in `range` of `file`, a buffer at a time,
/// into `rows`. `Err(None)`: the load was cancelled.
fn parse_part<'g>(
    file: &File,
    range: Range<usize>,
    delimiter: u8,
    buffer: usize,
    progress: &Progress,
    mut rows: Rows<'g>,
) -> Result<Part<'g>, Option<std::io::Error>> {
    let mut buf = vec![0; buffer.max(1)];
    // `buf[..filled]` holds the bytes read and not yet parsed (a line's start).
    let mut filled = 0;
    let mut at = range.start;
    loop {
        if progress.cancel.load(Ordering::Relaxed) {
            return Err(None);
        }
        if filled == buf.len() {
            // A line longer than the buffer.
            buf.resize(2 * buf.len(), 0);
        }
        let want = (buf.len() - filled).min(range.end - at);
        let read = if want == 0 {
            0
        } else {
            file.read_at(&mut buf[filled..filled + want], at as u64)
                .map_err(Some)?
        };
        at += read;
        filled += read;
        progress.done.fetch_add(read as u64, Ordering::Relaxed);
        // The part's end (or the file's, if it shrank) ends its last line.
        let last = read == 0;
        let whole = if last {
            filled
        } else {
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(p) => p + 1,
                None => continue,
            }
        };
        match parse_lines(&buf[..whole], delimiter, &mut rows) {
            Some(Ok(())) => {}
            declined_or_ragged => return Ok(declined_or_ragged.map(|r| r.map(|()| rows))),
        }
        if last {
            return Ok(Some(Ok(rows)));
        }
        buf.copy_within(whole..filled, 0);
        filled -= whole;
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
/// (no spaces; each may be quoted, have an exponent, or with `;` between
/// them a decimal comma) separated by `delim`: fills `row` and returns
/// where the next line starts and whether this one ended in a newline.
#[inline(always)]
#[allow(clippy::inline_always)]
fn plain_row<const EXP: bool, P: ShortPath>(
    bytes: &[u8],
    (start, delim): (usize, u8),
    row: &mut [f64],
    path: P,
) -> Option<(usize, bool)> {
    // Semicolons separate decimals written with commas (as in parse_cell).
    if delim == b';' {
        plain_row_with::<true, EXP, P>(bytes, start, delim, row, path)
    } else {
        plain_row_with::<false, EXP, P>(bytes, start, delim, row, path)
    }
}

/// [`plain_row`] with or without decimal commas.
#[inline(always)]
#[allow(clippy::inline_always)]
fn plain_row_with<const COMMA: bool, const EXP: bool, P: ShortPath>(
    bytes: &[u8],
    start: usize,
    delim: u8,
    row: &mut [f64],
    path: P,
) -> Option<(usize, bool)> {
    let last = row.len().checked_sub(1)?;
    let mut at = start;
    for (k, value) in row.iter_mut().enumerate() {
        (*value, at) = number_cell::<COMMA, EXP, P>(bytes, at, path)?;
        if k < last {
            (bytes.get(at) == Some(&delim)).then_some(())?;
            at += 1;
        }
    }
    line_end(bytes, at)
}

/// The plain decimal at `at`, quoted or not (the same cell to the csv
/// crate), and where it ends.
#[inline(always)]
#[allow(clippy::inline_always)]
fn number_cell<const COMMA: bool, const EXP: bool, P: ShortPath>(
    bytes: &[u8],
    mut at: usize,
    path: P,
) -> Option<(f64, usize)> {
    let quoted = bytes.get(at) == Some(&b'"');
    at += usize::from(quoted);
    let (v, used) = super::table::decimal_prefix::<COMMA, EXP, P>(&bytes[at..], path)?;
    at += used;
    if quoted {
        (bytes.get(at) == Some(&b'"')).then_some(())?;
        at += 1;
    }
    Some((v, at))
}

/// Where the next line starts after a row's last cell, which ends at `at`,
/// and whether a newline ended it; `None` when anything else follows.
#[inline(always)]
#[allow(clippy::inline_always)]
fn line_end(bytes: &[u8], at: usize) -> Option<(usize, bool)> {
    match bytes.get(at) {
        None => Some((at, false)),
        Some(b'\n') => Some((at + 1, true)),
        Some(b'\r') if bytes.get(at + 1) == Some(&b'\n') => Some((at + 2, true)),
        Some(_) => None,
    }
}

/// [`plain_row`] for lines where the columns marked in `text_columns` hold
/// text: their cells are taken as trimmed text into `texts`, in column
/// order (not quoted ones, control bytes or invalid UTF-8, which the
/// general path handles).
#[inline(always)]
#[allow(clippy::inline_always)]
fn mixed_row<'b, P: ShortPath>(
    bytes: &'b [u8],
    (start, delim): (usize, u8),
    row: &mut [f64],
    (text_columns, texts): (&[bool], &mut Vec<&'b str>),
    path: P,
) -> Option<(usize, bool)> {
    if delim == b';' {
        mixed_row_with::<true, P>(bytes, (start, delim), row, (text_columns, texts), path)
    } else {
        mixed_row_with::<false, P>(bytes, (start, delim), row, (text_columns, texts), path)
    }
}

/// [`mixed_row`] with or without decimal commas.
#[inline(always)]
#[allow(clippy::inline_always)]
fn mixed_row_with<'b, const COMMA: bool, P: ShortPath>(
    bytes: &'b [u8],
    (start, delim): (usize, u8),
    row: &mut [f64],
    (text_columns, texts): (&[bool], &mut Vec<&'b str>),
    path: P,
) -> Option<(usize, bool)> {
    let last = row.len().checked_sub(1)?;
    let mut at = start;
    for (k, (value, &text)) in row.iter_mut().zip(text_columns).enumerate() {
        if text {
            let end = memchr::memchr2(delim, b'\n', &bytes[at..]).map_or(bytes.len(), |p| at + p);
            let mut cell = &bytes[at..end];
            if bytes.get(end) == Some(&b'\n') && cell.last() == Some(&b'\r') {
                cell = &cell[..cell.len() - 1];
            }
            if memchr::memchr3(b'"', b'\r', 0, cell).is_some() {
                return None;
            }
            texts.push(trim(std::str::from_utf8(cell).ok()?));
            at = end;
        } else {
            (*value, at) = number_cell::<COMMA, false, P>(bytes, at, path)?;
        }
        if k < last {
            (bytes.get(at) == Some(&delim)).then_some(())?;
            at += 1;
        }
    }
    line_end(bytes, at)
}

/// The text of `rest` (the chunk from its first line that is not plain
/// decimals on), or `None` when the fast path declines it: a NUL byte,
/// invalid UTF-8 or lone carriage returns. Lines of plain decimals hold
/// none of these, so checking from there on checks the whole chunk.
fn checked_text(rest: &[u8]) -> Option<&str> {
    // One scan for the bytes the fast path may decline.
    let unusual = memchr::memchr2(0, b'\r', rest).is_some();
    if unusual && rest.contains(&0) {
        return None;
    }
    std::str::from_utf8(rest)
        .ok()
        .filter(|t| !(unusual && declines(t)))
}

/// Parses whole lines into `rows` (the first on line `rows.next_line`);
/// `None` when the fast path declines them (see [`checked_text`], and
/// [`Room::push_row`]).
fn parse_lines(bytes: &[u8], delim: u8, rows: &mut Rows) -> Option<Result<(), Ragged>> {
    #[cfg(target_arch = "x86_64")]
    if let Some(sse) = super::sse::Sse::new() {
        return sse.vectorize(
            #[inline(always)]
            || parse_lines_on(bytes, delim, rows, sse),
        );
    }
    parse_lines_on(bytes, delim, rows, Swar)
}

/// [`parse_lines`] with the decimals' short path `path`.
#[inline(always)]
#[allow(clippy::inline_always)]
fn parse_lines_on<P: ShortPath>(
    bytes: &[u8],
    delim: u8,
    rows: &mut Rows,
    path: P,
) -> Option<Result<(), Ragged>> {
    // Two copies of one loop: a single loop that could take either kind of
    // line cost all-number lines 10 to 13 instructions more a field
    // (callgrind, 100k x 11); the copy without text columns costs what the
    // loop did before they were read in place.
    if rows.columns.iter().any(|c| c.texts.is_some()) {
        return parse_lines_with::<true, false, P>(bytes, delim, rows, path);
    }
    // Exponents in the first line (numpy's savetxt writes one in every
    // field) pick the copy whose short path reads them: reading them there
    // costs files without any about 13 instructions a field.
    let first_line = &bytes[..memchr::memchr(b'\n', bytes).unwrap_or(bytes.len())];
    if memchr::memchr2(b'e', b'E', first_line).is_some() {
        parse_lines_with::<false, true, P>(bytes, delim, rows, path)
    } else {
        parse_lines_with::<false, false, P>(bytes, delim, rows, path)
    }
}

/// [`parse_lines`] for a chunk that starts with no text column (`MIXED`
/// false: lines of plain decimals in place until a column holds text, then
/// the general path) or with some (lines in place through [`mixed_row`]).
/// `EXP`: the short path of the plain lines also reads exponents.
#[inline(always)]
#[allow(clippy::inline_always)]
fn parse_lines_with<const MIXED: bool, const EXP: bool, P: ShortPath>(
    bytes: &[u8],
    delim: u8,
    rows: &mut Rows,
    path: P,
) -> Option<Result<(), Ragged>> {
    let expected = rows.columns.len();
    let decimal_comma = delim == b';';
    let first = rows.next_line;
    let mut fields: Vec<&str> = Vec::with_capacity(expected + 1);
    let mut row = vec![0.0; expected];
    // The text from the first line that is not plain decimals on (`base` is
    // where it starts in `bytes`), checked once, when that line comes.
    let mut checked: Option<(usize, &str)> = None;
    // While no column holds text, lines of plain decimals are parsed in
    // place (one pass over their bytes); any other line takes the general
    // path below, which gives the same cells for plain lines.
    let mut plain = rows.columns.iter().all(|c| c.texts.is_none());
    let mut start = 0;
    let mut line = first;
    // Rows of plain decimals, counted into every column's numbers at the end.
    let mut plain_rows = 0;
    // With text columns: which they are, and each column's numbers parsed
    // in place.
    let mut mixed = MIXED.then(|| {
        let text_columns: Vec<bool> = rows.columns.iter().map(|c| c.texts.is_some()).collect();
        (text_columns, vec![0; expected])
    });
    // A line's text cells.
    let mut texts: Vec<&str> = Vec::new();
    while start < bytes.len() {
        let i = line;
        if !MIXED
            && plain
            && let Some((next, complete)) =
                plain_row::<EXP, P>(bytes, (start, delim), &mut row, path)
        {
            rows.push(&row, i)?;
            plain_rows += 1;
            line += usize::from(complete);
            start = next;
            continue;
        }
        if MIXED && let Some((text_columns, in_place)) = &mut mixed {
            texts.clear();
            if let Some((next, complete)) = mixed_row(
                bytes,
                (start, delim),
                &mut row,
                (text_columns, &mut texts),
                path,
            ) {
                let mut cells = texts.iter();
                for (c, column) in rows.columns.iter_mut().enumerate() {
                    if !text_columns[c] {
                        in_place[c] += 1;
                    } else if let Some(cell) = cells.next() {
                        row[c] = column.push(rows.values.column(c), cell, i, decimal_comma);
                    }
                }
                rows.push(&row, i)?;
                line += usize::from(complete);
                start = next;
                continue;
            }
        }
        let (base, text) = match checked {
            Some(c) => c,
            None => *checked.insert((start, checked_text(&bytes[start..])?)),
        };
        // The delimiter, the newline and quotes are ASCII, so every slice
        // boundary is a char boundary.
        fields.clear();
        let newline = memchr::memchr(b'\n', &bytes[start..]).map(|at| start + at);
        let end = newline.unwrap_or(bytes.len());
        split_fields(text, base, (bytes, start, end), delim, &mut fields)?;
        line += usize::from(newline.is_some());
        let this_line = start..end;
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
                text: String::from_utf8_lossy(&bytes[this_line])
                    .trim_end_matches('\r')
                    .into(),
            }));
        }
        for (c, (column, field)) in rows.columns.iter_mut().zip(&fields).enumerate() {
            row[c] = column.push(rows.values.column(c), field, i, decimal_comma);
        }
        rows.push(&row, i)?;
        plain = plain && rows.columns.iter().all(|c| c.texts.is_none());
        if let Some((text_columns, _)) = &mut mixed {
            // A column may have turned to text on this line.
            for (marked, column) in text_columns.iter_mut().zip(&rows.columns) {
                *marked = column.texts.is_some();
            }
        }
    }
    for (c, column) in rows.columns.iter_mut().enumerate() {
        let in_place = mixed.as_ref().map_or(0, |(_, counts)| counts[c]);
        column.numeric_count += plain_rows + in_place;
    }
    rows.next_line = line;
    Some(Ok(()))
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
        assert_eq!(a.values.len(), b.values.len());
        for (c, (x, y)) in a.columns.iter().zip(&b.columns).enumerate() {
            assert!(
                a.values(c)
                    .iter()
                    .zip(b.values(c))
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
    fn a_row_under_an_unnamed_last_column_says_so_on_both_paths() {
        let mut text = String::from("a,b,y,\n");
        for i in 0..3000 {
            let _ = writeln!(text, "{i},{i},{i},");
        }
        text.push_str("1,2,3,9\n");
        let fast = parse(&text, b',', false, "f").err().unwrap();
        let slow = parse_sequential(&text, b',', false, "f").unwrap_err();
        assert_eq!(fast, slow);
        assert_eq!(
            fast.to_string(),
            "line 3002 has 4 fields ('1,2,3,9') but the header has 3 columns (the header gives column 4 no name: name it to use it): f"
        );
        // A header without the trailing delimiter: no such hint.
        let plain = parse_sequential("a,b,y\n1,2,3,9\n", b',', false, "f").unwrap_err();
        assert!(!plain.to_string().contains("no name"), "{plain}");
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
            "line 3002 has 1 field ('1') but the header has 2 columns: f"
        );
    }

    #[test]
    fn streamed_files_fall_back_for_nul_bytes_doubled_quotes_and_keep_the_bom_out() {
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
        // A doubled quote far from the header: the streaming path declines
        // the file (the csv crate reads it).
        let quoted = format!("{text}\"1\"\"\",2\n");
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

    /// A file in a fresh temporary directory, removed when dropped.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(name: &str, bytes: &[u8]) -> Self {
            let dir =
                std::env::temp_dir().join(format!("steplab-parts-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    /// Part counts and buffer sizes (in bytes) that put part and buffer
    /// boundaries all over a file of a few hundred kilobytes.
    const SPLITS: [(usize, usize); 4] = [(1, 1 << 20), (2, 64), (3, 7), (7, 1000)];

    /// `path` read in `parts` parts through `buffer`-byte buffers: `None`
    /// when the fast path declines it.
    fn read_in_parts(
        path: &Path,
        progress: &Progress,
        (parts, buffer): (usize, usize),
    ) -> Option<Table> {
        read_parts(path, "p", progress, parts, buffer).unwrap()
    }

    #[test]
    fn parts_read_through_small_buffers_agree_with_the_sequential_parser() {
        // Tiny buffers put buffer and part boundaries everywhere: inside
        // CRLF pairs, in lines longer than the buffer, in blank lines, and
        // after the text cell that turns the in-place path off.
        let mut text = String::from("\u{feff}\n a , b ,label\r\n");
        let mut i = 0;
        while text.len() < MIN_BYTES + 5000 {
            let a = match i % 211 {
                0 => "NA".to_string(),
                7 => "9".repeat(150),
                _ => format!("{}.{}", i, i % 13),
            };
            let label = if i == 20_000 { "text" } else { "1" };
            let end = if i % 3 == 0 { "\r\n" } else { "\n" };
            let _ = write!(text, "{a},-{i}.25,{label}{end}");
            if i % 500 == 0 {
                text.push_str("\n,,\n");
            }
            i += 1;
        }
        text.push_str("1,2,3");
        let file = TempFile::new("small.csv", text.as_bytes());
        let slow = parse_sequential(text.trim_start_matches('\u{feff}'), b',', false, "p").unwrap();
        for split in SPLITS {
            let progress = Progress::default();
            let streamed = read_in_parts(&file.0, &progress, split).unwrap();
            same(&streamed, &slow);
            assert_eq!(streamed.lines[0], 3);
            assert!((progress.fraction() - 1.0).abs() < 1e-9, "{split:?}");
        }
    }

    #[test]
    fn exponents_and_decimal_commas_agree_with_the_sequential_parser() {
        // numpy's savetxt format, and a European export with semicolons and
        // decimal commas, with a few cells the in-place path cannot take.
        let mut sci = String::from("a,b,c\n");
        let mut eu = String::from("a;b;c\n");
        for i in 0..3000 {
            let v = f64::from(i) * 0.37 - 400.0;
            let odd = if i % 97 == 0 { "1,234.5" } else { "7,25" };
            let _ = writeln!(sci, "{v:.18e},{:.6e},{}", v * 1e-9, v * 1e30);
            let _ = writeln!(eu, "{};{:e};{odd}", format!("{v}").replace('.', ","), v);
        }
        for (text, delim) in [(sci, b','), (eu, b';')] {
            let fast = parse(&text, delim, false, "e").unwrap().unwrap();
            let slow = parse_sequential(&text, delim, false, "e").unwrap();
            same(&fast, &slow);
        }
    }

    #[test]
    fn decimals_of_every_shape_agree_with_the_sequential_parser() {
        // Random fields of every integer and decimal length up to 24
        // digits, signs, leading zeros, shortest forms, fixed decimals and
        // exponents (all from the first line on, so the short path reads
        // them too), as whole files: the fast path's vector (or word)
        // decimals against the sequential parser's, bit for bit.
        let mut rng = crate::rng::Rng::new(11);
        let mut digits = |n: usize| -> String {
            (0..n)
                .map(|_| char::from(b"0123456789"[rng.below(10)]))
                .collect()
        };
        let mut plain = String::from("a,b,c,d\n");
        let mut sci = String::from("a,b,c,d\n1.5e3,2,3,4\n");
        let mut k = 0usize;
        let mut kf = 0.0f64;
        let mut scale = [
            1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6,
        ]
        .into_iter()
        .cycle();
        while plain.len() < MIN_BYTES + 5000 {
            let int = k % 9;
            let decimals = (k / 9) % 25;
            let sign = ["", "-", "+"][k % 3];
            let field = format!("{sign}{}.{}", digits(int.max(1)), digits(decimals));
            let short = format!(
                "{}",
                (kf * 0.618_033_988_749_895).fract() * scale.next().unwrap_or(1.0)
            );
            let fixed = format!("{:.*}", k % 20, kf / 7.0);
            let _ = writeln!(plain, "{field},{short},{fixed},{}", digits(1 + k % 8));
            let _ = writeln!(sci, "{field}e-{},{short},{:e},{fixed}", k % 30, kf / 3.0);
            k += 1;
            kf += 1.0;
        }
        for text in [plain, sci] {
            let fast = parse(&text, b',', false, "d").unwrap().unwrap();
            let slow = parse_sequential(&text, b',', false, "d").unwrap();
            same(&fast, &slow);
        }
    }

    #[test]
    fn lines_with_text_columns_parsed_in_place_agree_with_the_sequential_parser() {
        // Text in the first and last columns from the start, a numeric
        // column that turns to text half-way, and in the text columns
        // numbers, padding, empty cells, CRLF ends, a quoted cell and a
        // missing marker in a number column (both for the general path).
        let mut text = String::from("name,x,later,label\n");
        let mut i = 0;
        while text.len() < MIN_BYTES + 5000 {
            let name = match i % 7 {
                0 => "  anna ".to_string(),
                1 => String::new(),
                2 => "12".to_string(),
                3 => "\"b, c\"".to_string(),
                _ => format!("n{}", i % 13),
            };
            let x = if i % 101 == 0 {
                "NA".to_string()
            } else {
                format!("{i}.25")
            };
            let later = if i == 30_000 {
                "oops".to_string()
            } else {
                format!("-{i}.5")
            };
            let label = ["yes", "no", "Köln €"][i % 3];
            let end = if i % 4 == 0 { "\r\n" } else { "\n" };
            let _ = write!(text, "{name},{x},{later},{label}{end}");
            i += 1;
        }
        let slow = parse_sequential(&text, b',', false, "t").unwrap();
        assert!(slow.columns[2].texts.is_some());
        same(&parse(&text, b',', false, "t").unwrap().unwrap(), &slow);
        let file = TempFile::new("texts.csv", text.as_bytes());
        for split in SPLITS {
            let streamed = read_in_parts(&file.0, &Progress::default(), split).unwrap();
            same(&streamed, &slow);
        }
    }

    /// Quoted header names and cells the fast path reads: numbers, text
    /// holding the delimiter, padded and empty cells, CRLF line ends.
    fn quoted_text(min_len: usize) -> String {
        let mut text = String::from("\"a\",\"b, c\",label\r\n");
        let mut i = 0;
        while text.len() < min_len {
            let label = match i % 6 {
                0 => "\"x, y\"",
                1 => "\" 7 \"",
                2 => "\"\"",
                3 => "plain",
                4 => "\" z \"",
                _ => "\"-2.5\"",
            };
            let end = if i % 3 == 0 { "\r\n" } else { "\n" };
            let _ = write!(text, "\"{i}\",{}.5,{label}{end}", i % 10);
            i += 1;
        }
        text
    }

    /// Lines the fast path declines: each needs more of the csv crate's
    /// rules (a doubled quote, a quote inside a field or after a padded
    /// start, text after a closing quote, a cell over two lines).
    const DECLINED: [&str; 6] = [
        "\"a\"\"b\"",
        "x\"y",
        " \"x\"",
        "\"x\" ",
        "\"x\"y",
        "\"two\nlines\"",
    ];

    #[test]
    fn quoted_cells_agree_with_the_sequential_parser_or_are_declined() {
        let text = quoted_text(20_000);
        let fast = parse(&text, b',', false, "q").unwrap().unwrap();
        let slow = parse_sequential(&text, b',', false, "q").unwrap();
        same(&fast, &slow);
        assert_eq!(fast.names, ["a", "b, c", "label"]);
        assert!(
            fast.columns[0].texts.is_none(),
            "quoted numbers are numbers"
        );
        assert!(fast.columns[2].texts.is_some());
        for odd in DECLINED {
            let t = format!("{text}1,2,{odd}\n3,4,5\n");
            assert!(parse(&t, b',', false, "q").unwrap().is_none(), "{odd:?}");
            let header = format!("a,b,{odd}\n1,2,3\n");
            assert!(
                parse(&header, b',', false, "q").unwrap().is_none(),
                "{odd:?}"
            );
        }
    }

    #[test]
    fn quoted_files_read_in_parts_agree_or_are_declined_wherever_the_parts_split() {
        let text = quoted_text(MIN_BYTES + 5000);
        let file = TempFile::new("quoted.csv", text.as_bytes());
        let slow = parse_sequential(&text, b',', false, "q").unwrap();
        // A cell over two lines in the middle of the file: wherever a part
        // starts, in it or not, the file is declined, never misread.
        let middle = text.len() / 2;
        let cut = middle + text[middle..].find('\n').unwrap_or(0) + 1;
        let split = format!("{}1,2,\"two\nlines\"\n{}", &text[..cut], &text[cut..]);
        let split_file = TempFile::new("split.csv", split.as_bytes());
        for split in SPLITS {
            let progress = Progress::default();
            let streamed = read_in_parts(&file.0, &progress, split).unwrap();
            same(&streamed, &slow);
            let declined = read_in_parts(&split_file.0, &progress, split);
            assert!(declined.is_none(), "{split:?}");
        }
    }

    #[test]
    fn parts_that_outgrow_their_estimated_room_agree_with_the_sequential_parser() {
        // The first 64 KB (the sample the rows are estimated from) hold
        // long lines, the rest short ones: every part has many more rows
        // than its room and goes on in a grid of its own.
        let mut text = String::from("a,b\n");
        while text.len() < 1 << 16 {
            let _ = writeln!(text, "{},{}", "1".repeat(60), text.len());
        }
        let mut i = 0;
        while text.len() < MIN_BYTES + 5000 {
            let _ = writeln!(text, "{},{}", i % 10, i % 7);
            i += 1;
        }
        let file = TempFile::new("outgrown.csv", text.as_bytes());
        let slow = parse_sequential(&text, b',', false, "p").unwrap();
        for parts in [1, 2, 3] {
            let streamed = read_in_parts(&file.0, &Progress::default(), (parts, 1 << 20)).unwrap();
            same(&streamed, &slow);
        }
        let parsed = parse(&text, b',', false, "p").unwrap().unwrap();
        same(&parsed, &slow);
    }

    #[test]
    fn a_ragged_row_in_a_later_part_reports_its_line_and_cancelling_stops() {
        let mut text = String::from("a,b\n");
        let mut rows = 0;
        while text.len() < 2 * MIN_BYTES {
            let _ = writeln!(text, "{rows},{rows}");
            rows += 1;
        }
        text.push_str("1,2,3\n4,5\n");
        let file = TempFile::new("ragged.csv", text.as_bytes());
        let slow = parse_sequential(&text, b',', false, "r").unwrap_err();
        for parts in [1, 2, 5] {
            let fast = read_parts(&file.0, "r", &Progress::default(), parts, 4096).unwrap_err();
            assert_eq!(fast, slow);
        }
        assert_eq!(
            slow.to_string(),
            format!(
                "line {} has 3 fields ('1,2,3') but the header has 2 columns: r",
                rows + 2
            )
        );
        let progress = Progress::default();
        progress.cancel.store(true, Ordering::Relaxed);
        let err = read_parts(&file.0, "r", &progress, 2, 4096).unwrap_err();
        assert!(matches!(err, DataError::Cancelled { .. }), "{err}");
    }

    #[test]
    fn parts_start_just_after_a_newline_and_are_never_empty() {
        let text = b"h\n1\n22\n333\n4444\n55555";
        let file = TempFile::new("bounds.csv", text);
        let handle = File::open(&file.0).unwrap();
        for parts in 1..12 {
            let bounds = part_bounds(&handle, 2..text.len(), parts).unwrap();
            assert_eq!(bounds.first(), Some(&2));
            assert_eq!(bounds.last(), Some(&text.len()));
            assert!(bounds.len() <= parts + 1);
            assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{bounds:?}");
            assert!(
                bounds
                    .iter()
                    .all(|&b| text[b - 1] == b'\n' || b == text.len())
            );
        }
    }

    #[test]
    fn lone_carriage_returns_are_declined() {
        assert!(parse("a,b\r1,2\r", b',', false, "f").unwrap().is_none());
    }
}
