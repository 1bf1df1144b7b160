//! Data: reading CSV files ([`table`]) and building a valid [`Dataset`] from
//! the chosen columns (roles, missing cells, standardization).

mod error;
pub mod fast;
#[cfg(target_arch = "x86_64")]
mod sse;
pub mod table;

pub use error::DataError;
pub(crate) use error::one_line;
pub use fast::Progress;
pub use table::{
    CellRef, Column, ColumnSummary, Table, Texts, parse_table, read_table, read_table_with,
};

use nalgebra::{DMatrix, DVector};
use std::fmt::Write as _;

/// What to do with missing or non-finite cells in the chosen columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum MissingPolicy {
    /// Refuse with a report of where they are.
    #[default]
    Error,
    /// Drop every row that has one.
    Drop,
    /// Fill the column mean (targets are never imputed: those rows are dropped).
    Mean,
}

impl MissingPolicy {
    /// Parses `error`, `drop` or `mean`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "error" => Some(Self::Error),
            "drop" => Some(Self::Drop),
            "mean" => Some(Self::Mean),
            _ => None,
        }
    }
}

/// Which columns to learn from and how to prepare them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// The target column, if the algorithm learns one.
    pub target: Option<String>,
    /// Feature columns in order; `None` means every numeric column but the target.
    pub features: Option<Vec<String>>,
    /// Map each feature to (x − mean)/std (population std).
    pub standardize: bool,
    /// Missing-cell policy.
    pub missing: MissingPolicy,
}

/// Per-feature standardization coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaling {
    /// Column mean before scaling.
    pub mean: f64,
    /// Population standard deviation before scaling.
    pub std: f64,
}

/// One column's missing cells as found in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingColumn {
    /// Column name.
    pub column: String,
    /// How many cells were missing or non-finite.
    pub count: usize,
    /// The first few, with their lines and texts.
    pub first: Vec<CellRef>,
    /// The mean filled in, under [`MissingPolicy::Mean`].
    pub filled_with: Option<f64>,
}

/// What the missing-value handling found and did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MissingReport {
    /// Columns with missing cells.
    pub columns: Vec<MissingColumn>,
    /// Rows dropped.
    pub dropped_rows: usize,
    /// Rows in the file.
    pub total_rows: usize,
}

impl MissingReport {
    /// Whether any cell was missing.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.columns.is_empty()
    }

    /// A one-sentence description of what was found (and done).
    #[must_use]
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                s.push_str("; ");
            }
            let _ = write!(
                s,
                "column '{}' has {} missing or non-finite value{}",
                c.column,
                c.count,
                if c.count == 1 { "" } else { "s" }
            );
            let places: Vec<String> = c
                .first
                .iter()
                .map(|r| format!("line {} '{}'", r.line, r.text))
                .collect();
            if !places.is_empty() {
                let _ = write!(
                    s,
                    " ({}{})",
                    places.join(", "),
                    if c.count > c.first.len() { ", ..." } else { "" }
                );
            }
            if let Some(m) = c.filled_with {
                let _ = write!(s, ", filled with the mean {m}");
            }
        }
        if self.dropped_rows > 0 {
            let _ = write!(
                s,
                "; {} of {} rows dropped",
                self.dropped_rows, self.total_rows
            );
        }
        s
    }
}

/// A class label as it appears in the target column.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    /// A numeric target value used as a class.
    Number(f64),
    /// A text label.
    Text(String),
}

/// A label serializes as written: whole numbers as JSON integers (`1`,
/// not `1.0`), other numbers as floats, text as a string.
impl serde::Serialize for Label {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// Whole numbers below 2⁵³ in magnitude are exact as integers.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        match self {
            #[allow(clippy::cast_possible_truncation)]
            Self::Number(v) if v.fract() == 0.0 && v.abs() < EXACT => {
                serializer.serialize_i64(*v as i64)
            }
            Self::Number(v) => serializer.serialize_f64(*v),
            Self::Text(s) => serializer.serialize_str(s),
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // 1e300 rather than its 301 digits; 0.5 and 3 as they are.
            Self::Number(v) if *v != 0.0 && !(1e-5..1e16).contains(&v.abs()) => write!(f, "{v:e}"),
            Self::Number(v) => write!(f, "{v}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// The target column: its numbers (when numeric) and its classes in sorted order.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Column name.
    pub name: String,
    /// Numeric values, when the column is numeric.
    pub values: Option<DVector<f64>>,
    /// Distinct labels in sorted order (numeric order for numbers).
    pub classes: Vec<Label>,
    /// Index into `classes` per row.
    pub class_ids: Vec<usize>,
}

/// A dataset ready for an update rule: finite features, column-major, and an
/// optional target. It can only be built valid.
#[derive(Debug, Clone)]
pub struct Dataset {
    path: String,
    feature_names: Vec<String>,
    x: DMatrix<f64>,
    target: Option<Target>,
    scaling: Option<Vec<Scaling>>,
    report: MissingReport,
    lines: Vec<usize>,
    /// The file's data row (0-based) of each row, when some were dropped.
    kept: Option<Vec<usize>>,
}

impl Dataset {
    /// Builds a dataset from numeric columns (and an optional numeric target),
    /// e.g. in tests. Non-finite values and unequal lengths are refused.
    ///
    /// # Errors
    /// [`DataError::Selection`] when shapes disagree, nothing is given or a value is not finite.
    pub fn from_columns(
        names: &[&str],
        columns: &[Vec<f64>],
        target: Option<(&str, Vec<f64>)>,
    ) -> Result<Self, DataError> {
        let path = "<memory>".to_string();
        let bad = |reason: &str| DataError::Selection {
            reason: reason.into(),
            path: path.clone(),
        };
        let n = columns
            .first()
            .map(Vec::len)
            .or_else(|| target.as_ref().map(|t| t.1.len()))
            .ok_or_else(|| bad("no columns given"))?;
        if names.len() != columns.len()
            || columns.iter().any(|c| c.len() != n)
            || target.as_ref().is_some_and(|t| t.1.len() != n)
        {
            return Err(bad("columns have different lengths"));
        }
        if n == 0 {
            return Err(bad("no rows"));
        }
        if columns
            .iter()
            .flatten()
            .chain(target.iter().flat_map(|t| t.1.iter()))
            .any(|v| !v.is_finite())
        {
            return Err(bad("a value is not finite"));
        }
        let x = DMatrix::from_iterator(n, columns.len(), columns.iter().flatten().copied());
        let target = target.map(|(name, values)| numeric_target(name, values));
        Ok(Self {
            path,
            feature_names: names.iter().map(ToString::to_string).collect(),
            x,
            target,
            scaling: None,
            report: MissingReport {
                total_rows: n,
                ..MissingReport::default()
            },
            lines: (2..n + 2).collect(),
            kept: None,
        })
    }

    /// Builds a dataset from a parsed table and a column selection.
    ///
    /// # Errors
    /// Unknown or non-numeric columns, missing cells under
    /// [`MissingPolicy::Error`], constant columns under standardization, or
    /// nothing left to learn from.
    pub fn from_table(table: &Table, sel: &Selection) -> Result<Self, DataError> {
        Self::select(table, None, sel)
    }

    /// [`Dataset::from_table`], where `owned` is the table's values buffer
    /// (taken out of it) when the caller gives it up: the feature matrix is
    /// then made in it, where the file's values already are, instead of in
    /// a new buffer (for a million rows, 80 MB the system need not map).
    #[allow(clippy::too_many_lines)] // One pass through the selection rules, in order.
    fn select(table: &Table, owned: Option<Vec<f64>>, sel: &Selection) -> Result<Self, DataError> {
        let path = table.path.clone();
        // Names as the header's are read: without surrounding spaces.
        let find = |name: &str| {
            let name = name.trim();
            table
                .names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| DataError::UnknownColumn {
                    name: name.into(),
                    available: table
                        .names
                        .iter()
                        .map(|n| {
                            // As `--features` takes it.
                            if n.contains([',', '"']) {
                                format!("\"{}\"", n.replace('"', "\"\""))
                            } else {
                                n.clone()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    path: path.clone(),
                })
        };
        let target_idx = sel.target.as_deref().map(find).transpose()?;
        let feature_idx: Vec<usize> = match &sel.features {
            Some(names) => names.iter().map(|n| find(n)).collect::<Result<_, _>>()?,
            None => (0..table.names.len())
                .filter(|&i| Some(i) != target_idx && table.columns[i].is_numeric())
                .collect(),
        };
        // Each column's place among the features, to find one chosen twice.
        let mut place = vec![usize::MAX; table.names.len()];
        for (k, &i) in feature_idx.iter().enumerate() {
            if place[i] != usize::MAX {
                return Err(DataError::Selection {
                    reason: format!(
                        "column '{}' is chosen twice as a feature (features {} and {})",
                        table.names[i],
                        place[i] + 1,
                        k + 1
                    ),
                    path,
                });
            }
            place[i] = k;
        }
        if let Some(t) = target_idx.filter(|t| feature_idx.contains(t)) {
            return Err(DataError::Selection {
                reason: format!(
                    "column '{}' cannot be both the target and a feature",
                    table.names[t]
                ),
                path,
            });
        }
        if feature_idx.is_empty() {
            return Err(DataError::Selection {
                reason: "there are no numeric feature columns to learn from".into(),
                path,
            });
        }
        // Every feature must be numeric: report the first text cell.
        for &i in &feature_idx {
            let col = &table.columns[i];
            if col.text_count > 0 {
                let first = &col.first_texts[0];
                let hint = if col.is_numeric() {
                    String::new()
                } else {
                    " (it is a text column and cannot be a feature)".to_string()
                };
                return Err(DataError::NotNumeric {
                    line: first.line,
                    column: table.names[i].clone(),
                    text: first.text.clone(),
                    hint,
                    path,
                });
            }
        }
        let target_text = target_idx.is_some_and(|t| {
            let c = &table.columns[t];
            c.text_count > 0 && !c.is_numeric()
        });
        if let Some(t) = target_idx {
            let col = &table.columns[t];
            if !target_text && col.text_count > 0 {
                let first = &col.first_texts[0];
                return Err(DataError::NotNumeric {
                    line: first.line,
                    column: table.names[t].clone(),
                    text: first.text.clone(),
                    hint: " (the target column is numeric elsewhere)".into(),
                    path,
                });
            }
        }

        // Missing cells in the chosen columns.
        let n_all = table.lines.len();
        let all_values = owned.as_deref().unwrap_or(&table.values);
        let column_values = |i: usize| &all_values[i * n_all..(i + 1) * n_all];
        let mut report = MissingReport {
            total_rows: n_all,
            ..MissingReport::default()
        };
        let chosen: Vec<usize> = feature_idx.iter().copied().chain(target_idx).collect();
        for &i in &chosen {
            let col = &table.columns[i];
            if col.missing_count > 0 {
                report.columns.push(MissingColumn {
                    column: table.names[i].clone(),
                    count: col.missing_count,
                    first: col.first_missing.clone(),
                    filled_with: None,
                });
            }
        }
        // Text cells count as missing nowhere: a text target's cells are
        // labels, and its missing markers were counted as missing.
        let row_missing = |i: usize, r: usize| -> bool {
            let col = &table.columns[i];
            if Some(i) == target_idx && target_text {
                col.texts
                    .as_ref()
                    .and_then(|t| t.get(r))
                    .is_none_or(parse_missing)
            } else {
                column_values(i).get(r).is_none_or(|v| v.is_nan())
            }
        };
        // The rows kept, in order; `None`: every row (no chosen cell is missing).
        let mut kept_rows: Option<Vec<usize>> = None;
        if !report.is_clean() {
            let mut kept: Vec<usize> = (0..n_all).collect();
            match sel.missing {
                MissingPolicy::Error => {
                    return Err(DataError::Missing {
                        summary: report.summary(),
                        path,
                    });
                }
                MissingPolicy::Drop => kept.retain(|&r| chosen.iter().all(|&i| !row_missing(i, r))),
                // The features are filled; a target is never invented.
                MissingPolicy::Mean => {
                    if let Some(t) = target_idx {
                        kept.retain(|&r| !row_missing(t, r));
                    }
                }
            }
            report.dropped_rows = n_all - kept.len();
            kept_rows = Some(kept);
        }
        let keep = kept_rows.as_deref();
        let n = keep.map_or(n_all, <[usize]>::len);
        if n == 0 {
            return Err(DataError::Selection {
                reason: format!(
                    "no rows are left after dropping the {n_all} rows with missing values"
                ),
                path,
            });
        }
        let all_rows = n == n_all;
        let target = match target_idx {
            None => None,
            Some(t) => {
                let col = &table.columns[t];
                let name = table.names[t].clone();
                if target_text {
                    let texts: Vec<&str> = col.texts.iter().flat_map(Texts::iter).collect();
                    Some(text_target(&name, &pick(&texts, keep)))
                } else if all_rows {
                    Some(numeric_target(&name, column_values(t).to_vec()))
                } else {
                    // Rows with a missing target were dropped under every policy.
                    Some(numeric_target(&name, pick(column_values(t), keep)))
                }
            }
        };
        let d = feature_idx.len();
        // The feature matrix: the table's buffer with the features moved
        // down in place (in order, each over a column no longer needed),
        // when the load gave it up and keeps every row; otherwise a new
        // buffer the columns are copied (or gathered) into.
        let in_place = all_rows && feature_idx.windows(2).all(|w| w[0] < w[1]);
        let (mut data, source) = match owned {
            Some(mut buffer) if in_place => {
                for (j, &i) in feature_idx.iter().enumerate() {
                    if i != j {
                        buffer.copy_within(i * n..(i + 1) * n, j * n);
                    }
                }
                buffer.truncate(n * d);
                // The columns after the features (the target's among them)
                // are given back; a large buffer shrinks in place.
                buffer.shrink_to_fit();
                (buffer, None)
            }
            _ => {
                let Some(data) = table::zeroed(n.checked_mul(d)) else {
                    return Err(DataError::TooLarge {
                        megabytes: n.saturating_mul(d).saturating_mul(8) / 1_000_000,
                        path,
                    });
                };
                (data, Some(all_values))
            }
        };
        // Each feature column copied (unless in place), under the mean
        // policy filled, and standardized, the columns shared among the cores.
        // `Err(())`: no values.
        let columns = per_column(&mut data, n, |j, column| {
            if let Some(all_values) = source {
                let i = feature_idx[j];
                let all = &all_values[i * n_all..(i + 1) * n_all];
                match keep {
                    Some(keep) => {
                        for (v, &r) in column.iter_mut().zip(keep) {
                            *v = all[r];
                        }
                    }
                    None => column.copy_from_slice(all),
                }
            }
            let fill = if table.columns[feature_idx[j]].missing_count == 0 {
                Ok(None)
            } else {
                fill_with_mean(column)
            };
            let scaling = sel.standardize.then(|| scale_column(column));
            (fill, scaling)
        });
        let (fills, scalings): (Vec<_>, Vec<_>) = columns.into_iter().unzip();
        for (&i, fill) in feature_idx.iter().zip(fills) {
            let name = &table.names[i];
            match fill {
                Err(()) => {
                    return Err(DataError::Selection {
                        reason: format!("column '{name}' has no values to compute a mean from"),
                        path,
                    });
                }
                Ok(Some(mean)) => {
                    if let Some(c) = report.columns.iter_mut().find(|c| &c.column == name) {
                        c.filled_with = Some(mean);
                    }
                }
                Ok(None) => {}
            }
        }
        let x = DMatrix::from_vec(n, d, data);
        let feature_names: Vec<String> = feature_idx
            .iter()
            .map(|&i| table.names[i].clone())
            .collect();
        let scaling = if sel.standardize {
            let mut out = Vec::with_capacity(d);
            for (name, scaling) in feature_names.iter().zip(scalings) {
                match scaling {
                    Some(Ok(s)) => out.push(s),
                    Some(Err(value)) => {
                        return Err(DataError::Constant {
                            column: name.clone(),
                            value,
                            path,
                        });
                    }
                    None => {}
                }
            }
            Some(out)
        } else {
            None
        };
        Ok(Self {
            path,
            feature_names,
            x,
            target,
            scaling,
            report,
            lines: pick(&table.lines, keep),
            // Moved, not copied: a million rows' indices are 8 MB.
            kept: kept_rows.filter(|k| k.len() < n_all),
        })
    }

    /// Loads a CSV file and selects columns in one go.
    ///
    /// # Errors
    /// Any [`DataError`] from reading or selecting.
    pub fn load(path: &std::path::Path, sel: &Selection) -> Result<Self, DataError> {
        Self::from_owned_table(read_table(path)?, sel)
    }

    /// [`Dataset::from_table`] for a table that is no longer needed: when
    /// every row is kept and the features are in file order, the feature
    /// matrix is made in the table's own buffer instead of a new one.
    ///
    /// # Errors
    /// As [`Dataset::from_table`].
    pub fn from_owned_table(mut table: Table, sel: &Selection) -> Result<Self, DataError> {
        let values = std::mem::take(&mut table.values);
        Self::select(&table, Some(values), sel)
    }

    /// The source file.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Feature names in column order.
    #[must_use]
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The n × d feature matrix, column-major, all finite.
    #[must_use]
    pub fn x(&self) -> &DMatrix<f64> {
        &self.x
    }

    /// Number of rows.
    #[must_use]
    pub fn n_rows(&self) -> usize {
        self.x.nrows()
    }

    /// Number of features.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }

    /// The target, if one was chosen.
    #[must_use]
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }

    /// Standardization coefficients per feature, when standardized.
    #[must_use]
    pub fn scaling(&self) -> Option<&[Scaling]> {
        self.scaling.as_deref()
    }

    /// What the missing-value handling found and did.
    #[must_use]
    pub fn missing_report(&self) -> &MissingReport {
        &self.report
    }

    /// Physical line of each row in the file.
    #[must_use]
    pub fn lines(&self) -> &[usize] {
        &self.lines
    }

    /// The row of the dataset that holds the file's data row `r` (0-based,
    /// header excluded), or why none does, as the end of a sentence.
    ///
    /// # Errors
    /// `r` is past the file's rows, or its row was dropped.
    pub fn row_of(&self, r: usize) -> Result<usize, String> {
        let all = self.report.total_rows.max(self.n_rows());
        let found = match &self.kept {
            None => (r < all).then_some(r),
            Some(kept) => kept.binary_search(&r).ok(),
        };
        found.ok_or_else(|| {
            if r < all {
                format!("row {r}, but that row was dropped for its missing cells")
            } else {
                format!(
                    "row {r}, but the data has {} (0-based, header excluded)",
                    crate::algorithms::count(all, "row")
                )
            }
        })
    }

    /// The numeric target, or an error saying why there is none.
    ///
    /// # Errors
    /// No target chosen, or a text target.
    pub fn numeric_target(&self, algorithm: &str) -> Result<&DVector<f64>, DataError> {
        let t = self.require_target(algorithm)?;
        t.values.as_ref().ok_or_else(|| DataError::Selection {
            reason: format!(
                "{algorithm} needs a numeric target, but column '{}' holds text labels",
                t.name
            ),
            path: self.path.clone(),
        })
    }

    /// The target, or an error saying that `algorithm` needs one.
    ///
    /// # Errors
    /// No target chosen.
    pub fn require_target(&self, algorithm: &str) -> Result<&Target, DataError> {
        self.target.as_ref().ok_or_else(|| DataError::Selection {
            reason: format!("{algorithm} needs a target column (--target)"),
            path: self.path.clone(),
        })
    }

    /// The target of a classifier: at least two classes.
    ///
    /// # Errors
    /// No target, one class only, or more than [`MAX_CLASSES`] classes.
    pub fn class_target(&self, algorithm: &str) -> Result<&Target, DataError> {
        let t = self.require_target(algorithm)?;
        let reason = match t.classes.as_slice() {
            [] if t.values.is_some() => format!(
                "{algorithm} needs classes in the target column '{}', but it has more than {MAX_CLASSES} distinct values",
                t.name
            ),
            [] => format!(
                "{algorithm} needs classes in the target column '{}', but it has none",
                t.name
            ),
            [only] => format!(
                "{algorithm} needs at least two classes in the target column '{}', but every row is '{only}'",
                t.name
            ),
            many if many.len() > LOOKS_CONTINUOUS
                && many
                    .iter()
                    .any(|c| matches!(c, Label::Number(v) if v.fract() != 0.0)) =>
            {
                format!(
                    "{algorithm} needs class labels, but the target column '{}' holds {} distinct numbers, not all whole: it looks like a measurement (linear-regression or the mlp fit numbers)",
                    t.name,
                    many.len()
                )
            }
            many if many.len() > MAX_CLASSES => format!(
                "{algorithm} takes at most {MAX_CLASSES} classes, but the target column '{}' has {} distinct labels",
                t.name,
                many.len()
            ),
            _ => return Ok(t),
        };
        Err(DataError::Selection {
            reason,
            path: self.path.clone(),
        })
    }

    /// Binary labels: the first sorted class maps to `low`, the second to `high`.
    ///
    /// # Errors
    /// No target, or not exactly two distinct values.
    pub fn binary_target(
        &self,
        algorithm: &str,
        low: f64,
        high: f64,
    ) -> Result<DVector<f64>, DataError> {
        let t = self.class_target(algorithm)?;
        if t.classes.len() != 2 {
            let shown: Vec<String> = t.classes.iter().take(6).map(ToString::to_string).collect();
            return Err(DataError::Selection {
                reason: format!(
                    "{algorithm} needs exactly two classes in the target column '{}', but it has {} ({}{}){}",
                    t.name,
                    t.classes.len(),
                    shown.join(", "),
                    if t.classes.len() > 6 { ", ..." } else { "" },
                    if t.classes.len() > 2 {
                        "; softmax-regression and mlp take more"
                    } else {
                        ""
                    }
                ),
                path: self.path.clone(),
            });
        }
        Ok(DVector::from_iterator(
            t.class_ids.len(),
            t.class_ids.iter().map(|&c| if c == 0 { low } else { high }),
        ))
    }
}

fn parse_missing(s: &str) -> bool {
    matches!(table::parse_cell(s, false), table::Cell::Missing)
}

/// Above this many distinct numbers, some of them not whole, a target is
/// a measurement rather than classes (the MLP fits such a target as
/// numbers too).
const LOOKS_CONTINUOUS: usize = 10;

/// At most this many distinct values make a numeric target usable as
/// classes, and a classifier takes at most this many classes.
pub const MAX_CLASSES: usize = 1000;

fn numeric_target(name: &str, values: Vec<f64>) -> Target {
    // The distinct values (−0 counted as 0), kept sorted: a binary search a
    // row, a comparison or two for the usual few classes (hashing each row
    // took 20 ms at a million rows). It gives up once there are too many to
    // be classes (a regression target), which keeps this linear for big files.
    let mut classes: Vec<f64> = Vec::new();
    for v in &values {
        let v = v + 0.0;
        if let Err(at) = classes.binary_search_by(|c| c.total_cmp(&v)) {
            if classes.len() == MAX_CLASSES {
                return Target {
                    name: name.into(),
                    values: Some(DVector::from_vec(values)),
                    classes: Vec::new(),
                    class_ids: Vec::new(),
                };
            }
            classes.insert(at, v);
        }
    }
    let class_ids = values
        .iter()
        .map(|v| classes.partition_point(|c| c < v))
        .collect();
    Target {
        name: name.into(),
        values: Some(DVector::from_vec(values)),
        classes: classes.into_iter().map(Label::Number).collect(),
        class_ids,
    }
}

fn text_target(name: &str, labels: &[&str]) -> Target {
    // The distinct labels by hashing, then sorted: sorting every row's
    // label (a copy of each) was most of the time and memory it took.
    let distinct: std::collections::HashSet<&str> = labels.iter().copied().collect();
    let mut classes: Vec<&str> = distinct.into_iter().collect();
    classes.sort_unstable();
    let class_ids = labels
        .iter()
        .map(|l| classes.partition_point(|c| c < l))
        .collect();
    Target {
        name: name.into(),
        values: None,
        classes: classes.into_iter().map(|c| Label::Text(c.into())).collect(),
        class_ids,
    }
}

/// Fills the missing (NaN) cells of a column with the mean of the others:
/// the mean, `None` when nothing was missing, `Err(())` when nothing was not.
fn fill_with_mean(column: &mut [f64]) -> Result<Option<f64>, ()> {
    let (sum, count) = column
        .iter()
        .filter(|v| !v.is_nan())
        .fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == column.len() {
        return Ok(None);
    }
    // Only under the mean policy can missing cells remain here.
    if count == 0 {
        return Err(());
    }
    let mean = sum / count as f64;
    for v in column.iter_mut().filter(|v| v.is_nan()) {
        *v = mean;
    }
    Ok(Some(mean))
}

/// Replaces each value v of `column` by (v − mean)/std, with the population
/// std: the coefficients, or `Err(first value)` for a constant column, which
/// cannot be standardized.
fn scale_column(column: &mut [f64]) -> Result<Scaling, f64> {
    let nf = column.len() as f64;
    let first = column.first().copied().unwrap_or(0.0);
    let mean = sum8(column, |v| v) / nf;
    let std = (sum8(column, |v| (v - mean) * (v - mean)) / nf).sqrt();
    // Constant: no spread beyond the rounding of the mean (relative to the
    // values, so that 1e-15, 2e-15, … are not constant).
    let constant = |mean: f64, std: f64| std <= f64::EPSILON * mean.abs() * 16.0;
    // Beyond about 1e154 the squares overflow (beyond 1e308, the sum), and
    // below about 1e-154 they round to 0: there the same on the values
    // divided by the largest magnitude, m.
    if mean.is_finite() && std.is_finite() && std > 1e-150 {
        if constant(mean, std) {
            return Err(first);
        }
        for v in column.iter_mut() {
            *v = (*v - mean) / std;
        }
        return Ok(Scaling { mean, std });
    }
    let m = column.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if m == 0.0 || !m.is_finite() {
        return Err(first);
    }
    let mean_m = sum8(column, |v| v / m) / nf;
    let std_m = (sum8(column, |v| (v / m - mean_m) * (v / m - mean_m)) / nf).sqrt();
    if constant(mean_m, std_m) {
        return Err(first);
    }
    for v in column.iter_mut() {
        *v = (*v / m - mean_m) / std_m;
    }
    Ok(Scaling {
        mean: mean_m * m,
        std: std_m * m,
    })
}

/// `all[r]` for each kept row `r` (`None`: every row).
fn pick<T: Clone + Default>(all: &[T], keep: Option<&[usize]>) -> Vec<T> {
    match keep {
        None => all.to_vec(),
        Some(keep) => keep
            .iter()
            .map(|&r| all.get(r).cloned().unwrap_or_default())
            .collect(),
    }
}

/// Σ f(vᵢ) with eight independent accumulators, so that a sum over a long
/// column runs at the speed of memory, not of one chain of additions.
fn sum8(values: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v)).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

/// Runs `f(j, column)` on each `n`-row column of the column-major `data`,
/// the columns shared among the cores, and returns the results in column order.
fn per_column<R: Send>(
    data: &mut [f64],
    n: usize,
    f: impl Fn(usize, &mut [f64]) -> R + Sync,
) -> Vec<R> {
    let parallel = data.len() >= 1 << 16;
    shared(data.chunks_mut(n.max(1)).collect(), parallel, f)
}

/// Runs `f(j, item)` on each of `items`, in consecutive runs, one per core
/// when `parallel`, and returns the results in order.
fn shared<T: Send, R: Send>(
    items: Vec<T>,
    parallel: bool,
    f: impl Fn(usize, T) -> R + Sync,
) -> Vec<R> {
    let threads = if parallel {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(items.len())
    } else {
        1
    };
    if threads <= 1 {
        return items
            .into_iter()
            .enumerate()
            .map(|(j, t)| f(j, t))
            .collect();
    }
    let per = items.len().div_ceil(threads);
    let mut items = items.into_iter();
    let runs: Vec<Vec<T>> = std::iter::from_fn(|| {
        let run: Vec<T> = items.by_ref().take(per).collect();
        (!run.is_empty()).then_some(run)
    })
    .collect();
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .enumerate()
            .map(|(k, run)| {
                scope.spawn(move || {
                    run.into_iter()
                        .enumerate()
                        .map(|(i, t)| f(k * per + i, t))
                        .collect::<Vec<R>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_targets_number_their_classes_in_sorted_order() {
        let t = text_target("y", &["b", "a", "b", "Z", "ä", "a"]);
        let names: Vec<String> = t.classes.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["Z", "a", "b", "ä"]);
        assert_eq!(t.class_ids, [2, 1, 2, 0, 3, 1]);
        assert!(t.values.is_none());
    }

    #[test]
    fn labels_serialize_as_written() {
        let labels = [
            Label::Number(0.0),
            Label::Number(-3.0),
            Label::Number(2.5),
            Label::Number(1e300),
            Label::Text("a".into()),
        ];
        let json = serde_json::to_string(&labels).unwrap();
        assert_eq!(json, r#"[0,-3,2.5,1e+300,"a"]"#);
        let shown: Vec<String> = labels.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["0", "-3", "2.5", "1e300", "a"]);
    }

    #[test]
    fn columns_of_huge_values_standardize_as_the_same_values_scaled_down() {
        let mut rng = crate::rng::Rng::new(9);
        let small: Vec<f64> = (0..1000).map(|_| rng.normal() * 3.0 + 1.0).collect();
        let mut expected = small.clone();
        let want = scale_column(&mut expected).unwrap();
        // 1e200 overflows the squares, 1e307 the sum itself; 1e-15 is
        // below the rounding of a mean near 1 but not of its own; 1e-200
        // and 1e-300 underflow the squares.
        for scale in [1e200, 1e307, 1e-15, 1e-200, 1e-300] {
            let mut huge: Vec<f64> = small.iter().map(|v| v * scale).collect();
            let got = scale_column(&mut huge).unwrap();
            assert!((got.mean / scale - want.mean).abs() < 1e-14 * want.mean.abs());
            assert!((got.std / scale - want.std).abs() < 1e-14 * want.std);
            for (a, b) in huge.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-13, "{a} vs {b}");
            }
        }
        for value in [1e300, 1e-300, 0.1, 0.0] {
            let mut constant = vec![value; 10];
            assert_eq!(
                scale_column(&mut constant).unwrap_err().to_bits(),
                value.to_bits()
            );
        }
    }

    #[test]
    fn a_measured_target_is_not_taken_for_classes() {
        let data = |y: Vec<f64>| {
            let x: Vec<f64> = (0..y.len()).map(|i| i as f64).collect();
            Dataset::from_columns(&["x"], &[x], Some(("y", y))).unwrap()
        };
        // Many distinct numbers, some fractional: a measurement.
        let measured = data((0..40).map(|i| f64::from(i) * 0.37).collect());
        let e = measured.class_target("softmax-regression").unwrap_err();
        assert!(
            e.to_string().contains("40 distinct numbers, not all whole"),
            "{e}"
        );
        // Whole numbers, or few fractional ones, stay classes.
        let ids = data((0..40).map(|i| f64::from(i % 20)).collect());
        assert_eq!(
            ids.class_target("softmax-regression")
                .unwrap()
                .classes
                .len(),
            20
        );
        let halves = data((0..40).map(|i| f64::from(i % 4) * 0.5).collect());
        assert_eq!(
            halves
                .class_target("softmax-regression")
                .unwrap()
                .classes
                .len(),
            4
        );
    }

    /// The classes of a numeric target against a sort of its distinct values.
    #[test]
    fn numeric_targets_have_classes_up_to_the_limit() {
        let mut rng = crate::rng::Rng::new(5);
        for distinct in [1, 2, 7, MAX_CLASSES, MAX_CLASSES + 1] {
            // Each value several times, shuffled; −0 and 0 are one class.
            let mut values: Vec<f64> = (0..distinct * 3)
                .map(|i| (i % distinct) as f64 * 0.5 - 3.0)
                .collect();
            rng.shuffle(&mut values);
            values.extend([0.0, -0.0]);
            let has_zero = distinct > 6;
            let t = numeric_target("y", values.clone());
            if distinct > MAX_CLASSES {
                assert!(t.classes.is_empty() && t.class_ids.is_empty());
                continue;
            }
            let mut sorted: Vec<f64> = values.iter().map(|v| v + 0.0).collect();
            sorted.sort_by(f64::total_cmp);
            sorted.dedup();
            assert_eq!(sorted.len(), distinct + usize::from(!has_zero));
            let classes: Vec<f64> = t
                .classes
                .iter()
                .map(|c| match c {
                    Label::Number(v) => *v,
                    Label::Text(_) => f64::NAN,
                })
                .collect();
            assert_eq!(classes, sorted);
            for (v, &id) in values.iter().zip(&t.class_ids) {
                assert_eq!(sorted[id].to_bits(), (v + 0.0).to_bits());
            }
        }
    }
}
