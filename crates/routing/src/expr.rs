//! Eligibility conditions over agent and contact attributes, in the spirit
//! of target expressions:
//!
//! ```text
//! skills HAS 'billing' AND language == task.language
//! NOT (team IN ['night', 'weekend']) OR task.vip == 'yes'
//! ```
//!
//! A bare name (or `worker.name`) is an agent attribute, `task.name` a
//! contact attribute; strings are quoted; numbers compare as numbers; a
//! list attribute is comma-separated text. Operators: `==`, `!=`, `<`,
//! `<=`, `>`, `>=`, `HAS` (list contains), `IN` (is one of), joined by
//! `AND`, `OR`, `NOT` and parentheses. A condition is parsed once, when the
//! queue is configured; an error names the position.

use std::collections::BTreeMap;
use std::fmt;

/// A parse error with the byte position it was found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.position + 1, self.message)
    }
}

impl std::error::Error for ExprError {}

/// The longest condition accepted, and the deepest nesting.
pub const MAX_EXPR_BYTES: usize = 2_000;
pub const MAX_EXPR_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Agent(String),
    Task(String),
    Text(String),
    Number(f64),
    List(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Has,
    In,
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(Operand, Op, Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    And,
    Or,
    Not,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ExprError> {
    let err = |position, message: &str| ExprError {
        position,
        message: message.into(),
    };
    if src.len() > MAX_EXPR_BYTES {
        return Err(err(MAX_EXPR_BYTES, "the condition is too long"));
    }
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => (out.push((start, Tok::LParen)), i += 1).1,
            b')' => (out.push((start, Tok::RParen)), i += 1).1,
            b'[' => (out.push((start, Tok::LBracket)), i += 1).1,
            b']' => (out.push((start, Tok::RBracket)), i += 1).1,
            b',' => (out.push((start, Tok::Comma)), i += 1).1,
            b'=' | b'!' | b'<' | b'>' => {
                let two = bytes.get(i + 1) == Some(&b'=');
                let op = match (c, two) {
                    (b'=', true) => Op::Eq,
                    (b'!', true) => Op::Ne,
                    (b'<', true) => Op::Le,
                    (b'>', true) => Op::Ge,
                    (b'<', false) => Op::Lt,
                    (b'>', false) => Op::Gt,
                    _ => return Err(err(start, "expected `==` or `!=`")),
                };
                out.push((start, Tok::Op(op)));
                i += if two { 2 } else { 1 };
            }
            b'\'' | b'"' => {
                let end = src[i + 1..]
                    .find(c as char)
                    .ok_or_else(|| err(start, "a string is not closed"))?;
                out.push((start, Tok::Str(src[i + 1..i + 1 + end].to_owned())));
                i += end + 2;
            }
            b'0'..=b'9' | b'-' => {
                let len = src[i..]
                    .find(|ch: char| !(ch.is_ascii_digit() || ch == '.' || ch == '-'))
                    .unwrap_or(src.len() - i);
                let n: f64 = src[i..i + len]
                    .parse()
                    .map_err(|_| err(start, "not a number"))?;
                out.push((start, Tok::Num(n)));
                i += len;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let len = src[i..]
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '.'))
                    .unwrap_or(src.len() - i);
                let word = &src[i..i + len];
                out.push((
                    start,
                    match word.to_ascii_uppercase().as_str() {
                        "AND" => Tok::And,
                        "OR" => Tok::Or,
                        "NOT" => Tok::Not,
                        "HAS" | "CONTAINS" => Tok::Op(Op::Has),
                        "IN" => Tok::Op(Op::In),
                        _ => Tok::Ident(word.to_owned()),
                    },
                ));
                i += len;
            }
            _ => return Err(err(start, "unexpected character")),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
}

impl Parser {
    fn pos(&self) -> usize {
        self.toks.get(self.at).map(|t| t.0).unwrap_or(self.end)
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.1)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|t| t.1.clone());
        self.at += 1;
        t
    }
    fn fail<T>(&self, message: &str) -> Result<T, ExprError> {
        Err(ExprError {
            position: self.pos(),
            message: message.into(),
        })
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ExprError> {
        if depth > MAX_EXPR_DEPTH {
            return self.fail("the condition is nested too deeply");
        }
        let mut parts = vec![self.and(depth)?];
        while self.peek() == Some(&Tok::Or) {
            self.next();
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let mut parts = vec![self.not(depth)?];
        while self.peek() == Some(&Tok::And) {
            self.next();
            parts.push(self.not(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn not(&mut self, depth: usize) -> Result<Expr, ExprError> {
        if self.peek() == Some(&Tok::Not) {
            self.next();
            return Ok(Expr::Not(Box::new(self.not(depth + 1)?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.next();
            let e = self.or(depth + 1)?;
            if self.next() != Some(Tok::RParen) {
                self.at = self.at.saturating_sub(1);
                return self.fail("expected `)`");
            }
            return Ok(e);
        }
        let left = self.operand()?;
        let op = match self.next() {
            Some(Tok::Op(op)) => op,
            _ => {
                self.at = self.at.saturating_sub(1);
                return self.fail("expected an operator (==, !=, <, <=, >, >=, HAS, IN)");
            }
        };
        let right = self.operand()?;
        Ok(Expr::Cmp(left, op, right))
    }

    fn operand(&mut self) -> Result<Operand, ExprError> {
        match self.next() {
            Some(Tok::Ident(name)) => {
                if let Some(attr) = name.strip_prefix("task.") {
                    Ok(Operand::Task(attr.to_owned()))
                } else if let Some(attr) = name.strip_prefix("worker.") {
                    Ok(Operand::Agent(attr.to_owned()))
                } else if name.contains('.') {
                    self.at -= 1;
                    self.fail("only `task.` and `worker.` prefixes are known")
                } else {
                    Ok(Operand::Agent(name))
                }
            }
            Some(Tok::Str(s)) => Ok(Operand::Text(s)),
            Some(Tok::Num(n)) => Ok(Operand::Number(n)),
            Some(Tok::LBracket) => {
                let mut items = Vec::new();
                loop {
                    match self.next() {
                        Some(Tok::Str(s)) => items.push(s),
                        Some(Tok::Num(n)) => items.push(n.to_string()),
                        Some(Tok::RBracket) if items.is_empty() => break,
                        _ => {
                            self.at = self.at.saturating_sub(1);
                            return self.fail("expected a string or number in the list");
                        }
                    }
                    match self.next() {
                        Some(Tok::Comma) => {}
                        Some(Tok::RBracket) => break,
                        _ => {
                            self.at = self.at.saturating_sub(1);
                            return self.fail("expected `,` or `]`");
                        }
                    }
                }
                Ok(Operand::List(items))
            }
            _ => {
                self.at = self.at.saturating_sub(1);
                self.fail("expected an attribute, a string, a number or a list")
            }
        }
    }
}

impl Expr {
    /// Parses and compiles a condition.
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        let toks = lex(src)?;
        let mut p = Parser {
            toks,
            at: 0,
            end: src.len(),
        };
        if p.toks.is_empty() {
            return p.fail("the condition is empty");
        }
        let e = p.or(0)?;
        if p.at < p.toks.len() {
            return p.fail("unexpected text after the condition");
        }
        Ok(e)
    }

    /// Whether an agent with `agent` attributes may take a contact with
    /// `task` attributes. A missing attribute makes its comparison false.
    pub fn eval(&self, agent: &BTreeMap<String, String>, task: &BTreeMap<String, String>) -> bool {
        match self {
            Expr::Or(v) => v.iter().any(|e| e.eval(agent, task)),
            Expr::And(v) => v.iter().all(|e| e.eval(agent, task)),
            Expr::Not(e) => !e.eval(agent, task),
            Expr::Cmp(l, op, r) => compare(resolve(l, agent, task), *op, resolve(r, agent, task)),
        }
    }
}

enum Value<'a> {
    Text(&'a str),
    Number(f64),
    List(&'a [String]),
    Missing,
}

fn resolve<'a>(
    o: &'a Operand,
    agent: &'a BTreeMap<String, String>,
    task: &'a BTreeMap<String, String>,
) -> Value<'a> {
    match o {
        Operand::Agent(k) => agent.get(k).map_or(Value::Missing, |v| Value::Text(v)),
        Operand::Task(k) => task.get(k).map_or(Value::Missing, |v| Value::Text(v)),
        Operand::Text(s) => Value::Text(s),
        Operand::Number(n) => Value::Number(*n),
        Operand::List(l) => Value::List(l),
    }
}

fn as_number(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Text(t) => t.trim().parse().ok(),
        _ => None,
    }
}

fn as_text(v: &Value<'_>) -> Option<String> {
    match v {
        Value::Text(t) => Some((*t).to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn items(v: &Value<'_>) -> Vec<String> {
    match v {
        Value::List(l) => l.to_vec(),
        Value::Text(t) => t
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        Value::Number(n) => vec![n.to_string()],
        Value::Missing => Vec::new(),
    }
}

fn compare(l: Value<'_>, op: Op, r: Value<'_>) -> bool {
    if matches!(l, Value::Missing) || matches!(r, Value::Missing) {
        return false;
    }
    match op {
        Op::Has => as_text(&r).is_some_and(|needle| items(&l).contains(&needle)),
        Op::In => as_text(&l).is_some_and(|needle| items(&r).contains(&needle)),
        Op::Eq | Op::Ne => {
            let equal = match (as_number(&l), as_number(&r)) {
                (Some(a), Some(b)) => a == b,
                _ => as_text(&l) == as_text(&r),
            };
            equal == (op == Op::Eq)
        }
        Op::Lt | Op::Le | Op::Gt | Op::Ge => match (as_number(&l), as_number(&r)) {
            (Some(a), Some(b)) => match op {
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Gt => a > b,
                _ => a >= b,
            },
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn check(src: &str, agent: &[(&str, &str)], task: &[(&str, &str)], expect: bool) {
        let e = Expr::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(e.eval(&attrs(agent), &attrs(task)), expect, "{src}");
    }

    #[test]
    fn conditions_evaluate_over_agent_and_task_attributes() {
        let agent = [
            ("skills", "billing, sales"),
            ("language", "fr"),
            ("level", "3"),
            ("team", "night"),
        ];
        check("skills HAS 'billing'", &agent, &[], true);
        check("skills HAS 'tech'", &agent, &[], false);
        check(
            "skills HAS 'billing' AND language == task.language",
            &agent,
            &[("language", "fr")],
            true,
        );
        check(
            "skills HAS 'billing' AND language == task.language",
            &agent,
            &[("language", "en")],
            false,
        );
        check("level >= 3 AND level < 4", &agent, &[], true);
        check("level == 3.0", &agent, &[], true);
        check("team IN ['night', 'weekend']", &agent, &[], true);
        check("NOT (team IN ['day'])", &agent, &[], true);
        check(
            "task.vip == 'yes' OR level > 5",
            &agent,
            &[("vip", "yes")],
            true,
        );
        check("task.vip == 'yes' OR level > 5", &agent, &[], false);
        check("worker.missing == 'x'", &agent, &[], false);
        check("worker.missing != 'x'", &agent, &[], false);
        check("a == 'x' or a == \"y\"", &[("a", "y")], &[], true);
    }

    #[test]
    fn bad_conditions_name_the_position() {
        for (src, pos) in [
            ("", 0),
            ("skills HAS", 10),
            ("skills HAS 'billing", 11),
            ("(a == 'b'", 9),
            ("a = 'b'", 2),
            ("a == 'b' c", 9),
            ("customer.x == 1", 0),
            ("a IN ['x' 'y']", 10),
            ("a == 'b' AND", 12),
            ("a @ 'b'", 2),
        ] {
            let e = Expr::parse(src).expect_err(src);
            assert_eq!(e.position, pos, "{src}: {e}");
        }
        let deep = format!("{}a == 'b'{}", "(".repeat(40), ")".repeat(40));
        assert!(Expr::parse(&deep).is_err());
        assert!(Expr::parse(&"a == 'b' OR ".repeat(300)).is_err());
    }
}
