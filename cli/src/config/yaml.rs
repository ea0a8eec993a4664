//! Strict YAML parsing that points at the file, line and column of a problem.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// A configuration file read into memory, so errors found after parsing can still
/// point at a line and column.
pub struct Source {
    pub path: std::path::PathBuf,
    /// The path as messages show it: relative to the project root.
    pub display: std::path::PathBuf,
    pub text: String,
}

impl Source {
    /// Reads `path`; messages name it relative to `root`.
    pub fn read(path: &Path, root: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        let display = path.strip_prefix(root).unwrap_or(path).to_path_buf();
        Ok(Source {
            path: path.to_path_buf(),
            display,
            text,
        })
    }

    /// Parses the whole file as `T`, mapping serde's message to one with a location
    /// and a hint of what was expected.
    pub fn parse<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        let blank = self
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        if blank {
            return Err(Error::ConfigAt {
                file: self.display.clone(),
                line: 1,
                column: 1,
                message: format!("the file is empty; expected {what}"),
                help: None,
            });
        }
        serde_yaml::from_str(&self.text).map_err(|err| {
            let (line, column) = err
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            Error::ConfigAt {
                file: self.display.clone(),
                line,
                column,
                message: clean_message(&err.to_string(), line, column),
                help: None,
            }
        })
    }

    /// An error at the place `path` (a chain of mapping keys) is written.
    pub fn error_at(&self, path: &[&str], message: String, help: Option<String>) -> Error {
        let (line, column) = self.locate(path);
        Error::ConfigAt {
            file: self.display.clone(),
            line,
            column,
            message,
            help,
        }
    }

    /// The line and column (1-based) of the last key of `path`, nested by indentation;
    /// a path element may also be a list item's text. Falls back to the deepest key found.
    pub fn locate(&self, path: &[&str]) -> (usize, usize) {
        let mut found = (1, 1);
        let mut min_indent: isize = -1;
        let mut start = 0;
        let lines: Vec<&str> = self.text.lines().collect();
        'outer: for key in path {
            // `parent: { key: 1 }` on the line found for the parent.
            if found.0 > 1 || min_indent >= 0 {
                if let Some(pos) = lines.get(found.0 - 1).and_then(|l| find_flow_key(l, key)) {
                    found = (found.0, pos + 1);
                    continue 'outer;
                }
            }
            for (i, line) in lines.iter().enumerate().skip(start) {
                let trimmed = line.trim_start();
                let indent = (line.len() - trimmed.len()) as isize;
                if trimmed.starts_with('#') || trimmed.is_empty() {
                    continue;
                }
                if i > start && indent <= min_indent && min_indent >= 0 {
                    // Left the enclosing block without finding the key.
                    break 'outer;
                }
                let item = trimmed.strip_prefix("- ").unwrap_or(trimmed);
                let item_col = indent as usize + (trimmed.len() - item.len());
                let matches_key = item
                    .strip_prefix(*key)
                    .is_some_and(|rest| rest.trim_start().starts_with(':'));
                let matches_item =
                    item.trim_matches(|c| c == '"' || c == '\'') == *key && item != trimmed;
                if matches_key || matches_item {
                    found = (i + 1, item_col + 1);
                    min_indent = indent;
                    start = i + 1;
                    continue 'outer;
                }
            }
            break;
        }
        found
    }
}

impl Source {
    /// The line and column (1-based) of the `nth` (from 0) `field: value` in the list
    /// under the key `list` (block or flow style): where one entry of a list is written.
    /// Falls back to the list's key.
    pub fn locate_entry(
        &self,
        list: &[&str],
        field: &str,
        value: &str,
        nth: usize,
    ) -> (usize, usize) {
        let start = self.locate(list);
        let lines: Vec<&str> = self.text.lines().collect();
        let Some(first) = lines.get(start.0 - 1) else {
            return start;
        };
        let base = indent_of(first);
        let mut seen = 0;
        for (i, line) in lines.iter().enumerate().skip(start.0 - 1) {
            let trimmed = line.trim_start();
            let blank = trimmed.is_empty() || trimmed.starts_with('#');
            if i > start.0 - 1 && !blank && indent_of(line) <= base && !trimmed.starts_with('-') {
                break;
            }
            for column in find_field_values(line, field, value) {
                if seen == nth {
                    return (i + 1, column + 1);
                }
                seen += 1;
            }
        }
        start
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The byte offsets of each `field:` in `line` whose value is `value` (plain or quoted).
fn find_field_values(line: &str, field: &str, value: &str) -> Vec<usize> {
    let pattern = format!("{field}:");
    line.match_indices(&pattern)
        .filter_map(|(pos, _)| {
            let before = line[..pos].chars().last();
            if !matches!(before, None | Some(' ') | Some('{') | Some(',') | Some('-')) {
                return None;
            }
            let rest = line[pos + pattern.len()..].trim_start();
            let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
            let after = rest.strip_prefix(value)?;
            after
                .chars()
                .next()
                .is_none_or(|c| matches!(c, ' ' | ',' | '}' | '"' | '\'' | '#'))
                .then_some(pos)
        })
        .collect()
}

fn find_flow_key(line: &str, key: &str) -> Option<usize> {
    let open = line.find('{')?;
    let pattern = format!("{key}:");
    line[open..].find(&pattern).map(|p| p + open).filter(|p| {
        let before = line[..*p].chars().last();
        matches!(before, Some('{') | Some(' ') | Some(','))
    })
}

/// serde_yaml appends " at line X column Y" to its messages; when that is the location
/// already in front of ours, drop it (a scanner error that names a second place keeps it).
fn clean_message(message: &str, line: usize, column: usize) -> String {
    let suffix = format!(" at line {line} column {column}");
    message.strip_suffix(&suffix).unwrap_or(message).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source {
            path: "c.yaml".into(),
            display: "c.yaml".into(),
            text: text.into(),
        }
    }

    #[test]
    fn an_entry_is_found_by_its_field_in_block_and_flow_lists() {
        let block = source(
            "tables: []\nbuckets:\n  - name: a\n  - name: \"b\"\n    expire_days: 3\nflags: {}\n",
        );
        assert_eq!(block.locate_entry(&["buckets"], "name", "a", 0), (3, 5));
        assert_eq!(block.locate_entry(&["buckets"], "name", "b", 0), (4, 5));
        assert_eq!(
            block.locate_entry(&["buckets"], "expire_days", "3", 0),
            (5, 5)
        );
        // Not in the list: the list's key.
        assert_eq!(block.locate_entry(&["buckets"], "name", "c", 0), (2, 1));
        let flow = source("buckets: [{ name: ab }, { name: a }, { name: a }]\n");
        assert_eq!(flow.locate_entry(&["buckets"], "name", "a", 0), (1, 27));
        assert_eq!(flow.locate_entry(&["buckets"], "name", "a", 1), (1, 40));
        let unindented = source("buckets:\n- name: x\nname: x\n");
        assert_eq!(
            unindented.locate_entry(&["buckets"], "name", "x", 0),
            (2, 3)
        );
        assert_eq!(
            unindented.locate_entry(&["buckets"], "name", "x", 1),
            (1, 1)
        );
    }
}
