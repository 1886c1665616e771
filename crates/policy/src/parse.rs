//! The parser of oslo.policy's check language.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Always,
    Never,
    Rule(String),
    Role(String),
    Generic { kind: String, value: String },
    Not(Box<Check>),
    And(Vec<Check>),
    Or(Vec<Check>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    Atom(String),
}

fn tokenize(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    for word in s.split_whitespace() {
        let mut w = word;
        while let Some(r) = w.strip_prefix('(') {
            out.push(Tok::Open);
            w = r;
        }
        let mut closes = 0;
        while let Some(r) = w.strip_suffix(')') {
            // `%(x)s` ends in `)s`, not `)`, so a trailing `)` is a parenthesis
            closes += 1;
            w = r;
        }
        if !w.is_empty() {
            out.push(match w {
                "and" => Tok::And,
                "or" => Tok::Or,
                "not" => Tok::Not,
                _ => Tok::Atom(w.to_string()),
            });
        }
        out.extend(std::iter::repeat_n(Tok::Close, closes));
    }
    out
}

/// Parses a rule; the empty rule always passes, as in oslo.
pub fn parse(s: &str) -> Result<Check, ParseError> {
    let toks = tokenize(s);
    if toks.is_empty() {
        return Ok(Check::Always);
    }
    let mut p = Parser { toks, pos: 0 };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err(ParseError(format!("unexpected '{:?}' in '{s}'", p.toks[p.pos])));
    }
    Ok(c)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Result<Check, ParseError> {
        let mut v = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 { v.pop().unwrap() } else { Check::Or(v) })
    }

    fn and(&mut self) -> Result<Check, ParseError> {
        let mut v = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            v.push(self.not()?);
        }
        Ok(if v.len() == 1 { v.pop().unwrap() } else { Check::And(v) })
    }

    fn not(&mut self) -> Result<Check, ParseError> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            return Ok(Check::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Check, ParseError> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Open) => {
                self.pos += 1;
                let c = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(ParseError("missing ')'".into()));
                }
                self.pos += 1;
                Ok(c)
            }
            Some(Tok::Atom(a)) => {
                self.pos += 1;
                atom(&a)
            }
            Some(t) => Err(ParseError(format!("unexpected {t:?}"))),
            None => Err(ParseError("rule ends too early".into())),
        }
    }
}

fn atom(a: &str) -> Result<Check, ParseError> {
    match a {
        "@" => return Ok(Check::Always),
        "!" => return Ok(Check::Never),
        _ => {}
    }
    let (kind, value) = a.split_once(':').ok_or_else(|| ParseError(format!("'{a}' is not KIND:VALUE, @ or !")))?;
    Ok(match kind {
        "rule" => Check::Rule(value.to_string()),
        "role" => Check::Role(value.to_string()),
        _ => Check::Generic { kind: kind.to_string(), value: value.to_string() },
    })
}
