//! Exports that need no GUI: the derivation as text, Markdown or LaTeX (with
//! a step's numbers substituted when a record is given), and the trajectory as CSV.

use crate::algorithms::{DerivationStep, StepRecord, Value};
use crate::math::plain::plain_text;
use crate::session::Snapshot;
use std::fmt::Write as _;

/// Output format of a derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Plain text, formulas in LaTeX source.
    #[default]
    Text,
    /// A LaTeX document body.
    Latex,
    /// Markdown with `$$` math blocks (KaTeX, GitHub).
    Markdown,
}

impl Format {
    /// Parses `text`, `latex` or `markdown`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(Self::Text),
            "latex" | "tex" => Some(Self::Latex),
            "markdown" | "md" => Some(Self::Markdown),
            _ => None,
        }
    }
}

/// How many entries of a vector the derivation panel writes before an ellipsis.
pub const SHOWN_ENTRIES: usize = 4;

/// How many entries a hovered value and an exported derivation list (a
/// Newton step's 3 × 3 Hessian could not be checked from its first 4).
pub const LISTED_ENTRIES: usize = 64;

/// A value written compactly: scalars with 6 significant digits, vectors as
/// their first `shown` entries and an ellipsis, matrices by shape and first
/// entries.
#[must_use]
pub fn format_value(value: &Value, shown: usize) -> String {
    let entries = format_entries(value, shown);
    match value {
        Value::Scalar(v) => format_number(*v),
        Value::Vector(_) => entries,
        Value::Matrix(m) => format!("{}×{} matrix {entries}", m.nrows(), m.ncols()),
        Value::Head { rows, head } => format!("{rows}×{} matrix {entries}", head.ncols()),
        Value::Sampled { rows, every, .. } => format!(
            "{entries} at rows 0, {every}, {}, …: one row in {every} of {rows}, those drawn",
            2 * every
        ),
    }
}

/// A value's first `shown` entries, followed by how many it has when cut;
/// a matrix's row by row, each in brackets (which numbers are a class's or
/// a unit's): all its rows when it has at most 3 × `shown` entries, else
/// as many as `shown` entries fill (at least one, itself cut), so a head's
/// read as its whole matrix's.
#[must_use]
pub fn format_entries(value: &Value, shown: usize) -> String {
    match value {
        Value::Matrix(m) | Value::Head { head: m, .. } => {
            let (rows, cols) = (value.entries() / m.ncols().max(1), m.ncols());
            let taken = if rows * cols <= 3 * shown {
                rows
            } else {
                (shown / cols.max(1)).max(1)
            }
            .min(m.nrows());
            let parts: Vec<String> = (0..taken)
                .map(|i| {
                    let row: Vec<f64> = m.row(i).iter().copied().collect();
                    cut_list(&row, cols, shown)
                })
                .collect();
            if taken < rows {
                format!("[{}, … ({rows} rows)]", parts.join(", "))
            } else {
                format!("[{}]", parts.join(", "))
            }
        }
        Value::Sampled { values, .. } => cut_list(values, values.len(), shown),
        _ => cut_list(value.as_slice(), value.entries(), shown),
    }
}

/// A number with at least 6 significant digits: 7 from 1 up to a million
/// (801711.5, not 801711.521842), 6 decimals from 0.01 to 1, e-notation
/// beyond.
#[must_use]
pub fn format_number(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if !v.is_finite() {
        format!("{v}")
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        // Counts (n = 1000000) read as integers, not 1.00000e6.
        format!("{v:.0}")
    } else if v.abs() >= 1e6 || v.abs() < 1e-4 {
        format!("{v:.5e}")
    } else {
        // Below 0.01, six decimals left Adam's m̂ = -0.000555 with three
        // digits, too few to check its step by hand.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let decimals = if v.abs() < 0.01 {
            (5.0 - v.abs().log10().floor()) as usize
        } else {
            (6.0 - v.abs().log10().floor()).clamp(0.0, 6.0) as usize
        };
        let s = format!("{v:.decimals$}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// A number the user gave, as its shortest round-trip form (`0.1`, `-1`),
/// in e-notation beyond 10¹⁶ or below 10⁻⁵ (`1e300`, not 301 digits).
#[must_use]
pub fn format_given(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-5..1e16).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// `[a, b, c, …]`: at most `shown` of `values`, the first of `total`
/// numbers, followed by `total` when cut.
fn cut_list(values: &[f64], total: usize, shown: usize) -> String {
    let parts: Vec<String> = values
        .iter()
        .take(shown)
        .map(|v| format_number(*v))
        .collect();
    if total > shown {
        format!("[{}, … ({total} in all)]", parts.join(", "))
    } else {
        format!("[{}]", parts.join(", "))
    }
}

/// The derivation in `format`, with `record`'s values under each formula when given.
#[must_use]
pub fn derivation(
    id: &str,
    steps: &[DerivationStep],
    format: Format,
    record: Option<&StepRecord>,
) -> String {
    let mut out = String::new();
    match format {
        Format::Text => {
            let _ = writeln!(out, "{id}: derivation of the update rule\n");
        }
        Format::Markdown => {
            let _ = writeln!(out, "# {id}: derivation of the update rule\n");
        }
        Format::Latex => {
            let _ = writeln!(
                out,
                "% {id}: derivation of the update rule (needs amsmath, amssymb, xcolor)"
            );
            let _ = writeln!(out, "\\section*{{{id}}}\n");
        }
    }
    if let Some(r) = record {
        let line = format!(
            "Values at step {} (loss {}).",
            r.step,
            format_number(r.loss)
        );
        let _ = writeln!(out, "{line}\n");
    }
    for (i, step) in steps.iter().enumerate() {
        let k = i + 1;
        match format {
            Format::Text => {
                let _ = writeln!(out, "{k}. {} — {}", step.title, step.sentence);
                let _ = writeln!(out, "{}", indented(&plain_text(step.latex)));
            }
            Format::Markdown => {
                let _ = writeln!(
                    out,
                    "## {k}. {}\n\n{}\n\n$$\n{}\n$$",
                    step.title, step.sentence, step.latex
                );
            }
            Format::Latex => {
                let _ = writeln!(
                    out,
                    "\\subsection*{{{k}. {}}}\n{}\n\\[\n{}\n\\]",
                    latex_text(step.title),
                    latex_text(step.sentence),
                    step.latex
                );
            }
        }
        if let Some(line) = record.and_then(|r| substituted_update(step, r)) {
            match format {
                Format::Text => {
                    let _ = writeln!(out, "{}", indented(&plain_text(&line)));
                }
                Format::Markdown => {
                    let _ = writeln!(out, "\n$$\n{line}\n$$\n");
                }
                Format::Latex => {
                    let _ = writeln!(out, "\\[\n{line}\n\\]");
                }
            }
        }
        if let Some(r) = record {
            for s in step.shows {
                if let Some(v) = r.get(*s) {
                    let text = format_value(v, LISTED_ENTRIES);
                    match format {
                        Format::Text => {
                            let _ = writeln!(out, "     {} = {text}", plain_text(s.latex));
                        }
                        Format::Markdown => {
                            let _ = writeln!(out, "- ${}$ = `{text}`", s.latex);
                        }
                        Format::Latex => {
                            let _ = writeln!(
                                out,
                                "\\noindent ${}$ = \\texttt{{{}}}\\\\",
                                s.latex,
                                latex_text(&text)
                            );
                        }
                    }
                }
            }
        }
        out.push('\n');
    }
    out
}

/// `text`'s lines, each indented under a step's number.
fn indented(text: &str) -> String {
    text.lines()
        .map(|l| format!("   {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The update of `step` with the record's numbers substituted, as LaTeX:
/// θ_{t−1} − η g_{t−1} = θ_t written out for plain gradient steps, and the
/// old → new parameters for every other update that records them. Vectors
/// show their first entries and an ellipsis.
#[must_use]
pub fn substituted_update(step: &DerivationStep, record: &StepRecord) -> Option<String> {
    use crate::optim::{ETA, GRAD_PREV, THETA, THETA_PREV};
    let shows = |id: &str| step.shows.iter().any(|s| s.id == id);
    if !(shows(THETA.id) && shows(THETA_PREV.id)) {
        return None;
    }
    let old = record.get(THETA_PREV)?.as_slice();
    let new = record.get(THETA)?.as_slice();
    let tuple = |v: &[f64]| -> String {
        let mut parts: Vec<String> = v
            .iter()
            .take(SHOWN_ENTRIES)
            .map(|x| format_number(*x))
            .collect();
        if v.len() > SHOWN_ENTRIES {
            parts.push(r"\ldots".into());
        }
        format!(r"\left( {} \right)", parts.join(", "))
    };
    let gradient_step = step.latex.contains(r"- \eta \, g_{t-1}") && !step.latex.contains(r"\hat");
    match (
        gradient_step,
        record.get(ETA).and_then(Value::as_scalar),
        record.get(GRAD_PREV),
    ) {
        (true, Some(eta), Some(g)) => Some(format!(
            r"\theta_t = {} - {} \cdot {} = {}",
            tuple(old),
            format_number(eta),
            tuple(g.as_slice()),
            tuple(new)
        )),
        _ => Some(format!(
            r"\theta_{{t-1}} = {} \;\longrightarrow\; \theta_t = {}",
            tuple(old),
            tuple(new)
        )),
    }
}

/// Escapes text for LaTeX paragraphs and maps its Unicode to LaTeX, so
/// that the file needs no Unicode support from the engine (plain pdflatex
/// reads it): symbols become inline math, runs of them one `$…$`, and runs
/// of sub- or superscript characters one group (10⁻¹⁰ is `10$^{-10}$`).
fn latex_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // The inline math being gathered, and the script group open in it.
    let mut math = String::new();
    let mut script: Option<(char, String)> = None;
    let close_script = |math: &mut String, script: &mut Option<(char, String)>| {
        if let Some((kind, body)) = script.take() {
            math.push(kind);
            math.push('{');
            math.push_str(&body);
            math.push('}');
        }
    };
    // Writes out the math gathered, as one `$…$`.
    let flush = |out: &mut String, math: &mut String, script: &mut Option<(char, String)>| {
        close_script(math, script);
        if !math.is_empty() {
            out.push('$');
            out.push_str(&std::mem::take(math));
            out.push('$');
        }
    };
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let barred = chars.next_if_eq(&'\u{304}').is_some();
        let piece = if barred {
            Some(Piece::Math(if c.is_ascii_alphabetic() {
                format!(r"\bar{{{c}}}")
            } else {
                format!(r"\bar{{{}}}", math_symbol(c).unwrap_or("{}"))
            }))
        } else if let Some((kind, body)) = script_char(c) {
            Some(Piece::Script(kind, body))
        } else {
            math_symbol(c).map(|m| Piece::Math(m.to_string()))
        };
        match piece {
            Some(Piece::Script(kind, body)) => {
                if script.as_ref().is_some_and(|(k, _)| *k != kind) {
                    close_script(&mut math, &mut script);
                }
                script.get_or_insert((kind, String::new())).1.push_str(body);
            }
            Some(Piece::Math(m)) => {
                close_script(&mut math, &mut script);
                math.push_str(&m);
            }
            None => {
                flush(&mut out, &mut math, &mut script);
                match c {
                    '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                        out.push('\\');
                        out.push(c);
                    }
                    '~' => out.push_str(r"\textasciitilde{}"),
                    // In text mode under the default font encoding these
                    // print as ¡, ¿ and —.
                    '<' => out.push_str(r"\textless{}"),
                    '>' => out.push_str(r"\textgreater{}"),
                    '|' => out.push_str(r"\textbar{}"),
                    '^' => out.push_str(r"\textasciicircum{}"),
                    '\\' => out.push_str(r"\textbackslash{}"),
                    '—' => out.push_str("---"),
                    '–' => out.push_str("--"),
                    '‘' => out.push('`'),
                    '’' => out.push('\''),
                    '“' => out.push_str("``"),
                    '”' => out.push_str("''"),
                    '…' => out.push_str(r"\ldots{}"),
                    'é' => out.push_str(r"\'e"),
                    c if c.is_ascii() => out.push(c),
                    // Anything else the sentences may come to use: its name.
                    c => {
                        let _ = write!(out, "[U+{:04X}]", u32::from(c));
                    }
                }
            }
        }
    }
    flush(&mut out, &mut math, &mut script);
    out
}

/// A piece of inline math: a symbol, or a character of a sub- (`_`) or
/// superscript (`^`) group.
enum Piece {
    Math(String),
    Script(char, &'static str),
}

/// A Unicode sub- or superscript character: its kind and what it stands for.
fn script_char(c: char) -> Option<(char, &'static str)> {
    const SUPERSCRIPTS: [(char, &str); 18] = [
        ('⁰', "0"),
        ('¹', "1"),
        ('²', "2"),
        ('³', "3"),
        ('⁴', "4"),
        ('⁵', "5"),
        ('⁶', "6"),
        ('⁷', "7"),
        ('⁸', "8"),
        ('⁹', "9"),
        ('⁺', "+"),
        ('⁻', "-"),
        ('⁽', "("),
        ('⁾', ")"),
        ('ⁿ', "n"),
        ('ˡ', "l"),
        ('ᵗ', "t"),
        ('ᵀ', r"\top "),
    ];
    const SUBSCRIPTS: [(char, &str); 29] = [
        ('₀', "0"),
        ('₁', "1"),
        ('₂', "2"),
        ('₃', "3"),
        ('₄', "4"),
        ('₅', "5"),
        ('₆', "6"),
        ('₇', "7"),
        ('₈', "8"),
        ('₉', "9"),
        ('₊', "+"),
        ('₋', "-"),
        ('₍', "("),
        ('₎', ")"),
        ('ₐ', "a"),
        ('ₑ', "e"),
        ('ₒ', "o"),
        ('ₓ', "x"),
        ('ₕ', "h"),
        ('ₖ', "k"),
        ('ₗ', "l"),
        ('ₘ', "m"),
        ('ₙ', "n"),
        ('ₚ', "p"),
        ('ₛ', "s"),
        ('ₜ', "t"),
        ('ᵢ', "i"),
        ('ⱼ', "j"),
        ('ᵧ', "y"),
    ];
    if let Some(&(_, s)) = SUPERSCRIPTS.iter().find(|(u, _)| *u == c) {
        return Some(('^', s));
    }
    SUBSCRIPTS
        .iter()
        .find(|(u, _)| *u == c)
        .map(|&(_, s)| ('_', s))
}

/// A Unicode symbol as LaTeX math.
fn math_symbol(c: char) -> Option<&'static str> {
    Some(match c {
        'α' => r"\alpha",
        'β' => r"\beta",
        'γ' => r"\gamma",
        'δ' => r"\delta",
        'ε' => r"\epsilon",
        'η' => r"\eta",
        'θ' => r"\theta",
        'λ' => r"\lambda",
        'μ' => r"\mu",
        'π' => r"\pi",
        'ρ' => r"\rho",
        'σ' => r"\sigma",
        'τ' => r"\tau",
        'φ' => r"\varphi",
        'ω' => r"\omega",
        'Σ' => r"\Sigma",
        'Δ' => r"\Delta",
        'Π' => r"\Pi",
        'ℓ' => r"\ell",
        '∂' => r"\partial",
        '∇' => r"\nabla",
        '∑' => r"\sum",
        '√' => r"\surd",
        '∞' => r"\infty",
        '½' => r"\tfrac{1}{2}",
        '−' => "-",
        '±' => r"\pm",
        '≤' => r"\le",
        '≥' => r"\ge",
        '≈' => r"\approx",
        '≠' => r"\ne",
        '∈' => r"\in",
        '∘' => r"\circ",
        '⊙' => r"\odot",
        '‖' => r"\|",
        '×' => r"\times",
        '·' => r"\cdot",
        '→' => r"\to",
        '←' => r"\leftarrow",
        '⇒' => r"\Rightarrow",
        '′' => "'",
        'ŷ' => r"\hat{y}",
        _ => return None,
    })
}

/// The trajectory as CSV: one row per snapshot, `step,loss,` then every
/// parameter (empty where a thinned history no longer has them).
#[must_use]
pub fn trajectory_csv(param_names: &[String], history: &[Snapshot]) -> String {
    let mut out = String::from("step,loss");
    for name in param_names {
        out.push(',');
        out.push_str(&csv_field(name));
    }
    out.push('\n');
    for s in history {
        let _ = write!(out, "{},{}", s.step, s.loss);
        if s.has_params() {
            for v in &s.params {
                let _ = write!(out, ",{v}");
            }
        } else {
            // A thinned history's step without its parameters: empty cells.
            out.push_str(&",".repeat(param_names.len()));
        }
        out.push('\n');
    }
    out
}

/// Writes RGBA pixels (row-major, 4 bytes each) as a PNG file.
///
/// # Errors
/// The file cannot be created, or the pixel count does not match the size.
pub fn write_png(
    path: &std::path::Path,
    width: u32,
    height: u32,
    rgba: &[u8],
) -> Result<(), String> {
    let expected = u64::from(width) * u64::from(height) * 4;
    if rgba.len() as u64 != expected {
        return Err(format!(
            "{} bytes of pixels for a {width}×{height} image",
            rgba.len()
        ));
    }
    let file =
        std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgba).map_err(|e| e.to_string())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::{Activation, Hyper, REGISTRY};

    #[test]
    fn an_exported_derivation_lists_a_newton_step_whole() {
        use crate::algorithms::entry;
        use crate::optim::OptimizerKind;
        let data = crate::data::Dataset::from_columns(
            &["a", "b"],
            &[vec![0.0, 1.0, 2.0, 3.0, 4.0], vec![1.0, 0.0, 2.0, 1.0, 3.0]],
            Some(("y", vec![0.0, 1.0, 0.0, 1.0, 1.0])),
        )
        .unwrap();
        let newton = Hyper {
            optimizer: Some(OptimizerKind::Newton),
            ..Hyper::default()
        };
        let mut algorithm = (entry("logistic-regression").unwrap().create)(&newton).unwrap();
        algorithm.reset(&data).unwrap();
        let record = algorithm.step(&data).unwrap();
        let text = derivation(
            algorithm.id(),
            &algorithm.derivation(),
            Format::Text,
            Some(&record),
        );
        let hessian = text
            .lines()
            .find(|l| l.trim_start().starts_with("H = ") && l.contains("matrix"))
            .unwrap();
        assert!(hessian.contains("3×3 matrix"), "{hessian}");
        assert!(!hessian.contains("in all"), "{hessian}");
        assert_eq!(hessian.matches(", ").count(), 8, "{hessian}");
    }

    /// Every algorithm's derivation, under each optimizer and activation.
    fn every_derivation() -> Vec<(&'static str, Vec<DerivationStep>)> {
        let mut all = Vec::new();
        for entry in REGISTRY {
            let optimizers = entry.optimizers.iter().map(|&o| Some(o)).chain([None]);
            for optimizer in optimizers {
                for activation in Activation::ALL {
                    let hyper = Hyper {
                        optimizer,
                        activation,
                        ..Hyper::default()
                    };
                    if let Ok(a) = (entry.create)(&hyper) {
                        all.push((entry.id, a.derivation()));
                    }
                }
            }
        }
        all
    }

    #[test]
    fn text_derivations_have_no_markup_and_distinct_symbols() {
        for (id, steps) in every_derivation() {
            let text = derivation(id, &steps, Format::Text, None);
            assert!(!text.contains('\\'), "{text}");
            for step in &steps {
                // The panel labels a step's values by these names.
                let names: Vec<String> = step.shows.iter().map(|s| plain_text(s.latex)).collect();
                for (i, name) in names.iter().enumerate() {
                    assert!(!name.is_empty() && !name.contains('\\'), "{id}: {name:?}");
                    assert!(
                        !names[..i].contains(name),
                        "{id}, {}: {name} twice",
                        step.title
                    );
                }
            }
        }
    }

    #[test]
    fn latex_exports_are_plain_ascii_for_every_algorithm_and_optimizer() {
        // Every derivation, with a step's values for one of them: nothing
        // pdflatex cannot read.
        let mut texts: Vec<String> = every_derivation()
            .iter()
            .map(|(id, steps)| derivation(id, steps, Format::Latex, None))
            .collect();
        let data = crate::data::Dataset::from_columns(
            &["a", "b"],
            &[vec![0.0, 1.0, 2.0, 3.0], vec![1.0, 0.0, 2.0, 1.0]],
            Some(("y", vec![0.0, 1.0, 0.0, 1.0])),
        )
        .unwrap();
        let newton = Hyper {
            optimizer: Some(crate::optim::OptimizerKind::Newton),
            ..Hyper::default()
        };
        let mut a = (crate::algorithms::entry("logistic-regression")
            .unwrap()
            .create)(&newton)
        .unwrap();
        a.reset(&data).unwrap();
        let record = a.step(&data).unwrap();
        texts.push(derivation(
            a.id(),
            &a.derivation(),
            Format::Latex,
            Some(&record),
        ));
        assert!(texts.len() > 40, "{}", texts.len());
        for text in &texts {
            let odd: String = text.chars().filter(|c| !c.is_ascii()).collect();
            assert!(
                odd.is_empty() && !text.contains("[U+"),
                "{odd:?} in\n{text}"
            );
        }
    }

    #[test]
    fn latex_text_groups_scripts_and_symbols() {
        assert_eq!(latex_text("below 10⁻¹⁰ here"), "below 10$^{-10}$ here");
        assert_eq!(latex_text("Σₓₓw = σₓᵧ"), r"$\Sigma_{xx}$w = $\sigma_{xy}$");
        assert_eq!(
            latex_text("z⁽ˡ⁾ and ∂pₗ/∂zₖ"),
            r"z$^{(l)}$ and $\partial$p$_{l}$/$\partial$z$_{k}$"
        );
        assert_eq!(
            latex_text("r̄ and ½ of 50%"),
            r"$\bar{r}$ and $\tfrac{1}{2}$ of 50\%"
        );
        assert_eq!(latex_text("λα"), r"$\lambda\alpha$");
        assert_eq!(
            latex_text("|z| > 1 < 2"),
            r"\textbar{}z\textbar{} \textgreater{} 1 \textless{} 2"
        );
    }

    #[test]
    fn numbers_and_lists_are_compact() {
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(-8.5), "-8.5");
        assert_eq!(format_number(1.0 / 3.0), "0.333333");
        assert_eq!(format_number(0.012_345_678), "0.012346");
        assert_eq!(format_number(-0.000_555_123_45), "-0.000555123");
        assert_eq!(format_number(0.001), "0.001");
        assert_eq!(format_number(0.009_999_999_9), "0.01");
        assert_eq!(format_number(1_000_000.0), "1000000");
        assert_eq!(format_number(-42.0), "-42");
        assert_eq!(format_number(1_234_567.8), "1.23457e6");
        assert_eq!(format_number(801_711.521_842), "801711.5");
        assert_eq!(format_number(44.768_667_89), "44.76867");
        assert_eq!(format_number(-1.234_567_89), "-1.234568");
        assert_eq!(format_number(999_999.96), "1000000");
        assert_eq!(format_number(1e20), "1.00000e20");
        assert_eq!(
            format_entries(&Value::Vector(vec![1.0, 2.0, 3.0, 4.0, 5.0]), 2),
            "[1, 2, … (5 in all)]"
        );
        // A matrix reads row by row; its head reads as the whole matrix:
        // its shape, its first entries and how many it has.
        let rows = Value::Matrix(nalgebra::DMatrix::from_row_slice(
            2,
            3,
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        ));
        assert_eq!(
            format_value(&rows, SHOWN_ENTRIES),
            "2×3 matrix [[1, 2, 3], [4, 5, 6]]"
        );
        let units = Value::Matrix(nalgebra::DMatrix::from_fn(8, 2, |i, j| (2 * i + j) as f64));
        assert_eq!(
            format_value(&units, SHOWN_ENTRIES),
            "8×2 matrix [[0, 1], [2, 3], … (8 rows)]"
        );
        let whole = nalgebra::DMatrix::from_fn(1000, 3, |i, j| (i + 10 * j) as f64);
        let head = Value::Head {
            rows: 1000,
            head: whole.rows(0, 64).into_owned(),
        };
        assert_eq!(
            format_value(&head, SHOWN_ENTRIES),
            format_value(&Value::Matrix(whole), SHOWN_ENTRIES)
        );
        assert_eq!(
            format_value(&head, SHOWN_ENTRIES),
            "1000×3 matrix [[0, 10, 20], … (1000 rows)]"
        );
        // Hovered, 21 whole rows of 3 (63 entries).
        assert_eq!(
            format_entries(&head, 64).matches(", ").count(),
            63,
            "two separators in each of 21 rows, one between each of them, and the count"
        );
        let sampled = Value::Sampled {
            rows: 100,
            every: 10,
            values: (0..10).map(f64::from).collect(),
        };
        assert_eq!(
            format_value(&sampled, SHOWN_ENTRIES),
            "[0, 1, 2, 3, … (10 in all)] at rows 0, 10, 20, …: one row in 10 of 100, those drawn"
        );
    }

    #[test]
    fn the_gradient_step_is_written_out_with_the_records_numbers() {
        use crate::algorithms::{Algorithm, Hyper, linear::LinearRegression};
        use crate::data::Dataset;
        let data = Dataset::from_columns(
            &["x"],
            &[vec![0.0, 1.0, 2.0, 3.0]],
            Some(("y", vec![1.0, 3.0, 5.0, 7.0])),
        )
        .unwrap();
        let mut alg = LinearRegression::new(&Hyper {
            learning_rate: Some(0.1),
            ..Hyper::default()
        })
        .unwrap();
        alg.reset(&data).unwrap();
        let record = alg.step(&data).unwrap();
        let steps = alg.derivation();
        let update = steps.iter().find(|s| s.title == "Gradient step").unwrap();
        // By hand: θ₀ = (0, 0), g₀ = (−8.5, −4), θ₁ = (0.85, 0.4).
        assert_eq!(
            substituted_update(update, &record).unwrap(),
            r"\theta_t = \left( 0, 0 \right) - 0.1 \cdot \left( -8.5, -4 \right) = \left( 0.85, 0.4 \right)"
        );
        assert!(substituted_update(&steps[0], &record).is_none());
        let md = derivation("linear-regression", &steps, Format::Markdown, Some(&record));
        assert!(md.contains(r"= \left( 0.85, 0.4 \right)"));
        assert!(
            crate::math::render(
                &substituted_update(update, &record).unwrap(),
                16.0,
                [0, 0, 0]
            )
            .is_ok()
        );
    }

    #[test]
    fn png_round_trips() {
        let path = std::env::temp_dir().join(format!("steplab-png-{}.png", std::process::id()));
        let pixels: Vec<u8> = (0..2 * 3 * 4)
            .map(|i| u8::try_from(i * 10).unwrap())
            .collect();
        write_png(&path, 2, 3, &pixels).unwrap();
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 3));
        assert_eq!(&buf[..info.buffer_size()], &pixels[..]);
        assert!(write_png(&path, 5, 5, &pixels).is_err());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn trajectory_has_a_header_and_one_row_per_step() {
        let h = vec![
            Snapshot {
                step: 0,
                loss: 2.0,
                params: vec![0.0, 0.0],
                grad_norm: None,
            },
            Snapshot {
                step: 1,
                loss: 1.5,
                params: vec![0.25, -1.0],
                grad_norm: None,
            },
        ];
        let csv = trajectory_csv(&["w[a,b]".into(), "bias".into()], &h);
        assert_eq!(csv, "step,loss,\"w[a,b]\",bias\n0,2,0,0\n1,1.5,0.25,-1\n");
    }
}
