//! What the record writer writes, and how one batch of it becomes statements.
//!
//! A batch is planned before it touches the database: every new call row
//! first, then the call events and queue events, then the updates of calls
//! begun in earlier batches. Events only name calls begun before them, so this
//! order keeps every reference valid, and the inserts go as a few multi-row
//! statements instead of a round trip per row. What a batch learns about a
//! call it also begins (the flow it runs, how it ended) is folded into that
//! call's insert.

use super::calls::{CallEnd, ordered_id};
use super::now_ms;

/// One row's worth of the record of calls and queues, stamped when it happened.
#[derive(Debug, Clone)]
pub enum Record {
    /// A call began.
    CallStarted {
        id: String,
        sip_call_id: String,
        caller: String,
        /// Where the call came in: `sip` or `web` (`calls.channel`).
        channel: &'static str,
        customer_id: Option<String>,
        at: i64,
    },
    /// Something happened in a call.
    CallEvent {
        id: String,
        call_id: String,
        kind: String,
        detail: String,
        at: i64,
    },
    /// The caller was identified after the call began.
    CallCustomer {
        call_id: String,
        customer_id: String,
    },
    /// The flow version the call runs.
    CallFlow { call_id: String, version: String },
    /// How the call ended.
    CallFinished {
        call_id: String,
        end: CallEnd,
        at: i64,
    },
    /// A queue event (the JSON of the queue's event stream).
    QueueEvent {
        id: String,
        kind: String,
        data: String,
        at: i64,
    },
}

impl Record {
    /// A call event happening now; its id sorts after the call's earlier events.
    pub fn call_event(call_id: &str, kind: &str, detail: String) -> Record {
        Record::CallEvent {
            id: ordered_id(),
            call_id: call_id.to_owned(),
            kind: kind.to_owned(),
            detail,
            at: now_ms(),
        }
    }

    /// A queue event happening now.
    pub fn queue_event(event: &serde_json::Value) -> Record {
        Record::QueueEvent {
            id: ordered_id(),
            kind: event["event"].as_str().unwrap_or("unknown").to_owned(),
            data: event.to_string(),
            at: now_ms(),
        }
    }
}

/// A call row to insert, with what the same batch knows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallInsert {
    pub id: String,
    pub sip_call_id: String,
    pub caller: String,
    pub channel: &'static str,
    pub customer_id: Option<String>,
    pub flow_version: Option<String>,
    pub outcome: Option<String>,
    pub flow_outcome: Option<String>,
    pub path: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

/// A call event or queue event row to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct EventInsert {
    pub id: String,
    /// The call for a call event; `None` for a queue event.
    pub call_id: Option<String>,
    pub kind: String,
    pub detail: String,
    pub at: i64,
}

/// What a batch sets on a call begun in an earlier batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallUpdate {
    pub call_id: String,
    pub customer_id: Option<String>,
    pub flow_version: Option<String>,
    pub end: Option<(CallEnd, i64)>,
}

/// The statements of one batch, in the order they run.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub calls: Vec<CallInsert>,
    pub call_events: Vec<EventInsert>,
    pub queue_events: Vec<EventInsert>,
    pub updates: Vec<CallUpdate>,
}

impl Plan {
    /// Plans `records`, taken in the order they were sent.
    pub fn new(records: &[Record]) -> Plan {
        let mut plan = Plan::default();
        for record in records {
            plan.add(record.clone());
        }
        plan
    }

    fn add(&mut self, record: Record) {
        match record {
            Record::CallStarted {
                id,
                sip_call_id,
                caller,
                channel,
                customer_id,
                at,
            } => self.calls.push(CallInsert {
                id,
                sip_call_id,
                caller,
                channel,
                customer_id,
                flow_version: None,
                outcome: None,
                flow_outcome: None,
                path: None,
                started_at: at,
                ended_at: None,
            }),
            Record::CallEvent {
                id,
                call_id,
                kind,
                detail,
                at,
            } => self.call_events.push(EventInsert {
                id,
                call_id: Some(call_id),
                kind,
                detail,
                at,
            }),
            Record::QueueEvent { id, kind, data, at } => self.queue_events.push(EventInsert {
                id,
                call_id: None,
                kind,
                detail: data,
                at,
            }),
            Record::CallCustomer {
                call_id,
                customer_id,
            } => match self.new_call(&call_id) {
                Some(call) => call.customer_id = Some(customer_id),
                None => self.update(call_id).customer_id = Some(customer_id),
            },
            Record::CallFlow { call_id, version } => match self.new_call(&call_id) {
                Some(call) => call.flow_version = Some(version),
                None => self.update(call_id).flow_version = Some(version),
            },
            Record::CallFinished { call_id, end, at } => match self.new_call(&call_id) {
                Some(call) => {
                    call.outcome = Some(end.outcome);
                    call.flow_outcome = end.flow_outcome;
                    call.path = end.path;
                    call.ended_at = Some(at);
                }
                None => self.update(call_id).end = Some((end, at)),
            },
        }
    }

    /// The insert of `call_id` if this batch begins it.
    fn new_call(&mut self, call_id: &str) -> Option<&mut CallInsert> {
        self.calls.iter_mut().rev().find(|call| call.id == call_id)
    }

    /// The update of `call_id`, one per call and batch.
    fn update(&mut self, call_id: String) -> &mut CallUpdate {
        match self.updates.iter().position(|u| u.call_id == call_id) {
            Some(index) => &mut self.updates[index],
            None => {
                self.updates.push(CallUpdate {
                    call_id,
                    ..CallUpdate::default()
                });
                self.updates.last_mut().expect("just pushed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(id: &str) -> Record {
        Record::CallStarted {
            id: id.into(),
            sip_call_id: format!("sip-{id}"),
            caller: "+380441234567".into(),
            channel: "sip",
            customer_id: None,
            at: 1,
        }
    }

    fn finished(id: &str, at: i64) -> Record {
        Record::CallFinished {
            call_id: id.into(),
            end: CallEnd {
                outcome: "ended: RemoteBye".into(),
                flow_outcome: Some("contained_by_ivr".into()),
                path: Some("welcome".into()),
            },
            at,
        }
    }

    #[test]
    fn a_call_begun_and_ended_in_one_batch_is_one_insert() {
        let plan = Plan::new(&[
            started("a"),
            Record::CallFlow {
                call_id: "a".into(),
                version: "hotline.yaml@1".into(),
            },
            Record::call_event("a", "digit", "1".into()),
            finished("a", 9),
        ]);
        assert_eq!(plan.calls.len(), 1);
        assert!(plan.updates.is_empty());
        let call = &plan.calls[0];
        assert_eq!(call.flow_version.as_deref(), Some("hotline.yaml@1"));
        assert_eq!(call.outcome.as_deref(), Some("ended: RemoteBye"));
        assert_eq!(call.ended_at, Some(9));
        assert_eq!(plan.call_events.len(), 1);
    }

    #[test]
    fn what_is_learnt_of_an_earlier_call_is_one_update_per_call() {
        let plan = Plan::new(&[
            Record::CallFlow {
                call_id: "old".into(),
                version: "v".into(),
            },
            started("new"),
            Record::CallCustomer {
                call_id: "old".into(),
                customer_id: "c1".into(),
            },
            finished("old", 5),
        ]);
        assert_eq!(plan.calls.len(), 1);
        assert_eq!(
            plan.updates,
            vec![CallUpdate {
                call_id: "old".into(),
                customer_id: Some("c1".into()),
                flow_version: Some("v".into()),
                end: Some((
                    CallEnd {
                        outcome: "ended: RemoteBye".into(),
                        flow_outcome: Some("contained_by_ivr".into()),
                        path: Some("welcome".into()),
                    },
                    5
                )),
            }]
        );
    }

    #[test]
    fn events_keep_the_order_they_were_sent_in() {
        let records: Vec<Record> = (0..5)
            .map(|n| Record::call_event("a", "digit", n.to_string()))
            .collect();
        let plan = Plan::new(&records);
        let details: Vec<&str> = plan.call_events.iter().map(|e| &*e.detail).collect();
        assert_eq!(details, ["0", "1", "2", "3", "4"]);
        let mut ids: Vec<&String> = plan.call_events.iter().map(|e| &e.id).collect();
        let sent = ids.clone();
        ids.sort();
        assert_eq!(ids, sent, "ids sort in the order sent");
    }
}
