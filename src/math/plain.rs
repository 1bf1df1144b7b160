//! Plain-text rendering of derivation formulas for terminals: LaTeX becomes
//! Unicode symbols, sub- and superscripts where Unicode has them, `a/b`
//! fractions and one line per row of an aligned environment.

/// Characters with a subscript form (first string) and those forms (second).
const SUBSCRIPTS: [&str; 2] = [
    "0123456789+−=()aehijklmnoprstuvxβγρφχ",
    "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ",
];

/// Characters with a superscript form and those forms; a superscript `∗`
/// reads best as the plain-text star of `w*`.
const SUPERSCRIPTS: [&str; 2] = [
    "0123456789+−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWαβγδεθφχ∗′",
    "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵅᵝᵞᵟᵋᶿᵠᵡ*′",
];

/// Command names and their text, as whitespace-separated pairs.
const SYMBOLS: &str = "
    alpha α beta β gamma γ delta δ epsilon ε varepsilon ε zeta ζ eta η theta θ
    vartheta ϑ iota ι kappa κ lambda λ mu μ nu ν xi ξ pi π varpi ϖ rho ρ
    varrho ϱ sigma σ varsigma ς tau τ upsilon υ phi φ varphi φ chi χ psi ψ
    omega ω Gamma Γ Delta Δ Theta Θ Lambda Λ Xi Ξ Pi Π Sigma Σ Upsilon Υ Phi Φ
    Psi Ψ Omega Ω sum ∑ prod ∏ int ∫ partial ∂ nabla ∇ infty ∞ ell ℓ hbar ℏ
    emptyset ∅ varnothing ∅ forall ∀ exists ∃ neg ¬ lnot ¬ top ᵀ intercal ᵀ
    perp ⊥ prime ′ ast ∗ star ⋆ circ ∘ bullet • cdot · cdotp · times × div ÷
    pm ± mp ∓ odot ⊙ otimes ⊗ oplus ⊕ setminus ∖ cup ∪ cap ∩ wedge ∧ land ∧
    vee ∨ lor ∨ le ≤ leq ≤ leqslant ≤ ge ≥ geq ≥ geqslant ≥ ne ≠ neq ≠
    approx ≈ equiv ≡ sim ∼ simeq ≃ cong ≅ propto ∝ ll ≪ gg ≫ in ∈ notin ∉
    ni ∋ subset ⊂ subseteq ⊆ supset ⊃ supseteq ⊇ mid | vert | lvert | rvert |
    | ‖ Vert ‖ lVert ‖ rVert ‖ to → rightarrow → longrightarrow → leftarrow ←
    gets ← longleftarrow ← leftrightarrow ↔ Rightarrow ⇒ Longrightarrow ⇒
    implies ⇒ Leftarrow ⇐ Leftrightarrow ⇔ iff ⇔ mapsto ↦ uparrow ↑
    downarrow ↓ langle ⟨ rangle ⟩ lfloor ⌊ rfloor ⌋ lceil ⌈ rceil ⌉ { {
    } } lbrace { rbrace } ldots … dots … cdots ⋯ vdots ⋮ ddots ⋱ colon :
    % % _ _ # # $ $ & & textasciicircum ^ textasciitilde ~ textendash –
    textemdash —
";

/// Calligraphic and blackboard capitals (those blackboard letters outside
/// the Basic Multilingual Plane stay plain).
const CALLIGRAPHIC: &str = "𝒜ℬ𝒞𝒟ℰℱ𝒢ℋℐ𝒥𝒦ℒℳ𝒩𝒪𝒫𝒬ℛ𝒮𝒯𝒰𝒱𝒲𝒳𝒴𝒵";
const BLACKBOARD: &str = "ABℂDEFGHIJKLMℕOℙℚℝSTUVWXYℤ";

/// No space is kept after these, nor before `CLOSERS`.
const OPENERS: &str = "([{⟨∂√";
const CLOSERS: &str = ")]}⟩,";

/// Renders a LaTeX formula as plain Unicode text.
///
/// Rows of `aligned` (and of the formula itself) become lines with their `&`
/// positions lined up; the caller indents them. Unknown commands print their
/// names; malformed input renders as far as it goes.
#[must_use]
pub fn plain_text(latex: &str) -> String {
    let mut parser = Parser {
        tokens: tokenize(latex),
        pos: 0,
    };
    align(&parser.table(Context::Top))
}

/// One lexical unit of the LaTeX source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// `\name`, or `\` and one other character (`\,`, `\\`, `\{`); empty for
    /// a trailing `\`.
    Command(&'a str),
    Char(char),
    Open,
    Close,
    Sub,
    Sup,
    Align,
    /// A run of whitespace.
    Space,
}

fn tokenize(latex: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut chars = latex.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        tokens.push(match c {
            '\\' => {
                // A run of letters, or any one character.
                let start = i + 1;
                let mut end = start;
                while let Some((j, n)) =
                    chars.next_if(|&(j, n)| j == start || n.is_ascii_alphabetic())
                {
                    end = j + n.len_utf8();
                    if !n.is_ascii_alphabetic() {
                        break;
                    }
                }
                Token::Command(&latex[start..end])
            }
            '{' => Token::Open,
            '}' => Token::Close,
            '_' => Token::Sub,
            '^' => Token::Sup,
            '&' => Token::Align,
            c if c.is_whitespace() => {
                while chars.next_if(|&(_, n)| n.is_whitespace()).is_some() {}
                Token::Space
            }
            c => Token::Char(c),
        });
    }
    tokens
}

/// Where a run of tokens ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// The whole formula: at `&` or `\\` (stray `}` are skipped).
    Top,
    /// A `{…}` group: at its `}`.
    Group,
    /// An environment's cell: at `&`, `\\`, `\end` or a `}`.
    Cell,
}

/// Text being written, with the source's spaces collapsed to one.
struct Out {
    text: String,
    /// A space seen but not yet written.
    space: bool,
    /// Inside `\text{…}`: `-` stays a hyphen and edge spaces are kept.
    text_mode: bool,
}

impl Out {
    const fn new(text_mode: bool) -> Self {
        Self {
            text: String::new(),
            space: false,
            text_mode,
        }
    }

    /// Writes a pending space if `next` follows it after other text.
    fn flush_space(&mut self, next: char) {
        let after = self.text.chars().next_back();
        if std::mem::take(&mut self.space)
            && !next.is_whitespace()
            && !CLOSERS.contains(next)
            && after.map_or(self.text_mode, |c| {
                !c.is_whitespace() && !OPENERS.contains(c)
            })
        {
            self.text.push(' ');
        }
    }

    fn push(&mut self, s: &str) {
        if let Some(first) = s.chars().next() {
            self.flush_space(first);
            self.text.push_str(s);
        }
    }

    /// Writes a block whose later lines start under its first.
    fn push_block(&mut self, block: &str) {
        if let Some(first) = block.chars().next() {
            self.flush_space(first);
            let column = width(self.text.rsplit('\n').next().unwrap_or_default());
            let indent = format!("\n{}", " ".repeat(column));
            self.text.push_str(&block.replace('\n', &indent));
        }
    }

    /// Writes `s` against the text before it (scripts, primes).
    fn attach(&mut self, s: &str) {
        self.space = false;
        self.text.push_str(s);
    }

    /// Writes spaces that are kept as they are (`\quad`).
    fn hard_space(&mut self, n: usize) {
        self.space = false;
        self.text.extend(std::iter::repeat_n(' ', n));
    }

    fn finish(mut self) -> String {
        if self.text_mode && self.space {
            self.text.push(' ');
        }
        self.text
    }
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    fn eat(&mut self, token: Token<'a>) -> bool {
        let found = self.peek() == Some(token);
        self.pos += usize::from(found);
        found
    }

    /// Renders the rows and cells up to the end of `context` (`Top` or `Cell`).
    fn table(&mut self, context: Context) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        loop {
            let mut cell = Out::new(false);
            self.sequence(&mut cell, context);
            row.push(cell.finish().trim_end().to_string());
            if self.eat(Token::Align) {
                continue;
            }
            if !self.eat(Token::Command("\\")) {
                break;
            }
            self.optional();
            rows.push(std::mem::take(&mut row));
        }
        rows.push(row);
        rows.retain(|r| r.iter().any(|c| !c.is_empty()));
        rows
    }

    /// Renders tokens into `out` until the end of `context`.
    fn sequence(&mut self, out: &mut Out, context: Context) {
        while let Some(token) = self.peek() {
            match (token, context) {
                (Token::Close, Context::Top) => self.pos += 1,
                (Token::Close, _)
                | (Token::Align | Token::Command("\\"), Context::Top | Context::Cell)
                | (Token::Command("end"), Context::Cell) => return,
                _ => self.item(out),
            }
        }
    }

    /// Renders one token with its arguments.
    fn item(&mut self, out: &mut Out) {
        let Some(token) = self.peek() else { return };
        self.pos += 1;
        match token {
            Token::Space | Token::Char('~') => out.space = true,
            Token::Open => {
                self.sequence(out, Context::Group);
                self.eat(Token::Close);
            }
            Token::Close | Token::Align => {}
            Token::Sub | Token::Sup => {
                let body = self.argument(false);
                out.attach(&script(&body, token == Token::Sup));
            }
            Token::Char('-') if !out.text_mode => out.push("−"),
            Token::Char('\'') => out.attach("'"),
            Token::Char(c) => out.push(c.encode_utf8(&mut [0; 4])),
            Token::Command(name) => self.command(out, name),
        }
    }

    /// Renders the next argument (a group or one token) on its own.
    fn argument(&mut self, text_mode: bool) -> String {
        while self.eat(Token::Space) {}
        let mut out = Out::new(text_mode);
        self.item(&mut out);
        out.finish()
    }

    /// Renders a `[…]` optional argument, if one follows.
    fn optional(&mut self) -> Option<String> {
        if !self.eat(Token::Char('[')) {
            return None;
        }
        let mut out = Out::new(false);
        while !matches!(self.peek(), None | Some(Token::Char(']'))) {
            self.item(&mut out);
        }
        self.pos += 1;
        Some(out.finish())
    }

    fn command(&mut self, out: &mut Out, name: &str) {
        match name {
            "frac" | "tfrac" | "dfrac" | "cfrac" => {
                let numerator = self.argument(false);
                let denominator = self.argument(false);
                out.push(&format!(
                    "{}/{}",
                    operand(&numerator),
                    operand(&denominator)
                ));
            }
            "sqrt" => {
                let index = self.optional().map(|i| script(&i, true));
                let body = self.argument(false);
                out.push(&format!("{}√{}", index.unwrap_or_default(), operand(&body)));
            }
            "hat" | "widehat" => self.accent(out, "hat", '\u{302}'),
            "bar" | "overline" => self.accent(out, "bar", '\u{304}'),
            "tilde" | "widetilde" => self.accent(out, "tilde", '\u{303}'),
            "dot" => self.accent(out, "dot", '\u{307}'),
            "ddot" => self.accent(out, "ddot", '\u{308}'),
            "text" | "textrm" | "textit" | "textbf" | "textsf" | "texttt" | "mbox" => {
                let body = self.argument(true);
                out.push(&body);
            }
            "operatorname" | "mathbf" | "boldsymbol" | "bm" | "mathrm" | "mathit" | "mathsf"
            | "mathtt" | "mathfrak" | "vec" => {
                self.eat(Token::Char('*'));
                let body = self.argument(false);
                out.push(&body);
            }
            "mathcal" | "mathscr" => out.push(&capitals(&self.argument(false), CALLIGRAPHIC)),
            "mathbb" => out.push(&capitals(&self.argument(false), BLACKBOARD)),
            "begin" => self.environment(out),
            "end" => {
                self.argument(false);
            }
            "\\" => out.attach("\n"),
            "quad" => out.hard_space(2),
            "qquad" => out.hard_space(4),
            "left" | "right" | "middle" | "big" | "Big" | "bigg" | "Bigg" | "bigl" | "bigr"
            | "Bigl" | "Bigr" | "biggl" | "biggr" | "Biggl" | "Biggr" => {
                self.eat(Token::Char('.'));
            }
            "!" | "displaystyle" | "textstyle" | "limits" | "nolimits" | "nonumber" | "notag" => {}
            "color" | "textcolor" | "label" | "phantom" | "vphantom" | "hphantom" | "hspace" => {
                self.optional();
                self.argument(false);
                out.space |= name == "hspace";
            }
            "," | ";" | ":" | ">" | "enspace" | "thinspace" => out.space = true,
            _ if name.chars().all(char::is_whitespace) => out.space = true,
            _ => out.push(symbol(name).unwrap_or(name)),
        }
    }

    /// Renders the accented argument: a combining `mark` after its one
    /// letter (scripts may follow it), else `name(…)`.
    fn accent(&mut self, out: &mut Out, name: &str, mark: char) {
        let body = self.argument(false);
        let body = body.trim();
        let mut chars = body.chars();
        match chars.next() {
            None => {}
            Some(first) if chars.clone().all(|c| is_script(c) || is_combining(c)) => {
                out.push(&format!("{first}{mark}{}", chars.as_str()));
            }
            Some(_) => out.push(&format!("{name}({body})")),
        }
    }

    /// Renders `\begin{name}…\end{name}`: matrices and cases inline, other
    /// environments (`aligned`, `gathered`, …) as aligned lines.
    fn environment(&mut self, out: &mut Out) {
        let name = self.argument(true);
        if name == "array" {
            self.argument(false);
        }
        let rows = self.table(Context::Cell);
        if self.eat(Token::Command("end")) {
            self.argument(false);
        }
        let inline = |open: &str, close: &str, cells: &str| {
            let rows: Vec<String> = rows.iter().map(|r| r.join(cells)).collect();
            format!("{open}{}{close}", rows.join("; "))
        };
        let column_vector = rows.len() > 1 && rows.iter().all(|r| r.len() == 1);
        let text = match name.as_str() {
            "pmatrix" | "bmatrix" if column_vector => {
                let (open, close) = if name == "pmatrix" {
                    ("(", ")")
                } else {
                    ("[", "]")
                };
                format!("{open}{}{close}ᵀ", rows.concat().join(", "))
            }
            "pmatrix" => inline("(", ")", ", "),
            "bmatrix" => inline("[", "]", ", "),
            "Bmatrix" | "cases" => inline("{", "}", ", "),
            "vmatrix" => inline("|", "|", ", "),
            "Vmatrix" => inline("‖", "‖", ", "),
            "matrix" | "smallmatrix" | "array" => inline("", "", ", "),
            _ => align(&rows),
        };
        out.push_block(&text);
    }
}

/// Lays out rows as lines, padding every cell but a row's last so that the
/// cells line up; cells alternate right- and left-aligned as in `aligned`.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|j| {
            rows.iter()
                .filter_map(|r| r.get(j))
                .map(|c| width(c))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let lines: Vec<String> = rows
        .iter()
        .map(|row| {
            let mut line = String::new();
            for (j, (cell, &w)) in row.iter().zip(&widths).enumerate() {
                if w == 0 {
                    continue;
                }
                if !line.is_empty() {
                    line.push(' ');
                }
                let pad = " ".repeat(w - width(cell));
                if j + 1 == row.len() {
                    line.push_str(cell);
                } else if j % 2 == 0 {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
            }
            line.trim_end().to_string()
        })
        .collect();
    lines.join("\n")
}

/// Columns taken by `s` in a terminal (combining marks take none).
fn width(s: &str) -> usize {
    s.chars().filter(|&c| !is_combining(c)).count()
}

/// Whether `c` is a combining mark (an accent drawn over the character
/// before it).
#[must_use]
pub const fn is_combining(c: char) -> bool {
    matches!(c, '\u{300}'..='\u{36f}' | '\u{20d0}'..='\u{20ff}')
}

/// Whether `c` is a sub- or superscript character (ᵢ, ², ⁽).
#[must_use]
pub fn is_script(c: char) -> bool {
    SUBSCRIPTS[1].contains(c) || SUPERSCRIPTS[1].contains(c)
}

/// `c` as a sub- or superscript character, if Unicode has one (script
/// characters are their own form).
fn script_form(c: char, sup: bool) -> Option<char> {
    let [plain, forms] = if sup { SUPERSCRIPTS } else { SUBSCRIPTS };
    if forms.contains(c) {
        return Some(c);
    }
    let i = plain.chars().position(|p| p == c)?;
    forms.chars().nth(i)
}

/// A sub- or superscript: script characters if each has one, else `_x`,
/// `^x` for one character and `_(…)`, `^(…)` for more.
fn script(body: &str, sup: bool) -> String {
    let body = body.trim();
    if let Some(forms) = body.chars().map(|c| script_form(c, sup)).collect() {
        return forms;
    }
    let mark = if sup { '^' } else { '_' };
    if width(body) == 1 {
        format!("{mark}{body}")
    } else {
        format!("{mark}({body})")
    }
}

/// A fraction's numerator or denominator, parenthesized unless it is one
/// factor.
fn operand(s: &str) -> String {
    let s = s.trim();
    if is_factor(s) {
        s.to_string()
    } else {
        format!("({s})")
    }
}

/// Whether `s` reads as one factor next to `/`: a number, word or bracketed
/// group, optionally after ∂ or √, then calls, scripts and primes (`∂wⱼ`,
/// `sign(w)`, `e^(−z)`, `|Aₜ|`, `(a + b)ᵀ`); not `2n` or `λ t`.
fn is_factor(s: &str) -> bool {
    let chars: Vec<char> = s.strip_prefix(['∂', '√']).unwrap_or(s).chars().collect();
    let head = match chars.first() {
        None => return true,
        Some(c) if c.is_ascii_digit() => chars
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == '.')
            .count(),
        Some(c) if c.is_alphabetic() && !is_script(*c) => chars
            .iter()
            .take_while(|c| c.is_alphabetic() && !is_script(**c))
            .count(),
        Some(_) => bracket_len(&chars),
    };
    if head == 0 {
        return false;
    }
    let mut i = head;
    while let Some(&c) = chars.get(i) {
        i += if is_script(c) || is_combining(c) || c == '\'' {
            1
        } else if c == '_' || c == '^' {
            1 + bracket_len(&chars[i + 1..]).max(usize::from(i + 1 < chars.len()))
        } else {
            match bracket_len(&chars[i..]) {
                0 => return false,
                n => n,
            }
        };
    }
    true
}

/// The length of the bracketed group `chars` starts with, or 0.
fn bracket_len(chars: &[char]) -> usize {
    let Some(&open) = chars.first() else { return 0 };
    let close = match open {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        '⟨' => '⟩',
        '|' | '‖' => open,
        _ => return 0,
    };
    let mut depth = 0;
    for (i, &c) in chars.iter().enumerate().skip(1) {
        if c == close {
            if depth == 0 {
                return i + 1;
            }
            depth -= 1;
        } else if c == open {
            depth += 1;
        }
    }
    0
}

/// `body` with its capitals taken from `alphabet` (26 letters, A to Z).
fn capitals(body: &str, alphabet: &str) -> String {
    body.chars()
        .map(|c| {
            alphabet
                .chars()
                .zip('A'..='Z')
                .find_map(|(a, l)| (l == c).then_some(a))
                .unwrap_or(c)
        })
        .collect()
}

fn symbol(name: &str) -> Option<&'static str> {
    let mut words = SYMBOLS.split_whitespace();
    while let (Some(key), Some(value)) = (words.next(), words.next()) {
        if key == name {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    /// Formulas of the exported derivations (and prose fragments of them).
    const CORPUS: &[&str] = &[
        r"z_i = \mathbf{w} \cdot \mathbf{x}_i + b, \qquad p_i = \sigma(z_i) = \frac{1}{1 + e^{-z_i}}",
        r"J(\mathbf{w}, b) = \frac{1}{2n} \sum_{i=1}^{n} r_i^2 + \frac{\lambda}{2} \|\mathbf{w}\|^2 + \lambda_1 \|\mathbf{w}\|_1",
        r"\begin{aligned} \frac{\partial J}{\partial w_j} &= \frac{1}{n} \sum_{i=1}^{n} r_i \frac{\partial \hat{y}_i}{\partial w_j} + \lambda w_j + \lambda_1 \operatorname{sign}(w_j) \\ &= \frac{1}{n} \sum_{i=1}^{n} r_i x_{ij} + \lambda w_j + \lambda_1 \operatorname{sign}(w_j) \end{aligned}",
        r"\begin{aligned} \mathbf{u} &= \begin{pmatrix} \mathbf{w} \\ -1 \end{pmatrix} \\ \bar{r} &= b + \bar{\mathbf{x}} \cdot \mathbf{w} - \bar{y} \\ \frac{1}{n} \|\mathbf{r}\|^2 &= \mathbf{u}^\top \Sigma \, \mathbf{u} + \bar{r}^2 \\ \frac{1}{n} X^\top \mathbf{r} &= (\Sigma \, \mathbf{u})_{1..d} + \bar{r} \, \bar{\mathbf{x}} \end{aligned}",
        r"\mathbf{w}^\ast = \left( \Sigma_{xx} + \lambda I \right)^{-1} \boldsymbol{\sigma}_{xy}, \qquad b^\ast = \bar{y} - \bar{\mathbf{x}} \cdot \mathbf{w}^\ast",
        r"\begin{aligned} J_i &= \max(z_i, 0) - y_i z_i + \log\left(1 + e^{-|z_i|}\right) \\ \sum_{i} \log\left(1 + e^{-|z_i|}\right) &= \log \prod_{i} \left(1 + e^{-|z_i|}\right) \end{aligned}",
        r"\frac{\partial J_i}{\partial z_i} = -\frac{y_i}{p_i} p_i (1 - p_i) + \frac{1 - y_i}{1 - p_i} p_i (1 - p_i) = p_i - y_i",
        r"p_{ik} = \frac{e^{z_{ik} - z_{i1}}}{\sum_{l=1}^{K} e^{z_{il} - z_{i1}}}, \qquad \sum_{k=1}^{K} (p_{ik} - y_{ik}) = 0, \qquad K = 2: \; p_{i2} = \sigma(z_{i2} - z_{i1})",
        r"\text{mistakes} \le \frac{R^2}{\gamma^2}, \qquad R^2 = \max_i \|\mathbf{x}_i\|^2 + 1, \qquad \gamma = \min_i y_i (\mathbf{w}^\ast \cdot \mathbf{x}_i + b^\ast)",
        r"\begin{aligned} \eta_t &= \frac{1}{\lambda t} \\ \mathbf{w}_t &= (1 - \eta_t \lambda) \mathbf{w}_{t-1} - \eta_t \lambda_1 \operatorname{sign}(\mathbf{w}_{t-1}) + \frac{\eta_t}{|A_t|} \sum_{i \in A_t : m_i < 1} y_i \mathbf{x}_i \\ b_t &= b_{t-1} + \frac{\eta_t}{|A_t|} \sum_{i \in A_t : m_i < 1} y_i \end{aligned}",
        r"\boldsymbol{\delta}^{(1)} = \left( W^{(2)\top} \boldsymbol{\delta}^{(2)} \right) \odot f'\left(\mathbf{z}^{(1)}\right)",
        r"\begin{aligned} \nabla_{W^{(l)}} J &= \frac{1}{n} \sum_{i=1}^{n} \boldsymbol{\delta}^{(l)}_i \mathbf{a}^{(l-1)\top}_i + \lambda W^{(l)} + \lambda_1 \operatorname{sign}(W^{(l)}) \\ \nabla_{\mathbf{b}^{(l)}} J &= \frac{1}{n} \sum_{i=1}^{n} \boldsymbol{\delta}^{(l)}_i \end{aligned}",
        r"\begin{aligned} c_t(i) &= \operatorname*{argmin}_{k} \|\mathbf{x}_i - \boldsymbol{\mu}_{t-1,k}\|^2 \\ \|\mathbf{x}_i - \boldsymbol{\mu}_{t-1,c_t(i)}\|^2 &= \min_{k} \|\mathbf{x}_i - \boldsymbol{\mu}_{t-1,k}\|^2 \end{aligned}",
        r"\boldsymbol{\mu}_{t,k} = \frac{1}{|C_k|} \sum_{i \in C_k} \mathbf{x}_i, \qquad C_k = \{ i : c_t(i) = k \}",
        r"\max_{\mathbf{w}} \; \mathbf{w}^\top S \mathbf{w} \quad \text{subject to} \quad \|\mathbf{w}\| = 1",
        r"\nabla_{\mathbf{w}} \left[ \mathbf{w}^\top S \mathbf{w} - \lambda (\mathbf{w}^\top \mathbf{w} - 1) \right] = 2 S \mathbf{w} - 2 \lambda \mathbf{w} = 0 \;\Rightarrow\; S \mathbf{w} = \lambda \mathbf{w}",
        r"\tilde{\mathbf{x}} = \Big(I - \sum_{l < j} \mathbf{w}_l \mathbf{w}_l^\top\Big)(\mathbf{x}_i - \bar{\mathbf{x}}), \quad y = \mathbf{w}_{t-1}^\top \tilde{\mathbf{x}}, \quad \mathbf{w}_{\text{Oja}} = \mathbf{w}_{t-1} + \eta \, y \, (\tilde{\mathbf{x}} - y \, \mathbf{w}_{t-1})",
        r"J = -\frac{1}{n} \sum_{i=1}^{n} \log \sum_{k=1}^{K} \pi_k \, \mathcal{N}(\mathbf{x}_i \mid \boldsymbol{\mu}_k, \Sigma_k)",
        r"\gamma_{ik} = \frac{\pi^{(t-1)}_k \, \mathcal{N}\big(\mathbf{x}_i \mid \boldsymbol{\mu}^{(t-1)}_k, \Sigma^{(t-1)}_k\big)}{\sum_{l=1}^{K} \pi^{(t-1)}_l \, \mathcal{N}\big(\mathbf{x}_i \mid \boldsymbol{\mu}^{(t-1)}_l, \Sigma^{(t-1)}_l\big)}",
        r"\Sigma_k = \frac{1}{N_k} \sum_{i=1}^{n} \gamma_{ik} (\mathbf{x}_i - \boldsymbol{\mu}_k)(\mathbf{x}_i - \boldsymbol{\mu}_k)^\top + 10^{-6} I",
        r"\theta_t = \theta_{t-1} - \eta \, \frac{\hat{m}_t}{\sqrt{\hat{s}_t} + \epsilon}",
        r"\tfrac{1}{2}\|\hat{y} - y\|^{2}",
        r"e\textasciicircum{}(-|z|)",
        // Substituted updates, generated at run time.
        r"\theta_t = \left( 0.5, -1.25, \ldots \right) - 0.1 \cdot \left( 1, 2 \right) = \left( 0.4, -1.45 \right)",
        r"\theta_{t-1} = \left( 1, 2 \right) \;\longrightarrow\; \theta_t = \left( 3, 4 \right)",
    ];

    #[test]
    fn logistic_model() {
        assert_eq!(
            plain_text(CORPUS[0]),
            "zᵢ = w · xᵢ + b,    pᵢ = σ(zᵢ) = 1/(1 + e^(−zᵢ))"
        );
    }

    #[test]
    fn sums_take_script_limits_and_fractions_group_compound_parts() {
        assert_eq!(
            plain_text(CORPUS[1]),
            "J(w, b) = 1/(2n) ∑ᵢ₌₁ⁿ rᵢ² + λ/2 ‖w‖² + λ₁ ‖w‖₁"
        );
        assert_eq!(
            plain_text(CORPUS[6]),
            "∂Jᵢ/∂zᵢ = −yᵢ/pᵢ pᵢ (1 − pᵢ) + (1 − yᵢ)/(1 − pᵢ) pᵢ (1 − pᵢ) = pᵢ − yᵢ"
        );
        assert_eq!(
            plain_text(CORPUS[18]),
            "γᵢₖ = (π⁽ᵗ⁻¹⁾ₖ 𝒩(xᵢ | μ⁽ᵗ⁻¹⁾ₖ, Σ⁽ᵗ⁻¹⁾ₖ))/(∑ₗ₌₁ᴷ π⁽ᵗ⁻¹⁾ₗ 𝒩(xᵢ | μ⁽ᵗ⁻¹⁾ₗ, Σ⁽ᵗ⁻¹⁾ₗ))"
        );
        assert_eq!(
            plain_text(CORPUS[20]),
            "θₜ = θₜ₋₁ − η m\u{302}ₜ/(√s\u{302}ₜ + ε)"
        );
    }

    #[test]
    fn aligned_rows_line_up_at_the_ampersands() {
        assert_eq!(
            plain_text(CORPUS[2]),
            "∂J/∂wⱼ = 1/n ∑ᵢ₌₁ⁿ rᵢ ∂y\u{302}ᵢ/∂wⱼ + λ wⱼ + λ₁ sign(wⱼ)\n       = 1/n ∑ᵢ₌₁ⁿ rᵢ xᵢⱼ + λ wⱼ + λ₁ sign(wⱼ)"
        );
        assert_eq!(
            plain_text(CORPUS[3]),
            "       u = (w, −1)ᵀ\n       r\u{304} = b + x\u{304} · w − y\u{304}\n1/n ‖r‖² = uᵀ Σ u + r\u{304}²\n1/n Xᵀ r = (Σ u)_(1..d) + r\u{304} x\u{304}"
        );
        assert_eq!(
            plain_text(CORPUS[12]),
            "                cₜ(i) = argminₖ ‖xᵢ − μ_(t−1,k)‖²\n‖xᵢ − μ_(t−1,cₜ(i))‖² = minₖ ‖xᵢ − μ_(t−1,k)‖²"
        );
        assert_eq!(
            plain_text(r"J = \begin{aligned} a &= b \\ &= c \end{aligned}"),
            "J = a = b\n      = c"
        );
    }

    #[test]
    fn substituted_updates() {
        assert_eq!(
            plain_text(CORPUS[23]),
            "θₜ = (0.5, −1.25, …) − 0.1 · (1, 2) = (0.4, −1.45)"
        );
        assert_eq!(plain_text(CORPUS[24]), "θₜ₋₁ = (1, 2) → θₜ = (3, 4)");
    }

    #[test]
    fn text_spacing_and_scripts_without_unicode_forms() {
        assert_eq!(plain_text(CORPUS[14]), "max_w wᵀ S w  subject to  ‖w‖ = 1");
        assert_eq!(
            plain_text(CORPUS[4]),
            "w* = (Σₓₓ + λ I)⁻¹ σ_(xy),    b* = y\u{304} − x\u{304} · w*"
        );
        assert_eq!(
            plain_text(CORPUS[13]),
            "μ_(t,k) = 1/|Cₖ| ∑_(i ∈ Cₖ) xᵢ,    Cₖ = {i : cₜ(i) = k}"
        );
        assert_eq!(plain_text(CORPUS[21]), "1/2‖y\u{302} − y‖²");
        assert_eq!(plain_text(CORPUS[22]), "e^(−|z|)");
    }

    #[test]
    fn matrices_and_cases_print_inline() {
        assert_eq!(
            plain_text(r"A = \begin{bmatrix} a & b \\ c & d \end{bmatrix}"),
            "A = [a, b; c, d]"
        );
        assert_eq!(
            plain_text(r"|x| = \begin{cases} x & x \ge 0 \\ -x & \text{otherwise} \end{cases}"),
            "|x| = {x, x ≥ 0; −x, otherwise}"
        );
        assert_eq!(
            plain_text(r"\lim_{n \to \infty} \foo x + \sqrt[3]{a + b}"),
            "lim_(n → ∞) foo x + ³√(a + b)"
        );
    }

    #[test]
    fn corpus_leaves_no_markup() {
        for latex in CORPUS {
            let text = plain_text(latex);
            let escaped = latex.matches(r"\{").count() + latex.matches(r"\}").count();
            assert!(!text.contains(['\\', '&']), "{latex}\n{text}");
            assert_eq!(text.matches(['{', '}']).count(), escaped, "{latex}\n{text}");
            assert!(!text.is_empty() && text.lines().all(|l| l.trim_end() == l));
        }
    }

    #[test]
    fn malformed_input_does_not_panic() {
        // One input a line, the first a lone backslash.
        let inputs = r"\
{
}}{{
x^
^{^{_}}
\frac{a
\sqrt[
\begin{aligned}
\end{pmatrix}
a & b \\
\left
\hat{}
\text{
\begin{pmatrix} \\ & \end{pmatrix}
é\é
\\[
x_{\frac{}{}}}
&&\\&";
        for latex in inputs.lines().chain([""]) {
            assert!(!plain_text(latex).contains('\\'), "{latex}");
        }
        assert_eq!(plain_text(""), "");
        assert_eq!(plain_text(r"\frac{a"), "a/");
    }
}
