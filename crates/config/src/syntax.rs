//! The xl.cfg reader: pest tokens fed to an LALR driver that mirrors
//! libxlu's bison parser state for state.
//!
//! xl's error lines are bison `%error-verbose` texts ("unexpected X,
//! expecting A or B"), whose expected-token lists and recovery behaviour
//! (`error NEWLINE`, three-token error suppression, default reductions)
//! depend on the exact LALR automaton. Scripts and users grep for these
//! lines, so the automaton below reproduces it rather than approximating it
//! with pest's own error messages. Lexical rules live in `lexer.pest`.

use std::collections::HashMap;

use pest::Parser;

use crate::report::Report;
use crate::value::{Op, Setting, Value};

use lexer::{CfgLexer, Rule};

/// The pest lexer; its generated `Rule` enum stays private to this module.
mod lexer {
    #[derive(pest_derive::Parser)]
    #[grammar = "lexer.pest"]
    pub(super) struct CfgLexer;
}

/// Bison symbol numbers of xl's grammar (their order fixes the order of the
/// "expecting" lists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Sym {
    End = 0,
    Ident = 3,
    Str = 4,
    Number = 5,
    Newline = 6,
    OpAdd = 7,
    Eq = 8,
    Semi = 9,
    LBrack = 10,
    RBrack = 11,
    Comma = 12,
}

impl Sym {
    fn bison_name(self) -> &'static str {
        match self {
            Sym::End => "$end",
            Sym::Ident => "IDENT",
            Sym::Str => "STRING",
            Sym::Number => "NUMBER",
            Sym::Newline => "NEWLINE",
            Sym::OpAdd => "+=",
            Sym::Eq => "'='",
            Sym::Semi => "';'",
            Sym::LBrack => "'['",
            Sym::RBrack => "']'",
            Sym::Comma => "','",
        }
    }
}

/// One token handed to the parser, with what the scanner would have left in
/// `yytext` and `yylloc.first_line`.
#[derive(Clone, Debug)]
struct Token {
    sym: Sym,
    /// Semantic value: identifier/number text, or the dequoted string
    /// (`None` once an earlier error poisoned the parse, as in libxlu).
    value: Option<String>,
    line: u32,
}

/// A raw lexeme from pest, before libxlu's scanner actions run.
#[derive(Debug)]
enum Lexeme {
    Newline {
        text_start: usize,
        end: usize,
    },
    Simple {
        sym: Sym,
        start: usize,
        end: usize,
    },
    Str {
        start: usize,
        end: usize,
    },
    LexErr {
        start: usize,
        end: usize,
        python: bool,
        tail: Tail,
    },
}

#[derive(Debug, PartialEq)]
enum Tail {
    None,
    Newline,
    Other,
}

fn lex(src: &str) -> Vec<Lexeme> {
    let pairs = match CfgLexer::parse(Rule::tokens, src) {
        Ok(p) => p,
        // The grammar accepts every input (lexerr is a catch-all).
        Err(e) => unreachable!("xl.cfg lexer rejected input: {e}"),
    };
    let mut out = Vec::new();
    for pair in pairs.flatten() {
        let sp = pair.as_span();
        let (start, end) = (sp.start(), sp.end());
        match pair.as_rule() {
            Rule::newline | Rule::comment => out.push(Lexeme::Newline {
                text_start: start,
                end,
            }),
            Rule::op_add => out.push(Lexeme::Simple {
                sym: Sym::OpAdd,
                start,
                end,
            }),
            Rule::punct => {
                let sym = match pair.as_str() {
                    "," => Sym::Comma,
                    "[" => Sym::LBrack,
                    "]" => Sym::RBrack,
                    "=" => Sym::Eq,
                    _ => Sym::Semi,
                };
                out.push(Lexeme::Simple { sym, start, end })
            }
            Rule::ident => out.push(Lexeme::Simple {
                sym: Sym::Ident,
                start,
                end,
            }),
            Rule::number => out.push(Lexeme::Simple {
                sym: Sym::Number,
                start,
                end,
            }),
            Rule::string => out.push(Lexeme::Str { start, end }),
            Rule::lexerr => {
                let mut python = false;
                let mut tail = Tail::None;
                for inner in pair.clone().into_inner() {
                    match inner.as_rule() {
                        Rule::bad_char => {
                            python = inner
                                .clone()
                                .into_inner()
                                .any(|p| p.as_rule() == Rule::python_char)
                        }
                        Rule::wide_char => tail = Tail::Other,
                        Rule::lexerr_nl => tail = Tail::Newline,
                        Rule::lexerr_run | Rule::lexerr_blank => tail = Tail::Other,
                        _ => {}
                    }
                }
                out.push(Lexeme::LexErr {
                    start,
                    end,
                    python,
                    tail,
                })
            }
            _ => {}
        }
    }
    out
}

/// A parse error kept for the caret snippet.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// The line xl's message names (for a token ending a line, the line
    /// before it, as xl reports).
    pub line: u32,
    /// Byte range of the offending token in the source text, trailing
    /// blanks and newline excluded.
    pub span: (usize, usize),
    /// The bison-style message, e.g. `syntax error, unexpected NEWLINE, ...`.
    pub message: String,
}

/// What a parse produced: the settings, valid only if `ok`. Messages and
/// diagnostics went to the report.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The stored settings, in order.
    pub settings: Vec<Setting>,
    /// Whether the text parsed without error.
    pub ok: bool,
}

struct Ctx<'a> {
    src: &'a str,
    source_name: &'a str,
    lexemes: std::vec::IntoIter<Lexeme>,
    /// `yylineno`: lines completed so far plus one.
    lineno: u32,
    /// `yytext` of the last lexeme.
    text: (usize, usize),
    /// `yylloc.first_line` of the last token.
    loc_line: u32,
    err: bool,
    lexerr_line: i64,
    likely_python: bool,
    /// The last lexeme was an error with nothing after it (flex yymore).
    pending_lexerr: bool,
    settings: Vec<Setting>,
    /// Index in `settings` of the last setting of each name.
    latest: HashMap<String, usize>,
    report: &'a mut Report,
}

impl Ctx<'_> {
    /// libxlu's `xlu__cfg_yyerror`: print unless an earlier lexical error
    /// already covered this line.
    fn yyerror(&mut self, line: u32, msg: &str) {
        if i64::from(line) <= self.lexerr_line {
            return;
        }
        let (s, e) = self.text;
        let mut text = &self.src[s..e];
        let mut line = line;
        let mut newline = "";
        if text.ends_with('\n') {
            text = &text[..text.len() - 1];
            line = line.saturating_sub(1);
            if text.is_empty() {
                newline = "<newline>";
            }
        }
        let text = text.trim_end_matches([' ', '\t']);
        // At end of input flex leaves a one-byte NUL in yytext: xl prints
        // empty quotes there.
        let quoted = if s == e && s == self.src.len() {
            "`'".to_string()
        } else if text.is_empty() {
            String::new()
        } else {
            format!("`{text}'")
        };
        self.report.line(format!(
            "{}:{}: config parsing error near {quoted}{newline}: {msg}",
            self.source_name, line
        ));
        self.report.diagnostics.push(Diagnostic {
            line,
            span: (s, s + text.len()),
            message: msg.to_string(),
        });
        self.err = true;
    }

    fn lexical_error(&mut self, msg: &str) {
        let line = self.lineno;
        self.yyerror(line, msg);
        self.lexerr_line = i64::from(line);
    }

    /// One call of the scanner: run lexeme actions until one returns a token.
    fn next_token(&mut self) -> Token {
        loop {
            let next = self.lexemes.next();
            let pending = std::mem::replace(
                &mut self.pending_lexerr,
                matches!(
                    next,
                    Some(Lexeme::LexErr {
                        tail: Tail::None,
                        ..
                    })
                ),
            );
            self.pending_lexerr = self.pending_lexerr || (next.is_none() && pending);
            let Some(lx) = next else {
                // EOF: yytext becomes empty, yylloc keeps the last token's
                // line; a pending lexical-error text (yymore) survives.
                if !self.pending_lexerr {
                    self.text = (self.src.len(), self.src.len());
                }
                return Token {
                    sym: Sym::End,
                    value: None,
                    line: self.loc_line,
                };
            };
            match lx {
                Lexeme::Newline { text_start, end } => {
                    self.lineno += 1;
                    self.text = (text_start, end);
                    self.loc_line = self.lineno - 1;
                    return Token {
                        sym: Sym::Newline,
                        value: None,
                        line: self.loc_line,
                    };
                }
                Lexeme::Simple { sym, start, end } => {
                    self.text = (start, end);
                    self.loc_line = self.lineno;
                    let value = match sym {
                        Sym::Ident | Sym::Number if !self.err => {
                            Some(self.src[start..end].to_string())
                        }
                        _ => None,
                    };
                    return Token {
                        sym,
                        value,
                        line: self.lineno,
                    };
                }
                Lexeme::Str { start, end } => {
                    self.text = (start, end);
                    self.loc_line = self.lineno;
                    let value = if self.err {
                        None
                    } else {
                        self.dequote(start, end)
                    };
                    return Token {
                        sym: Sym::Str,
                        value,
                        line: self.lineno,
                    };
                }
                Lexeme::LexErr {
                    start,
                    end,
                    python,
                    tail,
                } => {
                    if python {
                        self.likely_python = true;
                    }
                    self.text = (start, end);
                    match tail {
                        Tail::None => {}
                        Tail::Other => self.lexical_error("lexical error"),
                        Tail::Newline => {
                            self.lineno += 1;
                            self.lexical_error("lexical error");
                            self.loc_line = self.lineno;
                            return Token {
                                sym: Sym::Newline,
                                value: None,
                                line: self.lineno,
                            };
                        }
                    }
                }
            }
        }
    }

    /// libxlu's string unquoting, bugs included: `\x` escapes always fail and
    /// octal escapes are consumed without producing a byte.
    fn dequote(&mut self, start: usize, end: usize) -> Option<String> {
        let inner = &self.src.as_bytes()[start + 1..end - 1];
        let mut out = Vec::with_capacity(inner.len());
        let mut i = 0;
        while i < inner.len() {
            let c = inner[i];
            i += 1;
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let nc = inner[i];
            i += 1;
            match nc {
                b'"' | b'\'' | b'\\' => out.push(nc),
                b'a' => out.push(7),
                b'b' => out.push(8),
                b'f' => out.push(12),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'v' => out.push(11),
                b'x' | b'0'..=b'7' => {
                    // xl skips one more byte after `x`, then needs more digits
                    // than it allows itself to read: hex escapes never parse.
                    let (from, minlen, maxlen, base) = if nc == b'x' {
                        (i + 1, 2, 2, 16)
                    } else {
                        (i, 1, 3, 10)
                    };
                    // strncpy stops at the closing quote's position in the
                    // original buffer, which includes the quote itself.
                    let whole = &self.src.as_bytes()[start + 1..end];
                    let avail = &whole[from.min(whole.len())..];
                    let numbuf = &avail[..avail.len().min(maxlen)];
                    let used = crate::value::strtoul_len(numbuf, base);
                    if used <= minlen {
                        let kind = if nc == b'x' { "hex" } else { "octal" };
                        self.lexical_error(&format!(
                            "invalid digit after backslash {kind}numerical character escape in quoted string"
                        ));
                        self.err = true;
                        return None;
                    }
                    i = from + used;
                }
                _ => {
                    self.lexical_error("invalid character after backlash in quoted string");
                    self.err = true;
                    return None;
                }
            }
        }
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    fn set_store(&mut self, name: Option<String>, op: Op, value: Option<Value>, line: u32) {
        if self.err {
            return;
        }
        let (Some(name), Some(mut value)) = (name, value) else {
            return;
        };
        if op == Op::Add
            && let Some(&at) = self.latest.get(&name)
        {
            // The earlier setting is shadowed from now on, so its value is
            // taken and extended rather than copied: a long run of `+=`
            // stays linear in time and memory.
            let prev = &mut self.settings[at].value;
            match (prev, &mut value) {
                (Value::Str(p), Value::Str(v)) => {
                    let mut joined = std::mem::take(p);
                    joined.push_str(v);
                    *v = joined;
                }
                (Value::List(p), Value::List(v)) => {
                    let mut joined = std::mem::take(p);
                    joined.append(v);
                    *v = joined;
                }
                _ => {
                    self.lexical_error("can't add [list] to \"string\" or vice versa");
                    self.err = true;
                    return;
                }
            }
        }
        self.latest.insert(name.clone(), self.settings.len());
        self.settings.push(Setting {
            name,
            value,
            op,
            line,
        });
    }
}

/// Semantic value on the parser stack.
#[derive(Clone, Debug)]
enum Sem {
    None,
    Text(Option<String>),
    Val(Option<Value>),
}

#[derive(Clone, Copy)]
enum Act {
    Shift(u8),
    Reduce(u8),
    Accept,
    Error,
}

/// Default action of states that need no lookahead (bison's "consistent"
/// states, whose yypact entry is the default).
fn consistent(state: u8) -> Option<Act> {
    Some(match state {
        0 => Act::Reduce(3),
        3 => Act::Accept,
        6 => Act::Reduce(10),
        7 => Act::Reduce(11),
        8 => Act::Reduce(4),
        10 => Act::Reduce(6),
        11 => Act::Reduce(7),
        14 => Act::Reduce(5),
        15 => Act::Reduce(14),
        16 => Act::Reduce(15),
        17 | 23 | 28 | 30 => Act::Reduce(21),
        18 => Act::Reduce(9),
        19 => Act::Reduce(12),
        20 => Act::Reduce(8),
        22 => Act::Reduce(22),
        27 => Act::Reduce(13),
        _ => return None,
    })
}

/// Explicit token actions, in symbol order (this order is the order of
/// bison's "expecting" list).
fn explicit(state: u8) -> &'static [(Sym, Act)] {
    use Act::*;
    use Sym::*;
    match state {
        1 => &[(End, Shift(3))],
        2 => &[
            (End, Reduce(1)),
            (Ident, Shift(5)),
            (Newline, Shift(6)),
            (Semi, Shift(7)),
        ],
        4 => &[(Newline, Shift(11))],
        5 => &[(OpAdd, Shift(12)), (Eq, Shift(13))],
        9 => &[(Newline, Shift(6)), (Semi, Shift(7))],
        12 | 13 => &[(Str, Shift(15)), (Number, Shift(16)), (LBrack, Shift(17))],
        21 | 29 => &[
            (Str, Shift(15)),
            (Number, Shift(16)),
            (Newline, Shift(22)),
            (LBrack, Shift(17)),
        ],
        24 => &[(RBrack, Shift(27))],
        25 => &[(Comma, Shift(28))],
        26 | 31 => &[(Newline, Shift(22))],
        _ => &[],
    }
}

fn default_action(state: u8) -> Act {
    match state {
        9 => Act::Reduce(2),
        21 => Act::Reduce(16),
        25 => Act::Reduce(17),
        26 => Act::Reduce(19),
        29 => Act::Reduce(18),
        31 => Act::Reduce(20),
        _ => Act::Error,
    }
}

/// States that can shift bison's `error` token.
fn shifts_error(state: u8) -> Option<u8> {
    (state == 2).then_some(4)
}

#[derive(Clone, Copy)]
enum Nt {
    File,
    Stmts,
    Stmt,
    Assignment,
    Endstmt,
    Value,
    Atom,
    Valuelist,
    Values,
    Nlok,
}

/// (left-hand side, right-hand side length) of each rule.
fn rule(r: u8) -> (Nt, usize) {
    match r {
        1 => (Nt::File, 1),
        2 => (Nt::File, 2),
        3 => (Nt::Stmts, 0),
        4 => (Nt::Stmts, 2),
        5 => (Nt::Stmt, 2),
        6 => (Nt::Stmt, 1),
        7 => (Nt::Stmt, 2),
        8 | 9 => (Nt::Assignment, 3),
        10 | 11 => (Nt::Endstmt, 1),
        12 => (Nt::Value, 1),
        13 => (Nt::Value, 4),
        14 | 15 => (Nt::Atom, 1),
        16 => (Nt::Valuelist, 0),
        17 => (Nt::Valuelist, 1),
        18 => (Nt::Valuelist, 3),
        19 => (Nt::Values, 2),
        20 => (Nt::Values, 5),
        21 => (Nt::Nlok, 0),
        22 => (Nt::Nlok, 2),
        _ => unreachable!("no rule {r}"),
    }
}

fn goto(state: u8, nt: Nt) -> u8 {
    match (nt, state) {
        (Nt::File, 0) => 1,
        (Nt::Stmts, 0) => 2,
        (Nt::Stmt, 2) => 8,
        (Nt::Assignment, 2) => 9,
        (Nt::Endstmt, 2) => 10,
        (Nt::Endstmt, 9) => 14,
        (Nt::Value, 12) => 18,
        (Nt::Value, 13) => 20,
        (Nt::Value, 21) => 23,
        (Nt::Value, 29) => 30,
        (Nt::Atom, 12 | 13 | 21 | 29) => 19,
        (Nt::Nlok, 17) => 21,
        (Nt::Nlok, 23) => 26,
        (Nt::Nlok, 28) => 29,
        (Nt::Nlok, 30) => 31,
        (Nt::Valuelist, 21) => 24,
        (Nt::Values, 21) => 25,
        _ => unreachable!("no goto from state {state}"),
    }
}

/// Every line blank (spaces and tabs) or a `#` comment, the last one
/// ended (libxlu refuses a comment at the very end of the text): text
/// that holds no setting and no syntax error.
fn is_only_comments(src: &str) -> bool {
    (src.is_empty() || src.ends_with('\n'))
        && src.split('\n').all(|line| {
            let line = line.trim_start_matches([' ', '\t']);
            line.is_empty() || line.starts_with('#')
        })
}

/// Bison's YYMAXDEPTH (libxlu keeps the default): its parser gives up
/// with "memory exhausted" once the stack would hold this many states.
const MAX_DEPTH: usize = 10_000;

struct Entry {
    state: u8,
    sem: Sem,
    line: u32,
}

/// Parse xl.cfg text the way `xlu_cfg_readdata` does. Messages go to
/// `report` as xl prints them (including the Python hint).
pub fn parse(src: &str, source_name: &str, report: &mut Report) -> Parsed {
    // Packaged xl.conf files are all comments, and xl reads xl.conf on
    // every run: such text needs no lexer or automaton.
    if is_only_comments(src) {
        return Parsed {
            settings: Vec::new(),
            ok: true,
        };
    }
    parse_text(src, source_name, report)
}

fn parse_text(src: &str, source_name: &str, report: &mut Report) -> Parsed {
    let mut ctx = Ctx {
        src,
        source_name,
        lexemes: lex(src).into_iter(),
        lineno: 1,
        text: (0, 0),
        loc_line: 1,
        err: false,
        lexerr_line: -1,
        likely_python: false,
        pending_lexerr: false,
        settings: Vec::new(),
        latest: HashMap::new(),
        report,
    };
    let mut stack: Vec<Entry> = vec![Entry {
        state: 0,
        sem: Sem::None,
        line: 1,
    }];
    let mut la: Option<Token> = None;
    let mut errstatus = 0u8;

    let aborted = 'parse: loop {
        // Bison's stack check after every push: only nested lists grow
        // the stack, so this bounds how deep values nest.
        if stack.len() >= MAX_DEPTH {
            ctx.yyerror(ctx.loc_line, "memory exhausted");
            break 'parse true;
        }
        let state = stack.last().map_or(0, |e| e.state);
        let act = match consistent(state) {
            Some(a) => a,
            None => {
                let tok = la.get_or_insert_with(|| ctx.next_token());
                explicit(state)
                    .iter()
                    .find(|(s, _)| *s == tok.sym)
                    .map_or_else(|| default_action(state), |(_, a)| *a)
            }
        };
        match act {
            Act::Accept => break false,
            Act::Shift(to) => {
                let tok = la.take().expect("shift needs a lookahead");
                errstatus = errstatus.saturating_sub(1);
                stack.push(Entry {
                    state: to,
                    sem: Sem::Text(tok.value),
                    line: tok.line,
                });
            }
            Act::Reduce(r) => {
                let (lhs, len) = rule(r);
                let at = stack.len() - len;
                let rhs: Vec<Entry> = stack.drain(at..).collect();
                let line = rhs
                    .first()
                    .map_or_else(|| stack.last().map_or(1, |e| e.line), |e| e.line);
                let sem = reduce(&mut ctx, r, rhs);
                let from = stack.last().map_or(0, |e| e.state);
                stack.push(Entry {
                    state: goto(from, lhs),
                    sem,
                    line,
                });
            }
            Act::Error => {
                let tok = la.clone().expect("errors are found on a lookahead");
                if errstatus == 0 {
                    let msg = syntax_error_message(state, tok.sym);
                    ctx.yyerror(tok.line, &msg);
                }
                if errstatus == 3 {
                    if tok.sym == Sym::End {
                        break 'parse true;
                    }
                    la = None;
                }
                errstatus = 3;
                loop {
                    let top = stack.last().map_or(0, |e| e.state);
                    if let Some(to) = shifts_error(top) {
                        stack.push(Entry {
                            state: to,
                            sem: Sem::None,
                            line: tok.line,
                        });
                        break;
                    }
                    stack.pop();
                    if stack.is_empty() {
                        break 'parse true;
                    }
                }
            }
        }
    };
    debug_assert!(
        !aborted || ctx.err,
        "an aborted parse always reported an error"
    );

    if ctx.err && ctx.likely_python {
        ctx.report
            .line("warning: Config file looks like it contains Python code.");
        ctx.report
            .line("warning:  Arbitrary Python is no longer supported.");
        ctx.report
            .line("warning:  See https://wiki.xen.org/wiki/PythonInXlConfig");
    }
    Parsed {
        ok: !ctx.err,
        settings: ctx.settings,
    }
}

fn syntax_error_message(state: u8, unexpected: Sym) -> String {
    let expected: Vec<&str> = explicit(state)
        .iter()
        .map(|(s, _)| s.bison_name())
        .collect();
    // Bison gives up listing alternatives past four.
    if expected.is_empty() || expected.len() > 4 {
        format!("syntax error, unexpected {}", unexpected.bison_name())
    } else {
        format!(
            "syntax error, unexpected {}, expecting {}",
            unexpected.bison_name(),
            expected.join(" or ")
        )
    }
}

fn reduce(ctx: &mut Ctx<'_>, r: u8, rhs: Vec<Entry>) -> Sem {
    let mut it = rhs.into_iter();
    match r {
        8 | 9 => {
            let name = match it.next().map(|e| e.sem) {
                Some(Sem::Text(t)) => t,
                _ => None,
            };
            it.next();
            let v = it.next().expect("assignment has a value");
            let value = match v.sem {
                Sem::Val(v) => v,
                _ => None,
            };
            let op = if r == 8 { Op::Assign } else { Op::Add };
            ctx.set_store(name, op, value, v.line);
            Sem::None
        }
        12 => match it.next().map(|e| e.sem) {
            Some(Sem::Text(Some(t))) if !ctx.err => Sem::Val(Some(Value::Str(t))),
            _ => Sem::Val(None),
        },
        13 => {
            it.next();
            it.next();
            it.next().map_or(Sem::Val(None), |e| e.sem)
        }
        14 | 15 => it.next().map_or(Sem::None, |e| e.sem),
        16 => Sem::Val((!ctx.err).then(|| Value::List(Vec::new()))),
        17 | 18 => it.next().map_or(Sem::Val(None), |e| e.sem),
        19 => match it.next().map(|e| e.sem) {
            Some(Sem::Val(Some(v))) if !ctx.err => Sem::Val(Some(Value::List(vec![v]))),
            _ => Sem::Val(None),
        },
        20 => {
            let list = it.next().map(|e| e.sem);
            it.next();
            it.next();
            let item = it.next().map(|e| e.sem);
            match (list, item) {
                (Some(Sem::Val(Some(mut list @ Value::List(_)))), Some(Sem::Val(Some(v))))
                    if !ctx.err =>
                {
                    if let Value::List(l) = &mut list {
                        l.push(v);
                    }
                    Sem::Val(Some(list))
                }
                (Some(Sem::Val(l)), _) => Sem::Val(l),
                _ => Sem::Val(None),
            }
        }
        _ => Sem::None,
    }
}

#[cfg(test)]
mod comment_only_tests {
    use super::*;

    /// The shortcut must agree with the full parse wherever it applies.
    #[test]
    fn comment_only_text_parses_as_the_full_parser_does() {
        let texts = [
            "",
            "\n",
            "# only\n",
            "## Global XL config file ##\n\n#autoballoon=\"auto\"\n",
            "  \t# indented\n\t\n#last line ended\n",
            "#a\n#b = [\n",
        ];
        for text in texts {
            assert!(is_only_comments(text), "{text:?}");
            let (mut fast, mut full) = (Report::new(), Report::new());
            let a = parse(text, "x.cfg", &mut fast);
            let b = parse_text(text, "x.cfg", &mut full);
            assert_eq!(
                (a.ok, a.settings.len()),
                (b.ok, b.settings.len()),
                "{text:?}"
            );
            assert_eq!(fast.as_str(), full.as_str(), "{text:?}");
        }
        for text in [
            "a=1\n",
            "# c\nx",
            "\r#c\n",
            "; # c\n",
            "#c\n \u{a0}\n",
            "#no newline at end",
            "#c\n\t",
        ] {
            assert!(!is_only_comments(text), "{text:?}");
        }
    }
}
