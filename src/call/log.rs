//! The call's record in the database, written in order by one writer task per
//! call. A database that is slow or down is logged and never holds up or drops
//! the call.

use std::time::Duration;

use tokio::sync::mpsc;
use tracing::warn;

use crate::crm::Db;
use crate::crm::calls::CallEnd;

/// How long a call waits for the database before going on without it.
pub(super) const DB_WAIT: Duration = Duration::from_secs(2);

/// The writer of one call's record; a call not recorded writes nothing.
#[derive(Clone)]
pub(crate) struct CallLog {
    writer: Option<mpsc::UnboundedSender<LogEntry>>,
}

enum LogEntry {
    Event {
        kind: &'static str,
        detail: String,
    },
    Flow {
        version: String,
    },
    Customer {
        id: String,
    },
    Finish {
        end: CallEnd,
        done: tokio::sync::oneshot::Sender<()>,
    },
}

impl CallLog {
    /// Records a new call `id` of `caller`.
    pub(super) async fn start(db: &Db, id: &str, sip_call_id: &str, caller: &str) -> CallLog {
        let started = db.start_call(id, sip_call_id, caller, None);
        match tokio::time::timeout(DB_WAIT, started).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                warn!(%error, "call not recorded");
                return CallLog { writer: None };
            }
            Err(_) => {
                warn!("call not recorded: database too slow");
                return CallLog { writer: None };
            }
        }
        let (writer, entries) = mpsc::unbounded_channel();
        tokio::spawn(write_call_log(db.clone(), id.to_owned(), entries));
        CallLog {
            writer: Some(writer),
        }
    }

    /// Records an event, in order with the call's other events.
    pub(crate) fn event(&self, kind: &'static str, detail: String) {
        self.send(LogEntry::Event { kind, detail });
    }

    /// Records who the caller is, once found.
    pub(super) fn customer(&self, id: String) {
        self.send(LogEntry::Customer { id });
    }

    /// Records the flow version the call runs.
    pub(crate) fn flow(&self, version: String) {
        self.send(LogEntry::Flow { version });
    }

    /// Records how the call ended after every event, waiting a bounded time.
    pub(super) async fn finish(&self, end: CallEnd) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.send(LogEntry::Finish { end, done }) {
            let _ = tokio::time::timeout(DB_WAIT * 2, written).await;
        }
    }

    fn send(&self, entry: LogEntry) -> bool {
        self.writer
            .as_ref()
            .is_some_and(|writer| writer.send(entry).is_ok())
    }
}

async fn write_call_log(db: Db, id: String, mut entries: mpsc::UnboundedReceiver<LogEntry>) {
    while let Some(entry) = entries.recv().await {
        match entry {
            LogEntry::Event { kind, detail } => {
                if let Err(error) = db.record_call_event(&id, kind, &detail).await {
                    warn!(%error, "call event not recorded");
                }
            }
            LogEntry::Flow { version } => {
                if let Err(error) = db.set_call_flow(&id, &version).await {
                    warn!(%error, "call flow version not recorded");
                }
            }
            LogEntry::Customer { id: customer } => {
                if let Err(error) = db.set_call_customer(&id, &customer).await {
                    warn!(%error, "call customer not recorded");
                }
            }
            LogEntry::Finish { end, done } => {
                if let Err(error) = db.finish_call(&id, &end).await {
                    warn!(%error, "call outcome not recorded");
                }
                let _ = done.send(());
                return;
            }
        }
    }
}
