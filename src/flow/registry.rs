//! The live flows of a server: compiled versions swapped in only when valid.
//!
//! Each call holds its own `Arc<Flow>`, so a reload never disturbs a call in progress;
//! new calls get the new version.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::catalog::{Catalog, PromptCatalog};
use super::compile::{compile, version_of};
use super::diagnostic::{Diagnostic, Severity};
use super::model::{Flow, FlowVersion};
use super::testing::flow_files;

/// The published flows by flow id.
#[derive(Debug, Default)]
pub struct FlowRegistry {
    flows: BTreeMap<String, Arc<Flow>>,
}

/// What a reload did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Flows published with their new version.
    pub published: Vec<(String, FlowVersion)>,
    /// Files whose content had not changed.
    pub unchanged: Vec<PathBuf>,
    /// Files not published, with their errors; the old version stays live.
    pub rejected: Vec<(PathBuf, Vec<Diagnostic>)>,
    /// Warnings of the flows published.
    pub warnings: Vec<Diagnostic>,
    /// Flows whose file is gone; new calls can no longer start them.
    pub removed: Vec<String>,
}

impl FlowRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The live version of a flow, for a new call.
    pub fn get(&self, id: &str) -> Option<Arc<Flow>> {
        self.flows.get(id).cloned()
    }

    /// Ids and versions of the live flows.
    pub fn versions(&self) -> impl Iterator<Item = (&str, &FlowVersion)> {
        self.flows.iter().map(|(id, f)| (id.as_str(), f.version()))
    }

    /// Compiles the flow files of `dir` that changed and publishes the valid ones.
    pub fn reload(
        &mut self,
        dir: &Path,
        catalog: &Catalog,
        prompts: &dyn PromptCatalog,
    ) -> io::Result<ReloadReport> {
        let mut report = ReloadReport::default();
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        let files = flow_files(dir)?;
        for file in &files {
            let source = std::fs::read_to_string(file)?;
            let version = version_of(file, &source);
            if let Some((id, _)) = self
                .flows
                .iter()
                .find(|(_, f)| *f.version() == version && f.file() == file)
            {
                seen.insert(id.clone(), file.clone());
                report.unchanged.push(file.clone());
                continue;
            }
            match compile(&source, file, catalog, prompts) {
                Ok((flow, warnings)) => {
                    if let Some(other) = seen.get(flow.id()) {
                        let message = format!(
                            "flow id '{}' is also used by {}",
                            flow.id(),
                            other.display()
                        );
                        let clash = Diagnostic {
                            severity: Severity::Error,
                            file: file.clone(),
                            line: 1,
                            column: 1,
                            message,
                        };
                        report.rejected.push((file.clone(), vec![clash]));
                        continue;
                    }
                    seen.insert(flow.id().to_owned(), file.clone());
                    report.warnings.extend(warnings);
                    report
                        .published
                        .push((flow.id().to_owned(), flow.version().clone()));
                    self.flows.insert(flow.id().to_owned(), Arc::new(flow));
                }
                Err(errors) => {
                    // Keep the live version of the flow this file held, if any.
                    if let Some((id, _)) = self.flows.iter().find(|(_, f)| f.file() == file) {
                        seen.insert(id.clone(), file.clone());
                    }
                    report.rejected.push((file.clone(), errors));
                }
            }
        }
        let gone: Vec<String> = self
            .flows
            .keys()
            .filter(|id| !seen.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            self.flows.remove(&id);
            report.removed.push(id);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::AudioDir;

    const FLOW: &str = "id: demo\ndefault_language: en\nlanguages: [en]\nstart: bye\nnodes:\n  bye:\n    hangup: { prompt: p/bye }\n";

    fn setup() -> (tempfile::TempDir, Catalog, AudioDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut audio = AudioDir::default();
        audio.insert("en", "p/bye", "Goodbye");
        audio.insert("en", "p/bye2", "Goodbye again");
        (dir, Catalog::default(), audio)
    }

    #[test]
    fn invalid_change_keeps_the_old_version_live_and_calls_keep_theirs() {
        let (dir, catalog, audio) = setup();
        let file = dir.path().join("demo.yaml");
        std::fs::write(&file, FLOW).unwrap();
        let mut registry = FlowRegistry::new();
        let report = registry.reload(dir.path(), &catalog, &audio).unwrap();
        assert_eq!(report.published.len(), 1);
        let in_call = registry.get("demo").unwrap();

        std::fs::write(&file, FLOW.replace("p/bye", "p/missing")).unwrap();
        let report = registry.reload(dir.path(), &catalog, &audio).unwrap();
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(
            report.rejected[0].1[0].message,
            "prompt 'p/missing' is missing in en, the default language"
        );
        assert_eq!(registry.get("demo").unwrap().version(), in_call.version());

        std::fs::write(&file, FLOW.replace("p/bye", "p/bye2")).unwrap();
        let report = registry.reload(dir.path(), &catalog, &audio).unwrap();
        let new = registry.get("demo").unwrap();
        assert_eq!(
            report.published,
            [("demo".to_owned(), new.version().clone())]
        );
        assert_ne!(new.version(), in_call.version());
        assert!(
            in_call.version().0.starts_with("demo.yaml@"),
            "the call's version is untouched"
        );

        let report = registry.reload(dir.path(), &catalog, &audio).unwrap();
        assert_eq!((report.published.len(), report.unchanged.len()), (0, 1));
        std::fs::remove_file(&file).unwrap();
        let report = registry.reload(dir.path(), &catalog, &audio).unwrap();
        assert_eq!(report.removed, ["demo"]);
        assert!(registry.get("demo").is_none());
    }

    #[test]
    fn two_files_with_one_flow_id_publish_only_the_first() {
        let (dir, catalog, audio) = setup();
        std::fs::write(dir.path().join("a.yaml"), FLOW).unwrap();
        std::fs::write(dir.path().join("b.yaml"), FLOW.replace("p/bye", "p/bye2")).unwrap();
        let mut registry = FlowRegistry::new();
        let report = registry.reload(dir.path(), &catalog, &audio).unwrap();
        assert_eq!(report.published.len(), 1);
        assert!(
            report.rejected[0].1[0]
                .message
                .starts_with("flow id 'demo' is also used by")
        );
        assert_eq!(
            registry.get("demo").unwrap().file(),
            dir.path().join("a.yaml")
        );
    }
}
