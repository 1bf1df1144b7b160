//! Where the symbols of a derivation occur in a formula's LaTeX source, so
//! that each occurrence can become a hover region of the typeset formula.
//!
//! Matching is textual but respects TeX tokens: a symbol typeset as `n` is
//! found in `\frac{1}{n}` but not inside `\operatorname{sign}`, `\text{…}`,
//! `\begin{pmatrix}` or `n_k` (a different symbol); a symbol followed by a
//! power (`r_i^2`, `\mathbf{w}^\top`) takes the power with it, so that wrapping
//! it does not move the superscript (unless it is itself a script, as the `j`
//! of `\mathbf{w}_j^\top`).

use std::ops::Range;

/// One occurrence of a candidate in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// Byte range in the source (including a trailing power).
    pub range: Range<usize>,
    /// Index of the candidate that matched.
    pub candidate: usize,
}

/// Finds the non-overlapping occurrences of `candidates` (LaTeX fragments) in
/// `latex`, longer candidates first, sorted by position.
#[must_use]
pub fn find(latex: &str, candidates: &[&str]) -> Vec<Occurrence> {
    let words = word_ranges(latex);
    let mut order: Vec<usize> = (0..candidates.len())
        .filter(|&i| !candidates[i].trim().is_empty())
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(candidates[i].len()));
    let mut found: Vec<Occurrence> = Vec::new();
    for i in order {
        let fragment = candidates[i];
        for (start, _) in latex.match_indices(fragment) {
            let Some(end) = accept(latex, start, fragment) else {
                continue;
            };
            let overlaps = |r: &Range<usize>| r.start < end && start < r.end;
            if found.iter().any(|o| overlaps(&o.range)) || words.iter().any(overlaps) {
                continue;
            }
            found.push(Occurrence {
                range: start..end,
                candidate: i,
            });
        }
    }
    found.sort_by_key(|o| o.range.start);
    found
}

/// Whether `fragment` at `start` is a whole token group; if so, where the
/// occurrence ends (after a trailing power).
fn accept(latex: &str, start: usize, fragment: &str) -> Option<usize> {
    let bytes = latex.as_bytes();
    let first = fragment.as_bytes()[0];
    if let Some(&before) = start.checked_sub(1).and_then(|i| bytes.get(i)) {
        // Part of a command name (`\mathbf` holds a `b`) or an escaped char.
        if before == b'\\' || (first.is_ascii_alphabetic() && before.is_ascii_alphabetic()) {
            return None;
        }
    }
    let mut end = start + fragment.len();
    let is_script = start > 0 && matches!(bytes[start - 1], b'_' | b'^');
    let last = *fragment.as_bytes().last()?;
    match bytes.get(end) {
        Some(next) if next.is_ascii_alphabetic() && last.is_ascii_alphabetic() => return None,
        // `n` in `n_k`, `\lambda` in `\lambda_1`: another symbol.
        Some(b'_') if !has_top_level_script(fragment, b'_') => return None,
        // A power belongs with its base.
        Some(b'^') if !is_script => end = script_end(bytes, end + 1)?,
        _ => {}
    }
    Some(end)
}

/// Whether `fragment` has a `script` (`_` or `^`) outside braces.
fn has_top_level_script(fragment: &str, script: u8) -> bool {
    let mut depth = 0_i32;
    fragment.bytes().any(|b| {
        match b {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            _ => {}
        }
        b == script && depth == 0
    })
}

/// The end of a script's argument starting at `at`: a braced group, a
/// command (`\top`), or one character.
fn script_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'{' => {
            let mut depth = 0_i32;
            for (i, &b) in bytes.iter().enumerate().skip(at) {
                match b {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        b'\\' => Some(
            at + 1
                + bytes[at + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphabetic())
                    .count()
                    .max(1),
        ),
        _ => Some(at + 1),
    }
}

/// Byte ranges of words that are not math: the arguments of `\text`,
/// `\operatorname`, `\mathrm`, `\begin`, `\end` and colour specifications.
fn word_ranges(latex: &str) -> Vec<Range<usize>> {
    const WORDY: [&str; 9] = [
        r"\text{",
        r"\textrm{",
        r"\operatorname{",
        r"\operatorname*{",
        r"\mathrm{",
        r"\begin{",
        r"\end{",
        r"\color{",
        r"\textcolor{",
    ];
    let bytes = latex.as_bytes();
    let mut ranges = Vec::new();
    for command in WORDY {
        for (start, _) in latex.match_indices(command) {
            let open = start + command.len() - 1;
            if let Some(end) = script_end(bytes, open) {
                ranges.push(open..end);
            }
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched<'a>(latex: &'a str, candidates: &[&str]) -> Vec<&'a str> {
        find(latex, candidates)
            .into_iter()
            .map(|o| &latex[o.range])
            .collect()
    }

    #[test]
    fn finds_whole_symbols_only() {
        let latex = r"J(\mathbf{w}, b) = \frac{1}{2n} \sum_{i=1}^{n} r_i^2 + \lambda_1 \|\mathbf{w}\|_1 + \operatorname{sign}(b) + n_k";
        let got = matched(latex, &["n", r"\mathbf{w}", "b", "r_i", "J", r"\lambda"]);
        // Not the b of \mathbf, the n of sign or n_k, or the λ of λ₁.
        assert_eq!(
            got,
            [
                "J",
                r"\mathbf{w}",
                "b",
                "n",
                "n",
                "r_i^2",
                r"\mathbf{w}",
                "b"
            ]
        );
    }

    #[test]
    fn longer_symbols_win_and_powers_come_along() {
        let latex =
            r"\nabla_{\mathbf{w}} J = X^\top \mathbf{r} + \mathbf{w}^\top x + \mathbf{w}^{(t)}";
        let got = matched(latex, &[r"\mathbf{w}", "J", r"\nabla_{\mathbf{w}} J"]);
        assert_eq!(
            got,
            [
                r"\nabla_{\mathbf{w}} J",
                r"\mathbf{w}^\top",
                r"\mathbf{w}^{(t)}"
            ]
        );
    }

    #[test]
    fn environments_and_words_are_not_math() {
        let latex = r"\begin{pmatrix} p & b \end{pmatrix} \text{n rows} \textcolor{blue}{b}";
        assert_eq!(matched(latex, &["p", "n", "b", "e"]), ["p", "b", "b"]);
    }
}
