//! Klaxon's command grammar and the platform-neutral values every other crate speaks.
//!
//! This crate does no IO and never panics on input: text (or Discord's typed options) becomes a
//! [`Command`] or a [`UserError`] whose text is exactly what the user reads.

pub mod command;
pub mod error;
pub mod event;
pub mod invocation;
pub mod naming;
pub mod options;
pub mod port;
pub mod reply;
pub mod values;

pub use command::{
    Arg, ArgKind, Command, CoverEnd, Followup, ONCALL_WORDS, Oncall, Remind, RunbookCmd,
    ScheduleRef, Scope, Spec, help_text, parse, specs,
};
pub use error::UserError;
pub use event::{Captured, ChannelEvent, EventKind};
pub use invocation::{ChannelRef, Input, Invocation, MessageRef, PlatformKind, Tenant, UserRef};
pub use options::{OptionValue, from_options};
pub use port::{
    ApiError, Bucket, CallKind, ChatApi, Handler, NewChannel, Once, Pace, Posted, Unfinished,
    Upload,
};
pub use reply::{Button, ButtonAction, Field, Message, Reply, ReplyKind, Rich, Span};
pub use values::{Duration, Role, Severity, Status, Text, Title};
