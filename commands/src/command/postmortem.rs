//! `/inc postmortem [done]`: write a postmortem draft from the record, or mark it done.
//!
//! ```text
//! postmortem          a new draft version, posted in the channel
//! postmortem done     the postmortem is written: stop its due reminders
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "postmortem",
    aliases: &["pm", "retro"],
    usage: "postmortem [done]",
    summary: "Draft the postmortem from the record (a new version each time); `done` stops its reminders.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "done",
        kind: ArgKind::Word,
        required: false,
        help: "`done` when the postmortem is written",
    }],
    example: "/inc postmortem",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let done = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("done") => true,
        Some(w) => {
            return Err(usage(
                &SPEC,
                &format!("`{}` is not `done`.", crate::values::shorten(w, 20)),
            ));
        }
    };
    words.finish(&SPEC)?;
    Ok(Command::Postmortem { done })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("postmortem", Ok(Command::Postmortem { done: false }));
        check("pm done", Ok(Command::Postmortem { done: true }));
        check(
            "postmortem now",
            Err("`now` is not `done`. Usage: `/inc postmortem [done]`."),
        );
    }
}
