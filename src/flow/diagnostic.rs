//! Problems found in a flow file, each with file, line and column.

use std::fmt;
use std::path::PathBuf;

use serde_saphyr::Location;

/// How bad a problem is: errors stop a flow from being published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The flow is not published.
    Error,
    /// The flow works but an admin should look.
    Warning,
}

/// One problem in a flow file, in a plain sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based line; 0 when the problem has no single place.
    pub line: u64,
    /// 1-based column; 0 when the problem has no single place.
    pub column: u64,
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at a YAML location.
    pub fn at(severity: Severity, file: PathBuf, at: Location, message: String) -> Self {
        Diagnostic {
            severity,
            file,
            line: at.line(),
            column: at.column(),
            message,
        }
    }

    /// Whether this diagnostic stops publication.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {severity}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}
