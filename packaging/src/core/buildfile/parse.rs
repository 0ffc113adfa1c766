//! The build file's TOML, read into the flags it stands for (sans-IO: the
//! text and the file's directory in, settings or one located error out).

use super::keys::{self, Key, Kind};
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One flag the file gives: `--flag value` (no value for a switch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The table row it came from.
    pub key: &'static Key,
    /// Where in the file, for messages: `level`, `env.RUST_LOG`, `args[1]`.
    pub name: String,
    /// Its line (1-based).
    pub line: usize,
    /// Its byte offset: settings come in the file's order.
    pub at: usize,
    pub value: Option<String>,
}

impl Setting {
    /// The command-line tokens: `["--flag", "value"]` or `["--flag"]`.
    pub fn tokens(&self) -> Vec<String> {
        let mut t = vec![format!("--{}", self.key.flag)];
        t.extend(self.value.clone());
        t
    }
}

/// What is wrong with the file, and on which line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {problem}")]
pub struct FileError {
    pub line: usize,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not UTF-8 text; write the build file as UTF-8 TOML")]
    NotUtf8,
    #[error("not TOML: {0}")]
    Syntax(String),
    #[error("unknown key {key:?}{hint}; the keys are nodistro build's flags (README, \"One config file\")")]
    Unknown { key: String, hint: String },
    #[error("key {key:?}: expected {expected}, found {found}")]
    Type {
        key: String,
        expected: String,
        found: &'static str,
    },
    #[error("key {key:?}: {why}")]
    Value { key: String, why: String },
}

/// Read `text`, a build file in directory `dir` (relative paths in it are
/// joined to `dir`), into the settings it gives, in the file's order (also
/// for dotted keys, which TOML groups by table: `init.a`, `logfwd.b`,
/// `init.c` stay in that order).
pub fn parse(text: &str, dir: &Path) -> Result<Vec<Setting>, FileError> {
    let table = DeTable::parse(text).map_err(|e| FileError {
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        problem: Problem::Syntax(e.message().split_whitespace().collect::<Vec<_>>().join(" ")),
    })?;
    let mut out = Vec::new();
    let mut p = Parser {
        text,
        dir,
        out: &mut out,
    };
    for (k, v) in table.get_ref().iter() {
        p.key(k, v)?;
    }
    out.sort_by_key(|s| s.at);
    Ok(out)
}

/// The 1-based line holding byte `offset` of `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// "a string", "an integer": the TOML type of `v`, for messages.
fn found(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// An integer in decimal (`0x10` is `16`).
fn decimal(i: &toml::de::DeInteger<'_>) -> Option<String> {
    i128::from_str_radix(i.as_str(), i.radix())
        .ok()
        .map(|n| n.to_string())
}

fn accepts(kind: Kind, v: &DeValue<'_>) -> bool {
    match kind {
        Kind::Str | Kind::Path => v.is_str(),
        Kind::Int => v.is_integer(),
        Kind::Switch | Kind::DefaultValue => v.is_bool(),
        Kind::List | Kind::FileList => v.is_array(),
        Kind::Pairs { .. } | Kind::FileTable => v.is_table(),
    }
}

struct Parser<'a> {
    text: &'a str,
    dir: &'a Path,
    out: &'a mut Vec<Setting>,
}

type Entry<'i> = Spanned<DeValue<'i>>;

impl Parser<'_> {
    fn line(&self, span: std::ops::Range<usize>) -> usize {
        line_of(self.text, span.start)
    }

    fn push(&mut self, key: &'static Key, name: String, at: usize, value: Option<String>) {
        self.out.push(Setting {
            key,
            name,
            line: line_of(self.text, at),
            at,
            value,
        });
    }

    fn type_error(&self, name: &str, expected: &str, v: &Entry<'_>) -> FileError {
        FileError {
            line: self.line(v.span()),
            problem: Problem::Type {
                key: name.to_string(),
                expected: expected.to_string(),
                found: found(v.get_ref()),
            },
        }
    }

    fn value_error(&self, name: &str, line: usize, why: impl Into<String>) -> FileError {
        FileError {
            line,
            problem: Problem::Value {
                key: name.to_string(),
                why: why.into(),
            },
        }
    }

    /// A path of the file: joined to the file's directory when relative.
    fn path(&self, name: &str, line: usize, s: &str) -> Result<String, FileError> {
        if s.is_empty() {
            return Err(self.value_error(
                name,
                line,
                "an empty path; name a file or leave the key out",
            ));
        }
        Ok(self.dir.join(s).to_string_lossy().into_owned())
    }

    fn string<'v>(&self, name: &str, v: &'v Entry<'_>) -> Result<&'v str, FileError> {
        v.get_ref()
            .as_str()
            .ok_or_else(|| self.type_error(name, "a string", v))
    }

    fn key(
        &mut self,
        k: &Spanned<std::borrow::Cow<'_, str>>,
        v: &Entry<'_>,
    ) -> Result<(), FileError> {
        let name: &str = k.get_ref();
        let rows: Vec<&'static Key> = keys::rows(name).collect();
        if rows.is_empty() {
            let hint = keys::closest(name)
                .map(|c| format!(" (did you mean {c:?}?)"))
                .unwrap_or_default();
            return Err(FileError {
                line: self.line(k.span()),
                problem: Problem::Unknown {
                    key: name.to_string(),
                    hint,
                },
            });
        }
        let Some(row) = rows.iter().copied().find(|r| accepts(r.kind, v.get_ref())) else {
            let expected: Vec<&str> = rows.iter().map(|r| r.kind.expected()).collect();
            return Err(self.type_error(name, &expected.join(" or "), v));
        };
        let at = v.span().start;
        let line = line_of(self.text, at);
        let value = v.get_ref();
        match (row.kind, value) {
            (Kind::Str, DeValue::String(s)) => self.push(row, name.into(), at, Some(s.to_string())),
            (Kind::Path, DeValue::String(s)) => {
                let p = self.path(name, line, s)?;
                self.push(row, name.into(), at, Some(p));
            }
            (Kind::Int, DeValue::Integer(i)) => {
                let n = decimal(i)
                    .ok_or_else(|| self.value_error(name, line, format!("{i} is out of range")))?;
                self.push(row, name.into(), at, Some(n));
            }
            (Kind::Switch, DeValue::Boolean(b)) => {
                if *b {
                    self.push(row, name.into(), at, None);
                }
            }
            (Kind::DefaultValue, DeValue::Boolean(b)) => {
                if *b {
                    self.push(row, name.into(), at, Some(String::new()));
                }
            }
            (Kind::List | Kind::FileList, DeValue::Array(items)) => {
                self.list(row, name, items.iter())?
            }
            (Kind::FileTable, DeValue::Table(t)) => self.file_table(row, name, t)?,
            (Kind::Pairs { dotted }, DeValue::Table(t)) => self.pairs(row, name, dotted, t)?,
            // accepts() matched the row to the value's type.
            _ => return Err(self.type_error(name, row.kind.expected(), v)),
        }
        Ok(())
    }

    /// A list key's items, each checked (a file list's as SRC:DEST).
    fn list<'v>(
        &mut self,
        row: &'static Key,
        name: &str,
        items: impl Iterator<Item = &'v Entry<'v>>,
    ) -> Result<(), FileError> {
        for (i, item) in items.enumerate() {
            let item_name = format!("{name}[{i}]");
            let s = self.string(&item_name, item)?;
            let item_at = item.span().start;
            let item_line = line_of(self.text, item_at);
            let value = if row.kind == Kind::FileList {
                self.file_pair(&item_name, item_line, s)?
            } else {
                s.to_string()
            };
            self.push(row, item_name, item_at, Some(value));
        }
        Ok(())
    }

    /// A `[files]` table: image destination = host source.
    fn file_table(
        &mut self,
        row: &'static Key,
        name: &str,
        t: &DeTable<'_>,
    ) -> Result<(), FileError> {
        for (dest, src) in t.iter() {
            let item_name = format!("{name}.{:?}", dest.get_ref());
            let src_text = self.string(&item_name, src)?;
            let item_at = dest.span().start;
            let item_line = line_of(self.text, item_at);
            if dest.get_ref().is_empty() || dest.get_ref().contains(':') {
                return Err(self.value_error(
                    &item_name,
                    item_line,
                    "the destination must be a path in the image without ':'",
                ));
            }
            let src_path = self.path(&item_name, item_line, src_text)?;
            let value = format!("{src_path}:{}", dest.get_ref());
            self.push(row, item_name, item_at, Some(value));
        }
        Ok(())
    }

    /// `"SRC:DEST"`, SRC joined to the file's directory.
    fn file_pair(&self, name: &str, line: usize, s: &str) -> Result<String, FileError> {
        match s.rsplit_once(':') {
            Some((src, dest)) if !src.is_empty() && !dest.is_empty() => {
                Ok(format!("{}:{dest}", self.path(name, line, src)?))
            }
            _ => Err(self.value_error(name, line, format!("{s:?} is not SRC:DEST"))),
        }
    }

    /// `NAME = value` entries; nested tables with `dotted`.
    fn pairs(
        &mut self,
        row: &'static Key,
        prefix: &str,
        dotted: bool,
        t: &DeTable<'_>,
    ) -> Result<(), FileError> {
        for (k, v) in t.iter() {
            let sub: &str = k.get_ref();
            let at = k.span().start;
            let line = line_of(self.text, at);
            let full = format!("{prefix}.{sub}");
            let inner = full.split_once('.').map_or("", |(_, r)| r).to_string();
            if sub.is_empty() || sub.contains('=') {
                return Err(self.value_error(
                    &full,
                    line,
                    "a name must be non-empty and hold no '='",
                ));
            }
            let text = match v.get_ref() {
                DeValue::String(s) => s.to_string(),
                DeValue::Integer(i) => decimal(i)
                    .ok_or_else(|| self.value_error(&full, line, format!("{i} is out of range")))?,
                DeValue::Boolean(b) => b.to_string(),
                DeValue::Table(nested) if dotted => {
                    self.pairs(row, &full, dotted, nested)?;
                    continue;
                }
                _ => {
                    let what = if dotted {
                        "a string, integer, boolean or table"
                    } else {
                        "a string, integer or boolean"
                    };
                    return Err(self.type_error(&full, what, v));
                }
            };
            self.push(row, full, at, Some(format!("{inner}={text}")));
        }
        Ok(())
    }
}
