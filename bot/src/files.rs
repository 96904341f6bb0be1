//! Files people write beside the code (runbooks, on-call schedules): a folder's `*.toml` files
//! in name order, and problems in them at a file, line and column.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem in a file, at a line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Problem {
    /// A problem with the whole file (or folder), reported at its first line.
    pub fn at_top(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Turns byte offsets in one file's text into 1-based line and column.
pub(crate) struct Lines<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Lines<'_> {
    pub(crate) fn at(&self, span: Range<usize>, message: impl Into<String>) -> Problem {
        let before = self.text.get(..span.start).unwrap_or(self.text);
        Problem {
            file: self.file.to_path_buf(),
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            message: message.into(),
        }
    }
}

/// The `*.toml` files of `dir` in name order, each with its text or the problem reading it. A
/// missing folder has none; a folder that cannot be read is one problem.
pub fn toml_files(dir: &Path) -> Vec<(PathBuf, Result<String, Problem>)> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            let problem = Problem::at_top(dir, format!("cannot read the folder: {e}"));
            return vec![(dir.to_path_buf(), Err(problem))];
        }
    };
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Problem::at_top(&file, format!("cannot read: {e}")));
            (file, text)
        })
        .collect()
}
