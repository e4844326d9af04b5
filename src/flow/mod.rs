//! Flows: the declarative menu language, its compiler and the sans-IO interpreter.
//!
//! A flow file (YAML, one per file in `ivr-flows/`) compiles into a [`Flow`] that
//! cannot be invalid; a [`Call`] runs one call through it, emitting actions and
//! being fed their results, so it runs the same under SIP, the simulator and tests.

mod calendar;
mod call;
mod catalog;
mod check;
mod compile;
mod diagnostic;
mod input;
mod model;
mod registry;
mod simulate;
mod syntax;
mod testing;
mod value;

pub use calendar::Calendar;
pub use call::{
    Action, AgentContext, Call, CallContext, HangupReason, LookupFailure, Outcome, PathStep,
    PlayId, Prompt, TicketFailure, TicketNumber,
};
pub use catalog::{AUDIO_EXTENSIONS, AudioDir, Catalog, PromptCatalog};
pub use compile::{BUILTIN_VARIABLES, compile, version_of};
pub use diagnostic::{Diagnostic, Severity};
pub use model::{Flow, FlowVersion, MAX_INFORMATION_ITEMS, MAX_MENU_ITEMS, NodeId, SECRET_DIGITS};
pub use registry::{FlowRegistry, ReloadReport};
pub use simulate::{
    Backend, Customer, Event, Fixture, FixtureCustomer, LookupCase, Rejection, SimulationInput,
    Transcript, simulate,
};
pub use testing::{
    Expectation, FileReport, FlowTest, TestFailure, TestReport, flow_files, print_report,
    run_source_tests, run_tests,
};
pub use value::{SayKind, Value, Values};
#[cfg(test)]
mod call_tests;
#[cfg(test)]
mod compile_tests;
