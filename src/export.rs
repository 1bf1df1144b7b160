//! Exports that need no GUI: the derivation as text, Markdown or LaTeX (with
//! a step's numbers substituted when a record is given), and the trajectory as CSV.

use crate::algorithms::{DerivationStep, StepRecord, Value};
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

/// How many entries of a vector are written before an ellipsis.
pub const SHOWN_ENTRIES: usize = 4;

/// A value written compactly: scalars with 6 significant digits, vectors as
/// their first entries and an ellipsis, matrices by shape and first entries.
#[must_use]
pub fn format_value(value: &Value) -> String {
    match value {
        Value::Scalar(v) => format_number(*v),
        Value::Vector(v) => format_list(v, SHOWN_ENTRIES),
        Value::Matrix(m) => format!(
            "{}×{} matrix {}",
            m.nrows(),
            m.ncols(),
            format_list(m.as_slice(), SHOWN_ENTRIES)
        ),
    }
}

/// A number with about 6 significant digits.
#[must_use]
pub fn format_number(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if !v.is_finite() {
        format!("{v}")
    } else if v.abs() >= 1e6 || v.abs() < 1e-4 {
        format!("{v:.5e}")
    } else {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// `[a, b, c, …]` with at most `shown` entries, followed by the length when cut.
#[must_use]
pub fn format_list(values: &[f64], shown: usize) -> String {
    let parts: Vec<String> = values
        .iter()
        .take(shown)
        .map(|v| format_number(*v))
        .collect();
    if values.len() > shown {
        format!("[{}, … ({} in all)]", parts.join(", "), values.len())
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
                let _ = writeln!(
                    out,
                    "{k}. {} — {}\n   {}",
                    step.title, step.sentence, step.latex
                );
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
                    step.title,
                    latex_text(step.sentence),
                    step.latex
                );
            }
        }
        if let Some(r) = record {
            for s in step.shows {
                if let Some(v) = r.get(*s) {
                    let text = format_value(v);
                    match format {
                        Format::Text => {
                            let _ = writeln!(out, "     {} = {text}", s.id);
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

/// Escapes text for LaTeX paragraphs and maps the Unicode the sentences use.
fn latex_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str(r"\textasciitilde{}"),
            '^' => out.push_str(r"\textasciicircum{}"),
            '\\' => out.push_str(r"\textbackslash{}"),
            _ => match greek_to_latex(c) {
                Some(m) => {
                    out.push('$');
                    out.push_str(m);
                    out.push('$');
                }
                None => out.push(c),
            },
        }
    }
    out
}

fn greek_to_latex(c: char) -> Option<&'static str> {
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
        'Σ' => r"\Sigma",
        'ᵀ' => r"^\top",
        '₁' => "_1",
        '₂' => "_2",
        'ⱼ' => "_j",
        'ᵢ' => "_i",
        'ₖ' => "_k",
        'ᵗ' => "^t",
        '⁻' => "^-",
        '⁸' => "^8",
        '¹' => "^1",
        '²' => "^2",
        '−' => "-",
        '≤' => r"\le",
        '‖' => r"\|",
        '×' => r"\times",
        '·' => r"\cdot",
        '→' => r"\to",
        'ŷ' => r"\hat{y}",
        _ => return None,
    })
}

/// The trajectory as CSV: one row per snapshot, `step,loss,` then every parameter.
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
        for v in &s.params {
            let _ = write!(out, ",{v}");
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

    #[test]
    fn numbers_and_lists_are_compact() {
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(-8.5), "-8.5");
        assert_eq!(format_number(1.0 / 3.0), "0.333333");
        assert_eq!(
            format_list(&[1.0, 2.0, 3.0, 4.0, 5.0], 2),
            "[1, 2, … (5 in all)]"
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
