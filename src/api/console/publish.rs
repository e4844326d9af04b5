//! Publishing a flow from the console by writing it into the flows directory.
//!
//! The directory stays the one truth the watcher reads: a console publish
//! writes the file (atomically, under a name the watcher ignores until the
//! rename), then reloads the live flows the way the watcher does. The file
//! and the live version therefore always agree, and the watcher's next pass
//! finds the file unchanged instead of undoing the publish. Calls in progress
//! keep the `Arc<Flow>` they started with; new calls get the new version.

use std::io;
use std::path::{Path, PathBuf};

use crate::call::flows::LiveFlows;
use crate::flow::{Diagnostic, FlowVersion};

/// Why a flow was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The server's own compile refused it (e.g. a prompt the audio directory
    /// has but the loaded prompts do not); the file was put back.
    #[error("the server did not publish the flow")]
    Rejected(Vec<Diagnostic>),
    #[error("the flows directory cannot be written: {0}")]
    Io(#[from] io::Error),
}

/// One console publish at a time, so two admins cannot interleave files.
static PUBLISHING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Writes `source` to `target` in the flows directory and makes it live as
/// flow `id`, version `version`; blocking (file writes and a compile).
pub fn publish(
    flows: &LiveFlows,
    target: &Path,
    id: &str,
    version: &FlowVersion,
    source: &str,
) -> Result<(), PublishError> {
    let _one = PUBLISHING.lock().unwrap_or_else(|p| p.into_inner());
    let previous = std::fs::read_to_string(target).ok();
    write_atomically(target, source)?;
    let report = flows.reload()?;
    if flows.get(id).is_some_and(|f| f.version() == version) {
        return Ok(());
    }
    // Not taken: the directory goes back to what is live.
    match previous {
        Some(old) => write_atomically(target, &old)?,
        None => std::fs::remove_file(target)?,
    }
    flows.reload()?;
    let problems = report
        .rejected
        .into_iter()
        .filter(|(file, _)| file == target)
        .flat_map(|(_, errors)| errors)
        .collect();
    Err(PublishError::Rejected(problems))
}

/// Writes a file so that a reader sees the old content or the new, never half.
fn write_atomically(target: &Path, content: &str) -> io::Result<()> {
    let temporary = temporary_name(target);
    std::fs::write(&temporary, content)?;
    std::fs::File::open(&temporary)?.sync_all()?;
    std::fs::rename(&temporary, target)
}

/// `.<name>.publishing` beside the target: not a `*.yaml`, so the watcher skips it.
fn temporary_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.publishing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_being_written_is_not_a_flow_file_until_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("hotline.yaml");
        let temporary = temporary_name(&target);
        std::fs::write(&temporary, "id: x").unwrap();
        assert!(crate::flow::flow_files(dir.path()).unwrap().is_empty());
        write_atomically(&target, "id: y").unwrap();
        assert_eq!(
            crate::flow::flow_files(dir.path()).unwrap(),
            std::slice::from_ref(&target)
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "id: y");
        assert!(!temporary.exists());
    }
}
