//! Reading a CSV file into typed columns: encoding, delimiter, quoting, numbers, missing cells.

use super::DataError;

/// How many non-numeric cells or missing positions are remembered per column.
const KEEP_POSITIONS: usize = 3;

/// A parsed CSV: header names, one [`Column`] each, and every column's
/// values in one buffer, column after column (the layout of a feature
/// matrix, so that a dataset can take it over without a copy).
#[derive(Debug, Clone)]
pub struct Table {
    /// The file the table came from (used last in every message).
    pub path: String,
    /// Column names from the header, trimmed, in file order.
    pub names: Vec<String>,
    /// One column per name: what its cells hold.
    pub columns: Vec<Column>,
    /// Column `c`'s value of row `r` at `c · rows + r`; see [`Table::values`].
    pub(crate) values: Vec<f64>,
    /// Physical (1-based) line on which each data row starts.
    pub lines: Vec<usize>,
    /// The delimiter that was detected.
    pub delimiter: u8,
    /// Whether `,` was read as the decimal separator (only with `;` delimiters).
    pub decimal_comma: bool,
    /// Whether the bytes were decoded as Latin-1 because they were not UTF-8.
    pub latin1: bool,
}

/// A cell position and its text, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct CellRef {
    /// Physical line.
    pub line: usize,
    /// The cell's text as written.
    pub text: String,
}

/// What one column's cells hold (its values are the table's, see
/// [`Table::values`]) and, when any cell was not a number, the texts of all
/// cells.
#[derive(Debug, Clone, Default)]
pub struct Column {
    /// The trimmed text of every cell, kept only once a non-numeric cell appeared.
    pub texts: Option<Texts>,
    /// Cells that parsed as finite numbers.
    pub numeric_count: usize,
    /// Cells that are text (not numbers, not missing markers).
    pub text_count: usize,
    /// First text cells.
    pub first_texts: Vec<CellRef>,
    /// Cells that are empty, a missing marker or a non-finite number.
    pub missing_count: usize,
    /// First missing cells.
    pub first_missing: Vec<CellRef>,
}

impl Column {
    /// A column is numeric when its numbers outnumber its text cells; a
    /// numeric column with a few text cells is a typo to report, not a label column.
    #[must_use]
    pub fn is_numeric(&self) -> bool {
        self.numeric_count > 0 && self.numeric_count >= self.text_count
    }

    /// Whether every cell is a finite number.
    #[must_use]
    pub fn is_clean_numeric(&self) -> bool {
        self.text_count == 0 && self.missing_count == 0 && self.numeric_count > 0
    }

    /// Counts a cell of `raw` text on `line` after the column's values
    /// `so_far`, and returns its value.
    pub(crate) fn push(
        &mut self,
        so_far: &[f64],
        raw: &str,
        line: usize,
        decimal_comma: bool,
    ) -> f64 {
        let cell = parse_cell(raw, decimal_comma);
        let value = match cell {
            Cell::Number(v) => {
                self.numeric_count += 1;
                v
            }
            Cell::Missing => {
                self.missing_count += 1;
                if self.first_missing.len() < KEEP_POSITIONS {
                    self.first_missing.push(CellRef {
                        line,
                        text: raw.to_string(),
                    });
                }
                f64::NAN
            }
            Cell::Text => {
                self.text_count += 1;
                if self.first_texts.len() < KEEP_POSITIONS {
                    self.first_texts.push(CellRef {
                        line,
                        text: raw.to_string(),
                    });
                }
                if self.texts.is_none() {
                    // The first text cell: keep texts from now on, rebuilding
                    // the earlier ones from their values.
                    self.texts = Some(Texts::of_values(so_far));
                }
                f64::NAN
            }
        };
        if let Some(texts) = &mut self.texts {
            texts.push_cell(cell, raw);
        }
        value
    }

    /// Appends another column's cells (rows in order; positions kept in file
    /// order). Both keep their cells' texts, or neither does (see [`texts_of`]).
    pub(crate) fn append(&mut self, other: Column) {
        debug_assert_eq!(self.texts.is_some(), other.texts.is_some());
        if let (Some(texts), Some(more)) = (&mut self.texts, other.texts) {
            texts.append(more);
        }
        self.numeric_count += other.numeric_count;
        self.text_count += other.text_count;
        self.missing_count += other.missing_count;
        for r in other.first_texts {
            if self.first_texts.len() < KEEP_POSITIONS {
                self.first_texts.push(r);
            }
        }
        for r in other.first_missing {
            if self.first_missing.len() < KEEP_POSITIONS {
                self.first_missing.push(r);
            }
        }
    }
}

/// The texts of a column's cells, each distinct text kept once: row r's is
/// the name with id `ids[r]`. A label column of a million rows holds a few
/// strings, not a million (they were a quarter of a label file's memory).
/// Past `MAX_DISTINCT` names (identifiers, free text) the column stops
/// looking for repeats and keeps every further row's text as it comes:
/// hashing a million distinct names took longer than the rest of the load.
#[derive(Clone, Default)]
pub struct Texts {
    ids: Vec<usize>,
    names: Vec<String>,
    /// The ids of `names`, found by their hashes (empty once `plain`).
    index: hashbrown::HashTable<usize>,
    hasher: hashbrown::DefaultHashBuilder,
    /// Past `MAX_DISTINCT` names: no more looking for repeats.
    plain: bool,
}

/// How many distinct texts a column looks up repeats among.
const MAX_DISTINCT: usize = 4096;

impl Texts {
    /// The texts of cells from their values: what [`Self::push_cell`] keeps
    /// for a column without text cells.
    pub(crate) fn of_values(values: &[f64]) -> Self {
        let mut texts = Self::default();
        for &v in values {
            let cell = if v.is_nan() {
                Cell::Missing
            } else {
                Cell::Number(v)
            };
            texts.push_cell(cell, "");
        }
        texts
    }

    /// Keeps the text of a cell of a column that has text cells: text as
    /// written, numbers as their value, missing cells empty (the same
    /// whatever order the cells were read in).
    pub(crate) fn push_cell(&mut self, cell: Cell, raw: &str) {
        match cell {
            Cell::Text => self.push(raw),
            Cell::Number(v) => self.push(&format!("{v}")),
            Cell::Missing => self.push(""),
        }
    }

    /// Appends a row's text.
    pub fn push(&mut self, text: &str) {
        let id = match self.lookup(text) {
            Ok(id) => id,
            Err(hash) => self.insert(hash, text.to_string()),
        };
        self.ids.push(id);
    }

    /// Appends another column's texts, row by row.
    pub(crate) fn append(&mut self, other: Self) {
        let ids: Vec<usize> = other
            .names
            .into_iter()
            .map(|name| match self.lookup(&name) {
                Ok(id) => id,
                Err(hash) => self.insert(hash, name),
            })
            .collect();
        self.ids.extend(other.ids.iter().map(|&i| ids[i]));
    }

    /// The id of `text` if it is known, else its hash (`None` once `plain`).
    fn lookup(&self, text: &str) -> Result<usize, Option<u64>> {
        use std::hash::BuildHasher as _;
        if self.plain {
            return Err(None);
        }
        let hash = self.hasher.hash_one(text);
        let names = &self.names;
        self.index
            .find(hash, |&id| names[id] == text)
            .copied()
            .ok_or(Some(hash))
    }

    /// Keeps a new name (with its hash, while repeats are looked up) and
    /// returns its id.
    fn insert(&mut self, hash: Option<u64>, name: String) -> usize {
        use std::hash::BuildHasher as _;
        let id = self.names.len();
        if let Some(hash) = hash {
            if id < MAX_DISTINCT {
                let (hasher, names) = (&self.hasher, &self.names);
                self.index
                    .insert_unique(hash, id, |&i| hasher.hash_one(names[i].as_str()));
            } else {
                self.plain = true;
                self.index = hashbrown::HashTable::new();
            }
        }
        self.names.push(name);
        id
    }

    /// Row `row`'s text.
    #[must_use]
    pub fn get(&self, row: usize) -> Option<&str> {
        self.ids.get(row).map(|&id| self.names[id].as_str())
    }

    /// Every row's text, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.ids.iter().map(|&id| self.names[id].as_str())
    }

    /// The number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl PartialEq for Texts {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Texts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Texts")
            .field("rows", &self.ids.len())
            .field("distinct", &self.names.len())
            .finish_non_exhaustive()
    }
}

/// `str::trim`, skipped when the field starts and ends with visible ASCII
/// (the common case, and the hot path of loading).
#[must_use]
pub fn trim(field: &str) -> &str {
    match (field.as_bytes().first(), field.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => field,
        _ => field.trim(),
    }
}

/// Calls `f(l, v)` for every value v with a lane l in 0..8: value i goes to
/// lane i mod 8, the last few (past a multiple of 8) to lane 0.
fn by_lane(values: &[f64], mut f: impl FnMut(usize, f64)) {
    let (chunks, rest) = values.as_chunks::<8>();
    for chunk in chunks {
        for (l, &v) in chunk.iter().enumerate() {
            f(l, v);
        }
    }
    for &v in rest {
        f(0, v);
    }
}

/// Summary statistics of one column (numbers only; text cells are counted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnSummary {
    /// Whether the column counts as numeric.
    pub numeric: bool,
    /// Mean of the finite numbers (NaN when there are none).
    pub mean: f64,
    /// Population standard deviation of the finite numbers.
    pub std: f64,
    /// Smallest finite number.
    pub min: f64,
    /// Largest finite number.
    pub max: f64,
    /// Missing or non-finite cells.
    pub missing: usize,
    /// Text cells.
    pub text: usize,
}

impl Table {
    /// Column `c`'s value per row; NaN where the cell is missing, non-finite or text.
    ///
    /// # Panics
    /// If there is no column `c`.
    #[must_use]
    pub fn values(&self, c: usize) -> &[f64] {
        let rows = self.lines.len();
        &self.values[c * rows..(c + 1) * rows]
    }

    /// [`Self::summary`] of every column, the columns shared among the
    /// cores on large tables.
    #[must_use]
    pub fn summaries(&self) -> Vec<ColumnSummary> {
        let columns: Vec<usize> = (0..self.columns.len()).collect();
        super::shared(columns, self.lines.len() >= 100_000, |_, c| self.summary(c))
    }

    /// Mean, std, min, max and counts of column `c`.
    ///
    /// # Panics
    /// If there is no column `c`.
    #[must_use]
    pub fn summary(&self, c: usize) -> ColumnSummary {
        let column = &self.columns[c];
        let values = self.values(c);
        // Eight running sums, not one chain of additions (for a 1M × 11
        // file the summaries took 64 ms of the frame that shows it); the
        // missing cells (NaN) add nothing, and min and max skip them.
        let (mut n, mut sum) = ([0usize; 8], [0.0f64; 8]);
        let (mut min, mut max) = ([f64::INFINITY; 8], [f64::NEG_INFINITY; 8]);
        by_lane(values, |l, v| {
            let present = !v.is_nan();
            n[l] += usize::from(present);
            sum[l] += if present { v } else { 0.0 };
            min[l] = min[l].min(v);
            max[l] = max[l].max(v);
        });
        let n: usize = n.iter().sum();
        let mean = if n > 0 {
            sum.iter().sum::<f64>() / n as f64
        } else {
            f64::NAN
        };
        let mut squares = [0.0f64; 8];
        by_lane(values, |l, v| {
            squares[l] += if v.is_nan() {
                0.0
            } else {
                (v - mean) * (v - mean)
            };
        });
        let var = squares.iter().sum::<f64>() / n.max(1) as f64;
        ColumnSummary {
            numeric: column.is_numeric(),
            mean,
            std: var.sqrt(),
            min: min.iter().copied().fold(f64::INFINITY, f64::min),
            max: max.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            missing: column.missing_count,
            text: column.text_count,
        }
    }

    /// The cell of column `c` and `row` as text (numbers formatted, missing
    /// cells empty; empty outside the table).
    #[must_use]
    pub fn cell_text(&self, c: usize, row: usize) -> String {
        let Some(column) = self.columns.get(c) else {
            return String::new();
        };
        if let Some(t) = column.texts.as_ref().and_then(|t| t.get(row)) {
            return t.to_string();
        }
        match self.values(c).get(row) {
            Some(v) if !v.is_nan() => format!("{v}"),
            _ => String::new(),
        }
    }
}

/// What one cell holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// A finite number.
    Number(f64),
    /// Empty, a missing marker (`NA`, `NaN`, `null`, ...) or a non-finite number.
    Missing,
    /// Anything else.
    Text,
}

/// Classifies a trimmed cell. With `decimal_comma`, `3,5` reads as 3.5.
#[must_use]
pub fn parse_cell(raw: &str, decimal_comma: bool) -> Cell {
    let s = trim(raw);
    if s.is_empty() {
        return Cell::Missing;
    }
    if !may_be_number(s.as_bytes(), decimal_comma) {
        return if is_missing_marker(s) {
            Cell::Missing
        } else {
            Cell::Text
        };
    }
    if let Some(v) = plain_decimal(s.as_bytes()) {
        return Cell::Number(v);
    }
    standard_cell(s, decimal_comma)
}

/// A trimmed, non-empty cell classified by the standard library's parser.
fn standard_cell(s: &str, decimal_comma: bool) -> Cell {
    let parsed = if decimal_comma && s.contains(',') && !s.contains('.') {
        s.replacen(',', ".", 1).parse::<f64>()
    } else {
        s.parse::<f64>()
    };
    match parsed {
        Ok(v) if v.is_finite() => Cell::Number(v),
        Ok(_) => Cell::Missing,
        Err(_) if is_missing_marker(s) => Cell::Missing,
        Err(_) => Cell::Text,
    }
}

/// The value of a plain decimal such as `-123.456789` (sign, digits, point,
/// digits; no exponent), exactly as `str::parse::<f64>` gives it, when it has
/// at most 19 significant digits and 27 decimals. Anything else is left to
/// the full parser.
fn plain_decimal(s: &[u8]) -> Option<f64> {
    // A cell shorter than the 40 bytes the short path reads goes there
    // padded with zero bytes (which end any digit run), not to the slow
    // path: cells parsed one at a time (text columns in the file, missing
    // markers) are mostly short.
    let mut padded = [0u8; 48];
    let bytes = match padded.get_mut(..s.len()) {
        Some(head) => {
            head.copy_from_slice(s);
            &padded[..]
        }
        None => s,
    };
    decimal_prefix::<false, false, _>(bytes, Swar)
        .and_then(|(v, used)| (used == s.len()).then_some(v))
}

/// [`plain_decimal`] of the longest plain decimal at the start of `s`, and
/// how many bytes it takes (the CSV fast path parses fields in place). A
/// decimal with a point may end in an exponent (`1.5e-03`, as numpy's
/// `savetxt` writes); with `COMMA`, the point may be a decimal comma.
///
/// At most 19 significant digits make an exact integer mantissa m < 2⁶⁴,
/// and the value is m / 10ᵈ for d decimals less the exponent, rounded once
/// by [`eisel_lemire`] (for 0 ≤ d ≤ 27; other exponents are left to the
/// full parser).
#[inline(always)] // Into the row loop, with the rare case kept out of it.
#[allow(clippy::inline_always)]
pub(crate) fn decimal_prefix<const COMMA: bool, const EXP: bool, P: ShortPath>(
    s: &[u8],
    path: P,
) -> Option<(f64, usize)> {
    if let Some(parsed) = short_decimal::<COMMA, EXP, P>(s, path) {
        return Some(parsed);
    }
    any_decimal(s, COMMA)
}

/// How [`decimal_prefix`]'s short path reads the digits after the point: a
/// word of eight at a time ([`Swar`], on every CPU) or, on x86-64, a vector
/// of sixteen ([`super::sse::Sse`]). Both take the same fields and give the
/// same values.
pub(crate) trait ShortPath: Copy {
    /// The decimals after the point at `s[point]`, with the integer part's
    /// digits and value: the mantissa of the whole decimal below 10¹⁹, its
    /// number of decimals d (the value is mantissa / 10ᵈ; zeros may pad
    /// it on the right) and where the digits end. `None` leaves the field
    /// to the full parser (no decimals, or over 19 digits in all).
    fn decimals(self, s: &[u8; 40], point: usize, int: (usize, u64))
    -> Option<(u64, usize, usize)>;
}

/// The short path with eight-digit words (SWAR).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Swar;

impl ShortPath for Swar {
    /// Three 8-byte words of decimals measured at once, keeping the words
    /// the run reaches by selects, where a loop over the run would stop at
    /// a place the branch predictor cannot guess.
    #[inline(always)]
    #[allow(clippy::inline_always)]
    fn decimals(
        self,
        s: &[u8; 40],
        point: usize,
        (int_len, int): (usize, u64),
    ) -> Option<(u64, usize, usize)> {
        let (len_a, a) = leading_digits(word(s, point + 1));
        let (len_b, b) = leading_digits(word(s, point + 9));
        let (len_c, c) = leading_digits(word(s, point + 17));
        // How far the run reaches varies from field to field: selects, not branches.
        let (len_b, b) = std::hint::select_unpredictable(len_a == 8, (len_b, b), (0, 0));
        let (len_c, c) = std::hint::select_unpredictable(len_b == 8, (len_c, c), (0, 0));
        let decimals = len_a + len_b + len_c;
        if decimals == 0 || len_c == 8 || int_len + decimals > 19 {
            return None;
        }
        // Below 10¹⁹ < 2⁶⁴: at most 19 digits.
        let mantissa = ((int * POW10[len_a] + a) * POW10[len_b] + b) * POW10[len_c] + c;
        Some((mantissa, decimals, point + 1 + decimals))
    }
}

/// The 8 bytes of `s` from `at` (at most 32) as a little-endian word.
#[inline(always)]
#[allow(clippy::inline_always)]
pub(super) fn word(s: &[u8; 40], at: usize) -> u64 {
    s[at..]
        .first_chunk::<8>()
        .map_or(0, |b| u64::from_le_bytes(*b))
}

/// Whether `b` is the decimal point (or, with `comma`, a decimal comma).
#[inline(always)]
#[allow(clippy::inline_always)]
fn is_point(b: u8, comma: bool) -> bool {
    b == b'.' || (comma && b == b',')
}

/// The exponent at the start of `s`, `e` or `E`, an optional sign and one to
/// three digits, and the bytes it takes; (0, 0) when there is none.
fn exponent(s: &[u8]) -> Option<(i32, usize)> {
    if !matches!(s.first(), Some(b'e' | b'E')) {
        return Some((0, 0));
    }
    let negative = s.get(1) == Some(&b'-');
    let at = 1 + usize::from(negative || s.get(1) == Some(&b'+'));
    let digits = s[at..]
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let value = s[at..at + digits]
        .iter()
        .fold(0, |v, &b| v * 10 + i32::from(b - b'0'));
    Some((if negative { -value } else { value }, at + digits))
}

/// m / 10^(decimals − exponent) when that power is 10⁰ ..= 10⁻²⁷.
fn scaled(mantissa: u64, decimals: usize, exponent: i32) -> Option<f64> {
    let d = usize::try_from(i32::try_from(decimals).ok()? - exponent).ok()?;
    if d >= INV_POW5.len() {
        return None;
    }
    Some(if mantissa == 0 {
        0.0
    } else {
        eisel_lemire(mantissa, d)
    })
}

/// [`decimal_prefix`] for the common case, with no branch that depends on
/// the digits: at least 40 bytes to read, 1 to 7 integer digits, and at
/// most 19 digits in all with 1 to 23 decimals (read by `path`), and with
/// `EXP` an optional exponent (numpy's `savetxt` writes
/// `-2.063050682434401915e+00`). `None` leaves the field to
/// [`any_decimal`].
#[inline(always)] // Into the row loop: a call per field costs as much as the parse.
#[allow(clippy::inline_always)]
pub(super) fn short_decimal<const COMMA: bool, const EXP: bool, P: ShortPath>(
    s: &[u8],
    path: P,
) -> Option<(f64, usize)> {
    let s: &[u8; 40] = s.first_chunk()?;
    let negative = s[0] == b'-';
    let at = usize::from(negative || s[0] == b'+');
    // One integer digit (standardized and most measured data) needs no
    // digit run.
    let first = s[at].wrapping_sub(b'0');
    let (int_len, int) = if first <= 9 && is_point(s[at + 1], COMMA) {
        (1, u64::from(first))
    } else {
        let (len, int) = leading_digits(word(s, at));
        if len == 0 || len == 8 {
            return None;
        }
        (len, int)
    };
    let point = at + int_len;
    // The sign bit set by arithmetic: signs vary from field to field, and a
    // branch on them is mispredicted about half the time.
    let sign = |v: f64| f64::from_bits(v.to_bits() | (u64::from(negative) << 63));
    if !is_point(s[point], COMMA) {
        #[allow(clippy::cast_precision_loss)] // Exact: at most 7 digits.
        return Some((sign(int as f64), point));
    }
    let (mantissa, decimals, end) = path.decimals(s, point, (int_len, int))?;
    if EXP {
        let (e, used) = exponent(&s[end..])?;
        return Some((sign(scaled(mantissa, decimals, e)?), end + used));
    }
    // Without `EXP` an exponent is left to `any_decimal`: reading it here
    // cost about 13 instructions a field (callgrind) on files that have
    // none, so the CSV reader picks `EXP` per chunk, from its first line.
    if s[end] | 0x20 == b'e' {
        return None;
    }
    let value = if mantissa == 0 {
        0.0
    } else {
        eisel_lemire(mantissa, decimals)
    };
    Some((sign(value), end))
}

/// 10ᵏ for the k ≤ 8 digits of one word.
pub(super) const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The number of leading ASCII digits of an 8-byte word (little-endian, so
/// the first byte is the lowest) and their value, by SWAR: a digit mask
/// finds where the run ends and three multiplications combine its digits
/// (the method of simdjson and fast_float).
#[inline]
pub(super) fn leading_digits(v: u64) -> (usize, u64) {
    const LOW: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    let low = v & LOW;
    // A byte is a digit when its high nibble is 3 and its low one at most 9.
    let other = ((v & HIGH) ^ 0x3030_3030_3030_3030) | ((low + 0x0606_0606_0606_0606) & HIGH);
    let len = other.trailing_zeros() / 8;
    // The run's digits in the high bytes, zeros (leading zeros) below; no
    // digits shifts everything out.
    let mut d = low.checked_shl(8 * (8 - len)).unwrap_or(0);
    d = d.wrapping_mul(10).wrapping_add(d >> 8);
    d = ((d & 0x0000_00ff_0000_00ff)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((d >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32))))
        >> 32;
    (len as usize, d)
}

/// [`decimal_prefix`] for any plain decimal: runs of digits of any length,
/// a missing integer part, 20 or more digits with leading zeros.
#[cold]
#[inline(never)]
fn any_decimal(s: &[u8], comma: bool) -> Option<(f64, usize)> {
    let signed = usize::from(s.first() == Some(&b'-') || s.first() == Some(&b'+'));
    let mut at = signed;
    let (mut mantissa, mut digits) = digit_run(s, at, 0);
    at += digits;
    let mut decimals = 0;
    let pointed = s.get(at).is_some_and(|&b| is_point(b, comma));
    if pointed {
        (mantissa, decimals) = digit_run(s, at + 1, mantissa);
        at += 1 + decimals;
        digits += decimals;
    }
    // Leading zeros do not count towards the 19 (0.000123… is common).
    let significant = || {
        digits
            - s[signed..at]
                .iter()
                .take_while(|&&b| b == b'0' || b == b'.')
                .filter(|&&b| b == b'0')
                .count()
    };
    if digits == 0 || (digits > 19 && significant() > 19) {
        return None;
    }
    // Only a decimal with a point takes an exponent here.
    let (e, used) = if pointed { exponent(&s[at..])? } else { (0, 0) };
    let value = scaled(mantissa, decimals, e)?;
    Some((if s[0] == b'-' { -value } else { value }, at + used))
}

/// For d = 0 ..= 27: 5⁻ᵈ as a 128-bit fraction with its top bit set,
/// ⌊2^(127 + z) / 5ᵈ⌋ + 1 with 2^(z−1) < 5ᵈ ≤ 2ᶻ (the table of fast_float
/// and the standard library's parser, computed here by long division), as
/// (high, low) words.
// Each quotient word is below 2⁶⁴: the remainder carried in is below p.
#[allow(clippy::cast_possible_truncation)]
const INV_POW5: [(u64, u64); 28] = {
    let mut table = [(1 << 63, 0); 28];
    let mut d = 1;
    while d < 28 {
        let p = 5u64.pow(d);
        let z = 64 - (p - 1).leading_zeros();
        // 2^(127 + z) in three 64-bit words, divided by p word by word.
        let bit = 127 + z;
        let mut words = [0u64; 3];
        words[2 - (bit / 64) as usize] = 1 << (bit % 64);
        let mut quotient = [0u64; 3];
        let mut rem: u128 = 0;
        let mut w = 0;
        while w < 3 {
            let cur = (rem << 64) | words[w] as u128;
            quotient[w] = (cur / p as u128) as u64;
            rem = cur % p as u128;
            w += 1;
        }
        // The quotient is below 2¹²⁸: the top word is zero.
        let low = quotient[2].wrapping_add(1);
        let high = quotient[1] + (low == 0) as u64;
        table[d as usize] = (high, low);
        d += 1;
    }
    table
};

/// m / 10ᵈ rounded to the nearest double, ties to even, for 1 ≤ m < 2⁶⁴
/// and 0 ≤ d ≤ 27, by the Eisel–Lemire algorithm (the standard library's
/// and fast_float's): m, normalized, times 5⁻ᵈ from [`INV_POW5`] in 128
/// bits; the top 55 bits of the product give the mantissa and its rounding.
/// Two multiplications instead of the 128-bit division (a library call)
/// that an exact quotient needs.
/// For 5⁻ᵈ with d ≤ 27 the truncated table entry is close enough that the
/// product never needs the slow fallback (Lemire, "Number parsing at a
/// gigabyte per second", 2021), and ties can only occur for d ≤ 4, where
/// the product is exact. The quotient lies between 2⁻⁹⁰ and 2⁶⁴, far from
/// subnormals and overflow.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]
fn eisel_lemire(m: u64, d: usize) -> f64 {
    // Nine bits below the 55 kept, all ones: the low word of 5⁻ᵈ can carry into them.
    const MASK: u64 = u64::MAX >> 55;
    let lz = m.leading_zeros();
    let w = m << lz;
    let (high5, low5) = INV_POW5[d];
    let first = u128::from(w) * u128::from(high5);
    let (mut lo, mut hi) = (first as u64, (first >> 64) as u64);
    if hi & MASK == MASK {
        let second_hi = ((u128::from(w) * u128::from(low5)) >> 64) as u64;
        lo = lo.wrapping_add(second_hi);
        if second_hi > lo {
            hi += 1;
        }
    }
    let upper = (hi >> 63) as i32;
    let mut mantissa = hi >> (upper + 9);
    // ⌊−d·log₂10⌋ + 63 (exact for |d| < 2¹⁰), then the IEEE bias.
    let q = -(d as i32);
    let mut exponent = ((q * (152_170 + 65_536)) >> 16) + 63 + upper - lz as i32 + 1023;
    // Exactly halfway between two doubles: round to even, not up.
    if lo <= 1 && d <= 4 && mantissa & 3 == 1 && (mantissa << (upper + 9)) == hi {
        mantissa &= !1;
    }
    mantissa += mantissa & 1;
    mantissa >>= 1;
    if mantissa >= 2 << 52 {
        mantissa = 1 << 52;
        exponent += 1;
    }
    f64::from_bits((mantissa & !(1 << 52)) | ((exponent as u64) << 52))
}

/// Appends the run of ASCII digits at `s[at..]` to `mantissa` (decimal
/// shift and add, wrapping past 19 digits, which callers decline): the new
/// mantissa and the run's length. Eight bytes at a time
/// ([`leading_digits`]), instead of one dependent multiply-add per digit.
#[inline]
fn digit_run(s: &[u8], mut at: usize, mut mantissa: u64) -> (u64, usize) {
    let start = at;
    while let Some(&bytes) = s.get(at..).and_then(|rest| rest.first_chunk::<8>()) {
        let (len, d) = leading_digits(u64::from_le_bytes(bytes));
        mantissa = mantissa.wrapping_mul(POW10[len]).wrapping_add(d);
        at += len;
        if len < 8 {
            return (mantissa, at - start);
        }
    }
    // The last few bytes of the buffer, one at a time.
    while let Some(d) = s.get(at).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9) {
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
        at += 1;
    }
    (mantissa, at - start)
}

/// Whether `s` could parse as a number (`str::parse::<f64>` takes a sign,
/// then a digit, a point, `inf`, `infinity` or `nan`; a decimal comma may
/// stand for the point): text labels such as `yes` skip both parsers.
fn may_be_number(s: &[u8], decimal_comma: bool) -> bool {
    let signed = usize::from(matches!(s.first(), Some(b'+' | b'-')));
    s.get(signed).is_some_and(|&b| {
        b.is_ascii_digit() || is_point(b, decimal_comma) || matches!(b | 0x20, b'i' | b'n')
    })
}

fn is_missing_marker(s: &str) -> bool {
    ["na", "n/a", "nan", "null", "none", "#n/a", "-nan"]
        .iter()
        .any(|m| s.eq_ignore_ascii_case(m))
}

/// Reads and parses a CSV file.
///
/// # Errors
/// Any [`DataError`] about the file's bytes or structure.
pub fn read_table(path: &std::path::Path) -> Result<Table, DataError> {
    read_table_with(path, &super::fast::Progress::default())
}

/// Reads and parses a CSV file, reporting progress and honouring cancellation:
/// large plain files stream block by block through the parallel parser, all
/// others are read whole and parsed sequentially.
///
/// # Errors
/// Any [`DataError`] about the file's bytes or structure, or [`DataError::Cancelled`].
pub fn read_table_with(
    path: &std::path::Path,
    progress: &super::fast::Progress,
) -> Result<Table, DataError> {
    let shown = path.display().to_string();
    if let Some(table) = super::fast::read_streaming(path, &shown, progress)? {
        return Ok(table);
    }
    let bytes = std::fs::read(path).map_err(|e| DataError::Io {
        reason: e.to_string(),
        path: shown.clone(),
    })?;
    parse_table(&bytes, &shown)
}

/// Parses CSV bytes; `path` is only used in messages.
///
/// # Errors
/// Any [`DataError`] about the bytes or structure.
pub fn parse_table(bytes: &[u8], path: &str) -> Result<Table, DataError> {
    let (text, latin1) = decode(bytes, path)?;
    // Old Mac files end lines with a lone carriage return: before the
    // delimiter is sniffed from the first lines.
    let text = if text.contains('\n') {
        text
    } else {
        lone_carriage_returns_as_newlines(text)
    };
    let text: &str = &text;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(DataError::Empty { path: path.into() });
    }
    let delimiter = sniff_delimiter(text);
    if text.len() >= super::fast::MIN_BYTES
        && let Some(table) = super::fast::parse(text, delimiter, latin1, path)?
    {
        return Ok(table);
    }
    // Files pasted together can mix lone carriage returns in (the fast
    // path declines them).
    let text = lone_carriage_returns_as_newlines(std::borrow::Cow::Borrowed(text));
    parse_sequential(&text, delimiter, latin1, path)
}

/// `text` with each carriage return not followed by a newline made one:
/// the csv crate ends records at them but does not count them as lines, so
/// the lines of messages would not be the file's.
fn lone_carriage_returns_as_newlines(text: std::borrow::Cow<'_, str>) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let lone = |i: usize| bytes.get(i + 1) != Some(&b'\n');
    if !text.match_indices('\r').any(|(i, _)| lone(i)) {
        return text;
    }
    let mut owned = bytes.to_vec();
    for (i, b) in owned.iter_mut().enumerate() {
        if *b == b'\r' && lone(i) {
            *b = b'\n';
        }
    }
    // A carriage return is never part of a longer UTF-8 sequence.
    std::borrow::Cow::Owned(String::from_utf8(owned).unwrap_or_default())
}

/// The reference parser: the csv crate, one record at a time. Handles every
/// CSV the fast path declines (unusual quoting, lone carriage returns, small
/// files).
///
/// # Errors
/// Any [`DataError`] about the structure.
pub fn parse_sequential(
    text: &str,
    delimiter: u8,
    latin1: bool,
    path: &str,
) -> Result<Table, DataError> {
    let decimal_comma = delimiter == b';';
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());

    let mut names: Vec<String> = Vec::new();
    let mut columns: Vec<Column> = Vec::new();
    let mut grid = Grid::new(0, 0);
    let mut row = Vec::new();
    let mut lines = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut header_seen = false;
    let mut header_fields = 0;
    let mut lines_before = LineCounter::new(text);
    loop {
        let more = reader
            .read_record(&mut record)
            .map_err(|e| DataError::Malformed {
                line: e.position().map_or(0, |p| {
                    lines_before.line_at(usize::try_from(p.byte()).unwrap_or(usize::MAX))
                }),
                reason: csv_reason(&e),
                path: path.into(),
            })?;
        if !more {
            break;
        }
        // The csv crate does not count blank lines, so the physical line
        // comes from the record's byte offset.
        let byte = record
            .position()
            .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        let line = lines_before.line_at(byte);
        if record.iter().all(str::is_empty) {
            // Blank lines (and rows of empty fields) carry nothing.
            continue;
        }
        if !header_seen {
            header_seen = true;
            names = header_names(&record, path)?;
            header_fields = record.len();
            columns = vec![Column::default(); names.len()];
            grid = Grid::new(names.len(), 1024);
            row = vec![0.0; names.len()];
            continue;
        }
        let found = record.len();
        let expected = names.len();
        // Trailing empty fields (a trailing delimiter) are tolerated.
        let meaningful = meaningful_len(&record);
        if found < expected || meaningful > expected {
            // A quote left open runs its field to the end of the file: the
            // record's own text then holds an odd number of quotes.
            let end = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
            let raw = text.get(byte..end.min(text.len())).unwrap_or("");
            let hint = if found < expected && raw.matches('"').count() % 2 == 1 {
                format!(" (a quote opened on line {line} is never closed)")
            } else {
                unnamed_hint(meaningful, expected, header_fields)
            };
            return Err(DataError::Ragged {
                line,
                text: raw.lines().next().unwrap_or("").into(),
                found: if found < expected { found } else { meaningful },
                expected,
                hint,
                path: path.into(),
            });
        }
        for (c, (column, field)) in columns.iter_mut().zip(record.iter()).enumerate() {
            row[c] = column.push(grid.column(c), field, line, decimal_comma);
        }
        if !grid.push_row(&row) {
            return Err(DataError::TooLarge {
                megabytes: names.len().saturating_mul(lines.len()).saturating_mul(16) / 1_000_000,
                path: path.into(),
            });
        }
        lines.push(line);
    }
    if !header_seen {
        return Err(DataError::Empty { path: path.into() });
    }
    if lines.is_empty() {
        return Err(DataError::NoRows { path: path.into() });
    }
    Ok(Table {
        path: path.into(),
        names,
        columns,
        values: grid.into_values(),
        lines,
        delimiter,
        decimal_comma,
        latin1,
    })
}

/// `len` zeros, or `None` when the system will not give that much memory
/// (or no buffer can hold `len`). Asking first turns a refusal into an
/// error the user reads instead of an abort; the zeroed buffer is then
/// mapped as it is written.
pub(crate) fn zeroed(len: Option<usize>) -> Option<Vec<f64>> {
    let len = len?;
    Vec::<f64>::new().try_reserve_exact(len).ok()?;
    Some(vec![0.0; len])
}

/// Values being parsed: column after column, with room for `stride` rows
/// each (room never written costs no memory), so that joining parts and
/// handing the buffer to a feature matrix need no new one.
#[derive(Debug)]
pub(crate) struct Grid {
    data: Vec<f64>,
    columns: usize,
    stride: usize,
    rows: usize,
}

impl Grid {
    /// No rows yet, room for `room` (at least one).
    pub(crate) fn new(columns: usize, room: usize) -> Self {
        let stride = room.max(1);
        Self {
            data: vec![0.0; columns * stride],
            columns,
            stride,
            rows: 0,
        }
    }

    /// [`Grid::new`], or `None` when the system will not give that much
    /// memory ([`zeroed`]).
    pub(crate) fn try_new(columns: usize, room: usize) -> Option<Self> {
        let stride = room.max(1);
        Some(Self {
            data: zeroed(columns.checked_mul(stride))?,
            columns,
            stride,
            rows: 0,
        })
    }

    /// Column `c`'s values so far.
    pub(crate) fn column(&self, c: usize) -> &[f64] {
        &self.data[c * self.stride..c * self.stride + self.rows]
    }

    /// Room for `rows` rows at least, doubling: each column moved once.
    /// False when the system will not give the memory ([`zeroed`]).
    #[must_use]
    fn reserve(&mut self, rows: usize) -> bool {
        if rows <= self.stride {
            return true;
        }
        let stride = rows.max(2 * self.stride);
        let Some(mut data) = zeroed(self.columns.checked_mul(stride)) else {
            return false;
        };
        for c in 0..self.columns {
            data[c * stride..c * stride + self.rows].copy_from_slice(self.column(c));
        }
        self.data = data;
        self.stride = stride;
        true
    }

    /// Appends a row (one value per column); false, and nothing appended,
    /// when growing past the room needs memory the system will not give.
    #[inline]
    #[must_use]
    pub(crate) fn push_row(&mut self, row: &[f64]) -> bool {
        if !self.reserve(self.rows + 1) {
            return false;
        }
        debug_assert_eq!(row.len(), self.columns);
        for (c, &v) in row.iter().enumerate() {
            self.data[c * self.stride + self.rows] = v;
        }
        self.rows += 1;
        true
    }

    /// The rows so far.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Each column's room split into parts of `rooms` rows (all the room,
    /// in order): per part, its stretch of every column.
    pub(crate) fn split(&mut self, rooms: &[usize]) -> Vec<Vec<&mut [f64]>> {
        debug_assert_eq!(rooms.iter().sum::<usize>(), self.stride);
        let mut parts: Vec<Vec<&mut [f64]>> = rooms.iter().map(|_| Vec::new()).collect();
        for mut rest in self.data.chunks_mut(self.stride) {
            for (part, &room) in parts.iter_mut().zip(rooms) {
                let (mine, tail) = rest.split_at_mut(room);
                part.push(mine);
                rest = tail;
            }
        }
        parts
    }

    /// The values with no room left between columns: column `c` at
    /// `c · rows`. The columns move down in place, so the pages already
    /// written are reused.
    pub(crate) fn into_values(self) -> Vec<f64> {
        let (rows, stride) = (self.rows, self.stride);
        self.close_up(&[stride], &[(rows, None)])
    }

    /// The values of parts written into this grid's rooms of `rooms` rows
    /// (see [`Grid::split`]) — `placed[k].0` rows of part k, or, when it
    /// outgrew its room, all of them in its own grid `placed[k].1` — joined
    /// in order and closed up: column `c` at `c · n` for `n` rows in all.
    /// With every part in its room, the columns move down in place, in
    /// order, so the pages already written are reused; otherwise they are
    /// copied into a new buffer.
    pub(crate) fn close_up(
        mut self,
        rooms: &[usize],
        placed: &[(usize, Option<Grid>)],
    ) -> Vec<f64> {
        let n: usize = placed.iter().map(|p| p.0).sum();
        let stride = self.stride;
        let mut out = placed
            .iter()
            .any(|p| p.1.is_some())
            .then(|| vec![0.0; self.columns * n]);
        for c in 0..self.columns {
            let (mut to, mut from) = (c * n, c * stride);
            for (&room, (rows, own)) in rooms.iter().zip(placed) {
                match (&mut out, own) {
                    (None, _) => self.data.copy_within(from..from + rows, to),
                    (Some(out), None) => {
                        out[to..to + rows].copy_from_slice(&self.data[from..from + rows]);
                    }
                    (Some(out), Some(own)) => out[to..to + rows].copy_from_slice(own.column(c)),
                }
                to += rows;
                from += room;
            }
        }
        out.unwrap_or_else(|| {
            self.data.truncate(self.columns * n);
            // Shrinking a large buffer remaps it in place.
            self.data.shrink_to_fit();
            self.data
        })
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".into(),
        _ => e.to_string(),
    }
}

/// Why a row may have more fields than the header has names: the header's
/// last names are empty (it ends in delimiters), so the row's last fields
/// have no column.
pub(crate) fn unnamed_hint(found: usize, expected: usize, header_fields: usize) -> String {
    if found > expected && found <= header_fields {
        format!(
            " (the header gives column {} no name: name it to use it)",
            expected + 1
        )
    } else {
        String::new()
    }
}

pub(crate) fn header_names(
    record: &csv::StringRecord,
    path: &str,
) -> Result<Vec<String>, DataError> {
    // A trailing delimiter on the header gives an empty last name: drop it.
    let len = meaningful_len(record);
    // Each given name's first column; looked up, not searched (a file may
    // have 100,000 columns).
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, raw) in record.iter().take(len).enumerate() {
        if raw.is_empty() {
            continue;
        }
        if let Some(&first) = seen.get(raw) {
            return Err(DataError::DuplicateColumn {
                name: raw.to_string(),
                first: first + 1,
                second: i + 1,
                path: path.into(),
            });
        }
        seen.insert(raw, i);
    }
    // An empty name becomes "column N", unless the file names a column so.
    Ok(record
        .iter()
        .take(len)
        .enumerate()
        .map(|(i, raw)| match raw {
            "" if seen.contains_key(format!("column {}", i + 1).as_str()) => {
                format!("column {} (unnamed)", i + 1)
            }
            "" => format!("column {}", i + 1),
            raw => raw.to_string(),
        })
        .collect())
}

/// Windows-1252's characters for bytes 0x80..0xA0 (`None`: undefined bytes).
const CP1252_HIGH: [Option<char>; 32] = [
    Some('€'),
    None,
    Some('‚'),
    Some('ƒ'),
    Some('„'),
    Some('…'),
    Some('†'),
    Some('‡'),
    Some('ˆ'),
    Some('‰'),
    Some('Š'),
    Some('‹'),
    Some('Œ'),
    None,
    Some('Ž'),
    None,
    None,
    Some('‘'),
    Some('’'),
    Some('“'),
    Some('”'),
    Some('•'),
    Some('–'),
    Some('—'),
    Some('˜'),
    Some('™'),
    Some('š'),
    Some('›'),
    Some('œ'),
    None,
    Some('ž'),
    Some('Ÿ'),
];

/// A control byte no text holds (tab, newlines and form feed are text).
fn is_control(b: u8) -> bool {
    b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Whether the first 8 KiB are more than 1% control bytes: binary content.
pub(crate) fn mostly_control(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(8192)];
    head.iter().filter(|&&b| is_control(b)).count() * 100 > head.len().max(1)
}

/// Decodes bytes as UTF-8, or, when they are text that is not UTF-8, as
/// Latin-1 / Windows-1252 (what spreadsheets save); refuses binary content
/// (NUL bytes or many control bytes) and bytes no text encoding explains.
fn decode<'a>(bytes: &'a [u8], path: &str) -> Result<(std::borrow::Cow<'a, str>, bool), DataError> {
    // UTF-16 (what some spreadsheets call "Unicode text"): its byte-order
    // mark, or ASCII with a NUL after (or before) every character.
    let head = &bytes[..bytes.len().min(64) & !1];
    let nul_half =
        |odd: usize| !head.is_empty() && head.iter().skip(odd).step_by(2).all(|&b| b == 0);
    if bytes.starts_with(&[0xFF, 0xFE])
        || bytes.starts_with(&[0xFE, 0xFF])
        || nul_half(0) != nul_half(1)
    {
        return Err(DataError::Malformed {
            line: 1,
            reason: "it is UTF-16 text, which Steplab does not read; save it as UTF-8".into(),
            path: path.into(),
        });
    }
    if let Some(offset) = memchr_nul(bytes) {
        return Err(DataError::Binary {
            offset,
            path: path.into(),
        });
    }
    if mostly_control(bytes) {
        let offset = bytes.iter().position(|&b| is_control(b)).unwrap_or(0);
        return Err(DataError::Binary {
            offset,
            path: path.into(),
        });
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((std::borrow::Cow::Borrowed(s), false));
    }
    let mut text = String::with_capacity(bytes.len() + bytes.len() / 8);
    for (pos, &b) in bytes.iter().enumerate() {
        let c = if (0x80..0xa0).contains(&b) {
            CP1252_HIGH[usize::from(b - 0x80)]
        } else {
            Some(char::from(b))
        };
        let Some(c) = c else {
            let line = 1 + bytecount_newlines(&bytes[..pos]);
            return Err(DataError::Malformed {
                line,
                reason: format!(
                    "byte 0x{b:02x} is neither UTF-8 nor Latin-1 text; save the file as UTF-8"
                ),
                path: path.into(),
            });
        };
        text.push(c);
    }
    Ok((std::borrow::Cow::Owned(text), true))
}

fn bytecount_newlines(bytes: &[u8]) -> usize {
    bytes.split(|&b| b == b'\n').count().saturating_sub(1)
}

fn memchr_nul(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == 0)
}

/// Picks the delimiter among `,` `;` tab `|` that splits the first lines into
/// the same, largest number of fields (quotes respected).
#[must_use]
pub fn sniff_delimiter(text: &str) -> u8 {
    let sample: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .collect();
    // Rank by (every sampled line agrees with the header's count, the
    // header's count): a decimal comma makes `,` counts disagree across rows.
    let mut best: Option<(bool, usize, u8)> = None;
    for d in [b',', b';', b'\t', b'|'] {
        let counts: Vec<usize> = sample.iter().map(|l| count_outside_quotes(l, d)).collect();
        let Some(&header) = counts.first() else {
            continue;
        };
        if header == 0 {
            continue;
        }
        let consistent = counts.iter().all(|&c| c == header);
        if best.is_none_or(|(c, h, _)| (consistent, header) > (c, h)) {
            best = Some((consistent, header, d));
        }
    }
    best.map_or(b',', |(_, _, d)| d)
}

fn count_outside_quotes(line: &str, d: u8) -> usize {
    let mut quoted = false;
    let mut count = 0;
    for &b in line.as_bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            count += 1;
        }
    }
    count
}

/// Physical line numbers of byte offsets, for offsets that only grow.
struct LineCounter<'a> {
    text: &'a [u8],
    byte: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            byte: 0,
            line: 1,
        }
    }

    /// The 1-based line on which the record read from byte `offset` starts:
    /// the csv crate reports the end of the previous record, so the blank
    /// lines it skipped are stepped over first.
    fn line_at(&mut self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while self
            .text
            .get(offset)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            offset += 1;
        }
        if offset > self.byte {
            self.line += bytecount_newlines(&self.text[self.byte..offset]);
            self.byte = offset;
        }
        self.line
    }
}

/// Fields up to the last non-empty one.
fn meaningful_len(record: &csv::StringRecord) -> usize {
    (0..record.len())
        .rev()
        .find(|&i| record.get(i).is_some_and(|f| !f.is_empty()))
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_unique_and_empty_ones_are_named_by_position() {
        let names =
            |cells: &[&str]| header_names(&csv::StringRecord::from(cells.to_vec()), "f.csv");
        assert_eq!(names(&["a", "", "b", ""]).unwrap(), ["a", "column 2", "b"]);
        // The file's own "column 2" keeps its name; the empty one is told apart.
        assert_eq!(
            names(&["column 2", "", "y"]).unwrap(),
            ["column 2", "column 2 (unnamed)", "y"]
        );
        let wide: Vec<String> = (0..50_000)
            .map(|i| format!("c{i}"))
            .chain(["c7".into()])
            .collect();
        let wide: Vec<&str> = wide.iter().map(String::as_str).collect();
        assert_eq!(
            names(&wide).unwrap_err().to_string(),
            "column name 'c7' appears twice in the header (line 1, columns 8 and 50001): f.csv"
        );
    }

    /// A xorshift stream of test numbers.
    #[test]
    fn column_summaries_skip_missing_cells_on_every_core() {
        use std::fmt::Write as _;
        // 150,001 rows (several cores, a ragged end), with missing cells in
        // the first column's first row, eighth row and last row; the
        // second column is all missing.
        let n = 150_001;
        let mut csv = String::from("a,b,c\n");
        let mut a = Vec::new();
        for i in 0..n {
            let v = ((i * 7919) % 1000) as f64 / 8.0 - 40.0;
            if i == 0 || i == 7 || i == n - 1 {
                csv.push_str(",,1\n");
            } else {
                a.push(v);
                let _ = writeln!(csv, "{v},,{}", i % 3);
            }
        }
        let table = parse_table(csv.as_bytes(), "s.csv").unwrap();
        let all = table.summaries();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], table.summary(0));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        let var = a.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / a.len() as f64;
        let s = &all[0];
        assert!((s.mean - mean).abs() < 1e-9 && (s.std - var.sqrt()).abs() < 1e-9);
        assert_eq!((s.min, s.max, s.missing), (-40.0, 84.875, 3));
        assert!(all[1].mean.is_nan() && all[1].missing == n);
        assert_eq!((all[2].min, all[2].max), (0.0, 2.0));
    }

    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// The same value as the standard parser's, or declined where it fails,
    /// alone and followed by more of its row.
    fn check(text: &str) {
        assert_eq!(
            plain_decimal(text.as_bytes()).map(f64::to_bits),
            text.parse::<f64>().ok().map(f64::to_bits),
            "{text}"
        );
        check_in_a_row(text);
    }

    /// A field followed by more of its row, as the CSV fast path sees it
    /// (the short path reads 40 bytes ahead): the same value and length as
    /// the standard parser's, or declined.
    fn check_in_a_row(text: &str) {
        for rest in [
            ",0.25,-1.5,3,4.75,99,100,7.125,8",
            "\n-12345.678901234567,0",
        ] {
            let row = format!("{text}{rest}");
            let expected = text.parse::<f64>().ok().map(f64::to_bits);
            for parse in PREFIXES {
                match parse(row.as_bytes()) {
                    Some((v, used)) if used == text.len() => {
                        assert_eq!(Some(v.to_bits()), expected, "{text} in {row}");
                    }
                    Some((_, used)) => panic!("{text} in {row}: took {used} bytes"),
                    None => assert!(
                        plain_decimal(text.as_bytes()).is_none(),
                        "declined {text} in {row}"
                    ),
                }
            }
        }
    }

    /// [`decimal_prefix`] without and with exponents in its short path.
    type Prefix = fn(&[u8]) -> Option<(f64, usize)>;
    const PREFIXES: [Prefix; 4] = [
        swar::<false, false>,
        swar::<false, true>,
        sse::<false, false>,
        sse::<false, true>,
    ];
    const COMMA_PREFIXES: [Prefix; 4] = [
        swar::<true, false>,
        swar::<true, true>,
        sse::<true, false>,
        sse::<true, true>,
    ];

    /// [`decimal_prefix`] with the word-wise short path.
    fn swar<const COMMA: bool, const EXP: bool>(s: &[u8]) -> Option<(f64, usize)> {
        decimal_prefix::<COMMA, EXP, _>(s, Swar)
    }

    /// [`decimal_prefix`] with the vector short path where the CPU has it.
    fn sse<const COMMA: bool, const EXP: bool>(s: &[u8]) -> Option<(f64, usize)> {
        #[cfg(target_arch = "x86_64")]
        if let Some(sse) = super::super::sse::Sse::new() {
            return decimal_prefix::<COMMA, EXP, _>(s, sse);
        }
        swar::<COMMA, EXP>(s)
    }

    #[test]
    fn plain_decimals_parse_bit_for_bit_as_the_standard_parser() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let mut taken = 0;
        for _ in 0..200_000 {
            let r = next();
            let digits = 1 + (r % 19) as usize;
            let mut text: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let point = (r >> 8) as usize % (digits + 2);
            if point <= digits {
                text.insert(point, '.');
            }
            match (r >> 16) % 3 {
                0 => text.insert(0, '-'),
                1 => text.insert(0, '+'),
                _ => {}
            }
            let expected = text.parse::<f64>().ok();
            check_in_a_row(&text);
            match plain_decimal(text.as_bytes()) {
                Some(v) => {
                    taken += 1;
                    assert_eq!(Some(v.to_bits()), expected.map(f64::to_bits), "{text}");
                }
                None => assert!(expected.is_none(), "declined {text}"),
            }
        }
        assert!(taken > 100_000, "fast path taken {taken} times");
        for text in [
            "-0",
            "0.",
            ".5",
            "-.0",
            "+3",
            "007.50",
            "9007199254740992",
            "9007199254740993",
            "9999999999999999999",
            "0.0000000000000000001",
            "0.000000000000000000000000001",
            "0.000000000000000000000000000",
            "000000000000000000000012.5",
            "9999999999.999999999",
            ".9999999999999999999",
        ] {
            check(text);
        }
        for text in [
            "",
            ".",
            "-",
            "+",
            "1e5",
            "1.2.3",
            "inf",
            "nan",
            "1,5",
            " 1",
            "--1",
            "18446744073709551615",
            "0.0000000000000000000000000001",
        ] {
            assert_eq!(plain_decimal(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn exponents_and_decimal_commas_parse_bit_for_bit_as_the_standard_parser() {
        let mut next = xorshift(0x0DDB_A11C_AFE5_0001);
        let mut taken = 0;
        for _ in 0..100_000 {
            let r = next();
            // Any double, or one of measured data's magnitudes (the range
            // the fast path takes).
            let v = if r.is_multiple_of(2) {
                f64::from_bits(next()).abs()
            } else {
                let unit = (next() >> 11) as f64 / (1u64 << 53) as f64;
                unit * 10f64.powi(((r >> 20) % 25) as i32 - 12)
            };
            if !v.is_finite() {
                continue;
            }
            // numpy's savetxt ("%.18e": e+05, e-123) and Rust's own ("e5").
            let rust = format!("{:.*e}", (r % 19) as usize, v);
            let (digits, e) = rust.split_once('e').unwrap_or((&rust, "0"));
            let e: i32 = e.parse().unwrap_or(0);
            let numpy = format!("{digits}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
            for text in [numpy, rust] {
                // Without a point the exponent is left to the full parser
                // (the field then ends early and the row takes the general path).
                if text.contains('.') {
                    check_in_a_row(&text);
                }
                let expected = text.parse::<f64>().ok().map(f64::to_bits);
                if let Some(v) = plain_decimal(text.as_bytes()) {
                    taken += 1;
                    assert_eq!(Some(v.to_bits()), expected, "{text}");
                }
                // The same digits with a decimal comma, before a semicolon.
                let comma = format!("{};1,5;2", text.replace('.', ","));
                for parse in COMMA_PREFIXES {
                    match parse(comma.as_bytes()) {
                        Some((v, used)) if used == text.len() => {
                            assert_eq!(Some(v.to_bits()), expected, "{comma}");
                        }
                        Some(_) => assert!(!text.contains('.'), "{comma}"),
                        None => {}
                    }
                }
            }
        }
        assert!(taken > 40_000, "fast path taken {taken} times");
        for text in [
            "1.5e+00",
            "-1.5E-26",
            "1.288184753155462881e+00",
            "9.999999999999999999e-09",
            "0.0e+00",
            "-0.0e-05",
        ] {
            check(text);
        }
        // Outside 10⁰ ..= 10⁻²⁷ (left to the full parser), or malformed.
        for text in [
            "1.5e30", "1.5e-30", "1.5e", "1.5e+", "1.5e1234", "1.5ee1", "1e5", "1.5e+-1",
        ] {
            assert_eq!(plain_decimal(text.as_bytes()), None, "{text}");
            // Nor in a row, where the short path reads with `EXP` too.
            for parse in PREFIXES {
                let row = format!("{text},0.25,-1.5,3,4.75,99,100,7.125,8");
                let used = parse(row.as_bytes()).map_or(0, |(_, used)| used);
                assert!(used < text.len(), "{row}");
            }
        }
        for (point, comma) in [
            (PREFIXES[0], COMMA_PREFIXES[0]),
            (PREFIXES[2], COMMA_PREFIXES[2]),
        ] {
            assert_eq!(point(b"1,5;0"), Some((1.0, 1)));
            assert_eq!(comma(b"1,5;0"), Some((1.5, 3)));
            assert_eq!(comma(b"-2.5e1;0"), Some((-25.0, 6)));
        }
    }

    #[test]
    fn every_decimal_count_and_every_tie_rounds_like_the_standard_parser() {
        // Every entry of the 5⁻ᵈ table, with mantissas of every length up
        // to 19 digits (leading zeros where d exceeds the digits).
        let mut next = xorshift(0x1234_5678_9ABC_DEF1);
        for d in 1..=27 {
            for len in 1..=19 {
                for _ in 0..200 {
                    let digits = format!("{:019}", next() % 10_000_000_000_000_000_000);
                    let digits = &digits[19 - len..];
                    let text = if d >= len {
                        format!("0.{}{digits}", "0".repeat(d - len))
                    } else {
                        format!("{}.{}", &digits[..len - d], &digits[len - d..])
                    };
                    check(&text);
                }
            }
        }
        // Values exactly halfway between two doubles, N / 2ˢ with N = 2⁵³ +
        // odd (s decimals, 16 + s significant digits): both neighbours'
        // mantissas, even and odd, so round-half-even goes down and up.
        for s in 1..=4u32 {
            for odd in [1u64, 3, 5, 7, 1001, 1 << 20 | 1] {
                let n = (1u64 << 53) + odd;
                let (int, rem) = (n >> s, n & ((1 << s) - 1));
                let text = format!("{int}.{:0width$}", rem * 5u64.pow(s), width = s as usize);
                check(&text);
                check(&format!("-{text}"));
            }
        }
    }

    #[test]
    #[allow(clippy::cast_possible_truncation)]
    fn long_mantissas_round_like_the_standard_parser() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        for _ in 0..300_000 {
            // The shortest forms other tools write: mostly 16 and 17 digits.
            let scale = [1e-3, 1.0, 1e3, 1e9][(next() % 4) as usize];
            #[allow(clippy::cast_precision_loss)]
            let v = (next() >> 11) as f64 / (1u64 << 53) as f64 * scale;
            check(&format!("{v}"));
            check(&format!("-{v}"));
            // 18 and 19 digits with the point anywhere.
            let digits = 18 + (next() % 2) as usize;
            let mut text: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            text.insert((next() % (digits as u64 + 1)) as usize, '.');
            check(&text);
        }
        // Exact ties between two doubles go to the even one, and a digit
        // far below the tie breaks it.
        for k in 0..2_000_u64 {
            let odd = (1u64 << 53) + 2 * k + 1;
            check(&format!("{odd}.0"));
            check(&format!("{}.5", (odd >> 1)));
            check(&format!("{}.5000000000000001", (odd >> 1) % 100));
            check(&format!("{}.00", 2 * odd));
            check(&format!("{}.01", 2 * odd));
        }
    }

    #[test]
    fn sniffs_each_delimiter_and_decimal_commas() {
        assert_eq!(sniff_delimiter("a,b\n1,2\n"), b',');
        assert_eq!(sniff_delimiter("a;b\n1,5;2,5\n3;4,25\n"), b';');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n"), b'\t');
        assert_eq!(sniff_delimiter("a|b\n1|2\n"), b'|');
        assert_eq!(sniff_delimiter("\"x,y\";b\n1;2\n"), b';');
        let t = parse_table(b"a;b\n1,5;2\n", "f.csv").unwrap();
        assert!(t.decimal_comma);
        assert_eq!(t.values(0), [1.5]);
    }

    #[test]
    fn windows_1252_text_is_decoded_and_undefined_bytes_are_refused() {
        let t = parse_table(b"city,x\nK\xf6ln \x80,1\n", "f.csv").unwrap();
        assert!(t.latin1);
        assert_eq!(t.columns[0].texts.as_ref().unwrap().get(0), Some("Köln €"));
        let err = parse_table(b"city,x\nok,1\nbad\x81,2\n", "f.csv").unwrap_err();
        assert!(
            err.to_string().starts_with("line 3 cannot be parsed"),
            "{err}"
        );
    }

    #[test]
    #[allow(clippy::cast_possible_truncation)] // An index below the alphabet's length.
    fn cells_that_cannot_be_numbers_are_classified_as_by_both_parsers() {
        // The standard parser alone, without the shortcut for cells that
        // cannot start a number or the fast decimal path.
        let reference = |raw: &str, comma: bool| {
            let s = trim(raw);
            if s.is_empty() {
                Cell::Missing
            } else {
                standard_cell(s, comma)
            }
        };
        let alphabet = b"0123456789+-.,eEiInNfFaAtyY#/ x";
        let mut next = xorshift(0xC311_5EED_0000_0001);
        for _ in 0..200_000 {
            let r = next();
            let len = 1 + (r % 9) as usize;
            let cell: String = (0..len)
                .map(|k| {
                    char::from(alphabet[((r >> (8 + 5 * k)) % alphabet.len() as u64) as usize])
                })
                .collect();
            for comma in [false, true] {
                assert_eq!(
                    parse_cell(&cell, comma),
                    reference(&cell, comma),
                    "{cell:?}"
                );
            }
        }
        for cell in [
            "inf",
            "-Infinity",
            "+nan",
            "NaN",
            "#N/A",
            "n/a",
            ",5",
            "yes",
            "No",
            "-",
        ] {
            for comma in [false, true] {
                assert_eq!(parse_cell(cell, comma), reference(cell, comma), "{cell:?}");
            }
        }
    }

    #[test]
    fn texts_keep_each_distinct_text_once_and_every_row_in_order() {
        let rows = ["yes", "no", "", "yes", "maybe", "no"];
        let (mut a, mut b) = (Texts::default(), Texts::default());
        for r in &rows[..3] {
            a.push(r);
        }
        for r in &rows[3..] {
            b.push(r);
        }
        a.append(b);
        assert_eq!(a.iter().collect::<Vec<_>>(), rows);
        assert_eq!((a.get(4), a.get(6), a.len()), (Some("maybe"), None, 6));
        assert_eq!(a.names.len(), 4);
        // Few labels over many rows, and as many texts as rows, through
        // the index's growth.
        let (mut labels, mut unique) = (Texts::default(), Texts::default());
        for i in 0..10_000 {
            labels.push(&format!("label {}", i % 37));
            unique.push(&i.to_string());
        }
        // The identifiers stop being looked up past MAX_DISTINCT.
        assert_eq!((labels.names.len(), unique.names.len()), (37, 10_000));
        assert!(!labels.plain && unique.plain);
        // Appending either to the other keeps every row.
        let mut both = labels.clone();
        both.append(unique.clone());
        let mut other_way = unique.clone();
        other_way.append(labels.clone());
        assert!(both.iter().eq(labels.iter().chain(unique.iter())));
        assert!(other_way.iter().eq(unique.iter().chain(labels.iter())));
        for (i, (l, u)) in labels.iter().zip(unique.iter()).enumerate() {
            assert_eq!(
                (l, u),
                (format!("label {}", i % 37).as_str(), i.to_string().as_str())
            );
        }
        // Equal when every row's text is, however the texts were gathered.
        let of = |rows: &[&str]| {
            let mut t = Texts::default();
            for r in rows {
                t.push(r);
            }
            t
        };
        let mut joined = of(&["yes"]);
        joined.append(of(&["no", "yes"]));
        assert_eq!(joined, of(&["yes", "no", "yes"]));
        assert_ne!(joined, of(&["yes", "no", "no"]));
    }

    #[test]
    fn cells_are_classified() {
        assert_eq!(parse_cell(" 2.5 ", false), Cell::Number(2.5));
        for missing in ["", "NA", "nan", "NaN", "null", "inf", "-Infinity", "1e400"] {
            assert_eq!(parse_cell(missing, false), Cell::Missing, "{missing}");
        }
        assert_eq!(parse_cell("abc", false), Cell::Text);
        assert_eq!(parse_cell("3,5", true), Cell::Number(3.5));
        assert_eq!(parse_cell("3,5", false), Cell::Text);
    }

    #[test]
    fn lines_count_the_blank_lines_the_csv_crate_skips() {
        let t = parse_sequential("\na,b\r\n1,2\r\n,,\r\n\r\nx,4\r\n", b',', false, "f").unwrap();
        assert_eq!(t.lines, vec![3, 6]);
        assert_eq!(t.columns[0].first_texts[0].line, 6);
    }

    #[test]
    fn utf16_files_are_named_as_such() {
        for utf16 in [
            &b"\xff\xfea\0,\0y\0"[..],
            b"a\x00,\x00y\x00\n\x001\x00",
            b"\0a\0,\0y",
        ] {
            let e = parse_table(utf16, "f.csv").unwrap_err().to_string();
            assert!(
                e.contains("UTF-16") && e.contains("save it as UTF-8"),
                "{e}"
            );
        }
    }

    #[test]
    fn lone_carriage_returns_end_lines() {
        let t = parse_table(b"a,y\r1,2\r\r2,x\r", "f.csv").unwrap();
        assert_eq!(t.lines, vec![2, 4]);
        assert_eq!(t.columns[1].first_texts[0].line, 4);
        let short = parse_table(b"a,y\r1,2\r3\r", "f.csv").unwrap_err();
        assert_eq!(
            short.to_string(),
            "line 3 has 1 field ('3') but the header has 2 columns: f.csv"
        );
        // Mixed with \n and \r\n, each ends one line.
        let mixed = parse_table(b"a,b,y\n1,2,3\r\n2,1,4\r3,oops,5\n", "f.csv").unwrap();
        assert_eq!(mixed.lines, vec![2, 3, 4]);
        assert_eq!(mixed.columns[1].first_texts[0].line, 4);
    }

    #[test]
    fn a_quote_left_open_is_named_and_a_short_row_is_not_blamed_on_one() {
        let open = parse_table(b"a,b,y\n1,2,3\n\"4,5,6\n7,8,9\n", "f.csv").unwrap_err();
        assert_eq!(
            open.to_string(),
            "line 3 has 1 field ('\"4,5,6') but the header has 3 columns (a quote opened on line 3 is never closed): f.csv"
        );
        let short = parse_table(b"a,b,y\n1,2,3\n\"4\n5\",6\n", "f.csv").unwrap_err();
        assert_eq!(
            short.to_string(),
            "line 3 has 2 fields ('\"4') but the header has 3 columns: f.csv"
        );
    }

    #[test]
    fn numeric_columns_with_a_typo_stay_numeric() {
        let t = parse_table(b"a,b\n1,x\n2,y\nz,w\n3,v\n", "f.csv").unwrap();
        assert!(t.columns[0].is_numeric());
        assert!(!t.columns[1].is_numeric());
        assert_eq!(
            t.columns[0].first_texts[0],
            CellRef {
                line: 4,
                text: "z".into()
            }
        );
        assert_eq!(t.lines, vec![2, 3, 4, 5]);
    }

    #[test]
    fn grids_grow_split_and_close_up_their_columns() {
        // Room for one row: every push outgrows it.
        let mut a = Grid::new(3, 1);
        for r in 0..5 {
            let r = f64::from(r);
            assert!(a.push_row(&[r, 10.0 + r, 20.0 + r]));
        }
        let expected: Vec<f64> = (0..3)
            .flat_map(|c| (0..5).map(move |r| f64::from(10 * c + r)))
            .collect();
        assert_eq!(a.into_values(), expected);
        assert!(Grid::new(0, 0).into_values().is_empty());
        // More than any system gives: refused, not aborted.
        assert!(Grid::try_new(1 << 20, 1 << 40).is_none());
        assert!(Grid::try_new(usize::MAX, 2).is_none());
        assert!(Grid::try_new(3, 1000).is_some());
        assert!(zeroed(None).is_none() && zeroed(Some(usize::MAX / 8)).is_none());
        assert_eq!(zeroed(Some(3)), Some(vec![0.0; 3]));
        // A grid whose next room is past any buffer refuses the row, and
        // keeps what it has.
        let mut full = Grid {
            data: Vec::new(),
            columns: usize::MAX / 2,
            stride: 0,
            rows: 0,
        };
        assert!(!full.push_row(&[]));
        assert_eq!((full.rows(), full.stride), (0, 0));
        // Three parts with rooms of 3, 4 and 2 rows per column; part 1
        // outgrew its room and brings its own grid.
        let rooms = [3, 4, 2];
        let mut shared = Grid::new(2, 9);
        let mut own = Grid::new(2, 1);
        for (k, part) in shared.split(&rooms).into_iter().enumerate() {
            assert_eq!(part.len(), 2);
            for (c, column) in part.into_iter().enumerate() {
                assert_eq!(column.len(), rooms[k]);
                for (r, v) in column.iter_mut().enumerate() {
                    *v = (100 * c + 10 * k + r) as f64;
                }
            }
        }
        for r in 0..6 {
            assert!(own.push_row(&[f64::from(90 + r), f64::from(190 + r)]));
        }
        let in_rooms = [(2, None), (3, None), (1, None)];
        let mut again = Grid::new(2, 9);
        for (k, part) in again.split(&rooms).into_iter().enumerate() {
            for (c, column) in part.into_iter().enumerate() {
                for (r, v) in column.iter_mut().enumerate() {
                    *v = (100 * c + 10 * k + r) as f64;
                }
            }
        }
        assert_eq!(
            again.close_up(&rooms, &in_rooms),
            [
                0.0, 1.0, 10.0, 11.0, 12.0, 20.0, 100.0, 101.0, 110.0, 111.0, 112.0, 120.0
            ]
        );
        let spilled = [(2, None), (6, Some(own)), (1, None)];
        assert_eq!(
            shared.close_up(&rooms, &spilled),
            [
                0.0, 1.0, 90.0, 91.0, 92.0, 93.0, 94.0, 95.0, 20.0, //
                100.0, 101.0, 190.0, 191.0, 192.0, 193.0, 194.0, 195.0, 120.0
            ]
        );
    }
}
