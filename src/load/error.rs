//! Load errors that point at the text: file, line, column, the line itself, and what to do.

use std::cell::RefCell;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Where in the desired state something was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Shared by the origins of one file: a desired state at 10,000 tables records hundreds of
    /// thousands of origins (every column, privilege, ...), and a path of their own would be
    /// tens of MiB.
    pub file: Arc<Path>,
    pub line: u32,
    pub column: u32,
}

impl Origin {
    pub fn new(file: &Path, line: u32, column: u32) -> Self {
        Self {
            file: shared_path(file),
            line,
            column,
        }
    }
}

/// `path`, shared with the previous origin's when it is the same file (origins are made file
/// by file, so nearly always).
fn shared_path(path: &Path) -> Arc<Path> {
    thread_local! {
        static LAST: RefCell<Option<Arc<Path>>> = const { RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some(shared) if **shared == *path => Arc::clone(shared),
            _ => {
                let shared: Arc<Path> = Arc::from(path);
                *last = Some(Arc::clone(&shared));
                shared
            }
        }
    })
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// One problem in the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub origin: Origin,
    pub message: String,
    pub help: Option<String>,
    /// The source line the error points at, when known.
    pub source_line: Option<String>,
}

impl LoadError {
    pub fn new(origin: Origin, message: impl Into<String>) -> Self {
        Self {
            origin,
            message: message.into(),
            help: None,
            source_line: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        writeln!(f, "  --> {}", self.origin)?;
        if let Some(line) = &self.source_line {
            let number = self.origin.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_at = line
                .chars()
                .take(self.origin.column.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect::<String>();
            writeln!(f, "{pad} |")?;
            writeln!(f, "{number} | {line}")?;
            writeln!(f, "{pad} | {caret_at}^")?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "  = help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found, by file, line and column; the CLI prints them and exits 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

/// Printing more than this many errors no longer fits a screen; the rest are counted.
const SHOWN: usize = 5;

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        if self.0.len() > SHOWN {
            writeln!(f, "\n... and {} more errors", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// Attaches the source line to each error that has a position in `source`.
pub(crate) fn with_source_lines(errors: &mut [LoadError], file: &Path, source: &str) {
    for error in errors.iter_mut().filter(|e| *e.origin.file == *file) {
        if error.origin.line > 0 && error.source_line.is_none() {
            error.source_line = source
                .lines()
                .nth(error.origin.line as usize - 1)
                .map(str::to_owned);
        }
    }
}
