//! The call's record in the database, handed to the record writer
//! (`crm::writer`) in order. The call never waits for the database to go on,
//! and no record is dropped when the database is slow: the writer keeps it
//! until it is written.

use std::time::Duration;

use crate::crm::batch::Record;
use crate::crm::calls::CallEnd;
use crate::crm::now_ms;
use crate::crm::writer::RecordWriter;

/// How long a call waits for a caller lookup before going on without it.
pub(super) const DB_WAIT: Duration = Duration::from_secs(2);

/// The writer of one call's record.
#[derive(Clone)]
pub(crate) struct CallLog {
    writer: RecordWriter,
    id: String,
}

impl CallLog {
    /// Records a new call `id` of `caller` on `channel`, identified as `customer` if known.
    pub(super) fn start(
        writer: &RecordWriter,
        id: &str,
        sip_call_id: &str,
        caller: &str,
        channel: super::Channel,
        customer: Option<String>,
    ) -> CallLog {
        writer.send(Record::CallStarted {
            id: id.to_owned(),
            sip_call_id: sip_call_id.to_owned(),
            caller: caller.to_owned(),
            channel: channel.as_str(),
            customer_id: customer,
            at: now_ms(),
        });
        CallLog {
            writer: writer.clone(),
            id: id.to_owned(),
        }
    }

    /// Records an event, in order with the call's other events.
    pub(crate) fn event(&self, kind: &'static str, detail: String) {
        self.writer.send(Record::call_event(&self.id, kind, detail));
    }

    /// Records the flow version the call runs.
    pub(crate) fn flow(&self, version: String) {
        self.writer.send(Record::CallFlow {
            call_id: self.id.clone(),
            version,
        });
    }

    /// Records how the call ended, and waits a bounded time for it to be
    /// committed, so that a finished call is listed as finished. A record
    /// not committed in that time is still written, later.
    pub(super) async fn finish(&self, end: CallEnd) {
        self.writer.send(Record::CallFinished {
            call_id: self.id.clone(),
            end,
            at: now_ms(),
        });
        self.writer.flush(DB_WAIT).await;
    }
}
