//! The console adapter: a whole incident in a terminal, no chat workspace needed.
//!
//! Lines starting with `/inc` are commands by the current user in the current channel.
//! Directives: `:user NAME`, `:channel NAME`, `:advance 15m` (with a virtual clock), `:help`,
//! `:quit`. Lines starting with `#` are comments, so scripts can explain themselves. Everything
//! the bot posts is printed as `[#channel] text`; edits say `(edited)`, replies only the user
//! sees say `(only @name)`.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use klaxon_commands::{
    ApiError, ChannelRef, ChatApi, Input, Invocation, Message, MessageRef, NewChannel, Once,
    PlatformKind, Posted, Reply, ReplyKind, Rich, Tenant, Upload, UserRef,
};
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _};

/// The console's one tenant.
pub fn tenant() -> Tenant {
    Tenant::new(PlatformKind::Console, "local")
}

/// What the console needs from the bot.
#[async_trait]
pub trait ConsoleHost: Send + Sync {
    async fn handle(&self, invocation: Invocation) -> Reply;
    /// Makes every platform call that is due now, so output follows the input that caused it.
    async fn settle(&self);
    /// Moves the virtual clock and runs whatever fell due; `Err` with the reason when the
    /// clock is real.
    async fn advance(&self, by: Duration) -> Result<String, String>;
}

/// Where the console starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub user: String,
    pub channel: String,
    /// Print a banner and a prompt (for a person at a terminal, not a pipe).
    pub interactive: bool,
}

struct State {
    out: Box<dyn Write + Send>,
    user: String,
    channel: String,
    channels: BTreeSet<String>,
    messages: HashMap<String, String>,
    next_message: u64,
}

/// The console's side of the platform: prints what the bot does. Cheap to clone.
#[derive(Clone)]
pub struct Console {
    state: Arc<Mutex<State>>,
}

impl Console {
    pub fn new(options: &Options, out: Box<dyn Write + Send>) -> Self {
        let mut channels = BTreeSet::new();
        channels.insert(options.channel.clone());
        Self {
            state: Arc::new(Mutex::new(State {
                out,
                user: options.user.clone(),
                channel: options.channel.clone(),
                channels,
                messages: HashMap::new(),
                next_message: 0,
            })),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Makes a channel exist (the paging channel, say) without announcing it.
    pub fn add_channel(&self, name: &str) {
        self.with(|s| s.channels.insert(name.to_owned()));
    }

    fn print(&self, channel: &str, marker: &str, text: &str) {
        self.with(|s| print_to(&mut s.out, channel, marker, text));
    }

    fn say(&self, text: &str) {
        self.with(|s| {
            let _ = writeln!(s.out, "{text}");
            let _ = s.out.flush();
        });
    }

    /// Prints one line of the console's own (not a channel's), such as where its pages are.
    pub fn note(&self, text: &str) {
        self.say(text);
    }

    /// Reads lines until end of input or `:quit`.
    pub async fn run<R: AsyncBufRead + Unpin>(
        &self,
        host: &dyn ConsoleHost,
        input: R,
        interactive: bool,
    ) -> std::io::Result<()> {
        if interactive {
            let (user, channel) = self.with(|s| (s.user.clone(), s.channel.clone()));
            self.say(&format!(
                "Klaxon console. You are @{user} in #{channel}. Try `/inc declare sev2 Checkout errors`; `:help` for more."
            ));
        }
        let mut input = input;
        let mut bytes = Vec::new();
        loop {
            if interactive {
                self.with(|s| {
                    let _ = write!(s.out, "> ");
                    let _ = s.out.flush();
                });
            }
            bytes.clear();
            if input.read_until(b'\n', &mut bytes).await? == 0 {
                break;
            }
            // One undecodable line is answered and skipped; the session (and the final
            // settle after it) goes on.
            let Ok(line) = std::str::from_utf8(&bytes) else {
                self.say("(that line is not valid UTF-8 text, so it was ignored: retype it)");
                continue;
            };
            if !self.line(host, line.trim()).await {
                break;
            }
        }
        Ok(())
    }

    /// Handles one input line; `false` ends the session.
    async fn line(&self, host: &dyn ConsoleHost, line: &str) -> bool {
        if line.is_empty() || line.starts_with('#') {
            return true;
        }
        if line == "/inc" || line.starts_with("/inc ") {
            let (user, channel) = self.with(|s| (s.user.clone(), s.channel.clone()));
            let reply = host
                .handle(Invocation {
                    tenant: tenant(),
                    channel: ChannelRef::new(&channel, &channel),
                    user: UserRef::named(&user, &user),
                    input: Input::Text(line.trim_start_matches("/inc").to_owned()),
                    incident: None,
                    delivery_id: None,
                })
                .await;
            let marker = match reply.kind {
                ReplyKind::Ok => format!("(only @{user})"),
                ReplyKind::UserError | ReplyKind::InternalError => format!("(only @{user}) ⚠️"),
            };
            self.print(&channel, &marker, &render(&reply.message));
            host.settle().await;
            return true;
        }
        let (directive, arg) = line.split_once(' ').unwrap_or((line, ""));
        let arg = arg.trim();
        match directive {
            ":quit" | ":q" | ":exit" => return false,
            ":user" => match valid_name(arg.trim_start_matches('@')) {
                Some(name) => {
                    self.with(|s| s.user = name.clone());
                    self.say(&format!("(you are now @{name})"));
                }
                None => self.say("(usage: :user NAME — letters, digits, . _ -)"),
            },
            ":channel" => match valid_name(arg.trim_start_matches('#')) {
                Some(name) => {
                    self.with(|s| {
                        s.channels.insert(name.clone());
                        s.channel = name.clone();
                    });
                    self.say(&format!("(you are now in #{name})"));
                }
                None => self.say("(usage: :channel NAME)"),
            },
            ":advance" => match klaxon_commands::Duration::parse(arg) {
                Ok(by) => {
                    match host.advance(by.as_std()).await {
                        Ok(now) => self.say(&format!("(time is now {now})")),
                        Err(why) => self.say(&format!("({why})")),
                    }
                    host.settle().await;
                }
                Err(e) => self.say(&format!("({})", e.text())),
            },
            ":help" => self.say(
                "Lines starting with /inc are commands (try /inc help). Directives: :user NAME, :channel NAME, :advance 15m (with --virtual-time), :quit. Lines starting with # are comments.",
            ),
            _ => self.say("(not a command: start with /inc, or :help for console directives)"),
        }
        true
    }
}

fn valid_name(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    ok.then(|| name.to_owned())
}

/// `[#channel] marker first line` (a direct message: `[@person]`), further lines indented
/// under it.
fn print_to(out: &mut Box<dyn Write + Send>, channel: &str, marker: &str, text: &str) {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let to = if channel.starts_with('@') {
        channel.to_owned()
    } else {
        format!("#{channel}")
    };
    let head = if marker.is_empty() {
        format!("[{to}] {first}")
    } else {
        format!("[{to}] {marker} {first}")
    };
    let _ = writeln!(out, "{head}");
    for line in lines {
        let _ = writeln!(out, "    {line}");
    }
    let _ = out.flush();
}

/// A message as the console shows it: its lines, then its fields on one line.
fn render(message: &Message) -> String {
    let mut lines: Vec<String> = message.lines.iter().map(Rich::to_plain).collect();
    if !message.fields.is_empty() {
        let fields: Vec<String> = message
            .fields
            .iter()
            .map(|f| format!("{}: {}", f.label, f.value.to_plain()))
            .collect();
        lines.push(fields.join(" · "));
    }
    lines.join("\n")
}

fn id(channel: &ChannelRef) -> String {
    channel.id.clone().unwrap_or_else(|| channel.name.clone())
}

#[async_trait]
impl ChatApi for Console {
    async fn create_channel(&self, channel: &NewChannel) -> Result<ChannelRef, ApiError> {
        let name = channel.name.clone();
        if !self.with(|s| s.channels.insert(name.clone())) {
            return Err(ApiError::NameTaken);
        }
        let invited: Vec<String> = channel
            .invite
            .iter()
            .map(|u| format!("@{}", u.label()))
            .collect();
        let kind = if channel.private {
            "private channel"
        } else {
            "channel"
        };
        self.print(
            &name,
            "",
            &format!(
                "{kind} created · topic: {} · members: {}",
                channel.topic.to_plain(),
                invited.join(", ")
            ),
        );
        let me = self.with(|s| s.user.clone());
        if channel.invite.iter().any(|u| u.id == me) {
            self.with(|s| s.channel = name.clone());
            self.say(&format!("(you are now in #{name})"));
        }
        Ok(ChannelRef::new(&name, &name))
    }

    async fn invite(&self, channel: &ChannelRef, users: &[UserRef]) -> Result<(), ApiError> {
        let names: Vec<String> = users.iter().map(|u| format!("@{}", u.label())).collect();
        self.print(
            &id(channel),
            "",
            &format!("{} added to the channel", names.join(", ")),
        );
        Ok(())
    }

    /// A person's direct messages are printed like a channel's posts, addressed `[@name]`.
    async fn open_direct(&self, user: &UserRef) -> Result<ChannelRef, ApiError> {
        let to = format!("@{}", user.label());
        Ok(ChannelRef::new(&to, &to))
    }

    async fn set_topic(&self, channel: &ChannelRef, topic: &Rich) -> Result<(), ApiError> {
        self.print(&id(channel), "", &format!("topic: {}", topic.to_plain()));
        Ok(())
    }

    async fn adopt_created(
        &self,
        _: &NewChannel,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<ChannelRef>, ApiError> {
        // The console's channels live in this process: none survives a crash.
        Ok(None)
    }

    async fn post(
        &self,
        channel: &ChannelRef,
        message: &Message,
        _: &Once,
    ) -> Result<Posted, ApiError> {
        let channel = id(channel);
        let reference = self.with(|s| {
            s.next_message += 1;
            let r = format!("m{}", s.next_message);
            s.messages.insert(r.clone(), channel.clone());
            s.channels.insert(channel.clone());
            r
        });
        self.print(&channel, "", &render(message));
        Ok(Posted {
            channel_id: channel,
            message: MessageRef(reference),
        })
    }

    async fn edit(
        &self,
        channel: &ChannelRef,
        target: &MessageRef,
        message: &Message,
    ) -> Result<(), ApiError> {
        let known = self.with(|s| s.messages.contains_key(&target.0));
        if !known {
            return Err(ApiError::Permanent(format!(
                "message_not_found: {}",
                target.0
            )));
        }
        self.print(&id(channel), "(edited)", &render(message));
        Ok(())
    }

    async fn pin(&self, channel: &ChannelRef, target: &MessageRef) -> Result<(), ApiError> {
        let known = self.with(|s| s.messages.contains_key(&target.0));
        if !known {
            return Err(ApiError::Permanent(format!(
                "message_not_found: {}",
                target.0
            )));
        }
        self.print(&id(channel), "", "📌 pinned the summary");
        Ok(())
    }

    async fn upload(&self, channel: &ChannelRef, file: &Upload) -> Result<MessageRef, ApiError> {
        let channel = id(channel);
        let reference = self.with(|s| {
            s.next_message += 1;
            let r = format!("m{}", s.next_message);
            s.messages.insert(r.clone(), channel.clone());
            r
        });
        let text = format!(
            "{}\n📎 {} ({} lines)",
            render(&file.comment),
            file.filename,
            file.content.lines().count()
        );
        self.print(&channel, "", &text);
        Ok(MessageRef(reference))
    }

    async fn archive(&self, channel: &ChannelRef) -> Result<(), ApiError> {
        self.print(&id(channel), "", "🗄️ channel archived");
        Ok(())
    }

    async fn unarchive(&self, channel: &ChannelRef) -> Result<(), ApiError> {
        self.print(&id(channel), "", "channel back from the archive");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn once() -> Once {
        Once {
            key: "klaxon-1".into(),
            retry: false,
        }
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn console() -> (Console, Buf) {
        let buf = Buf::default();
        let options = Options {
            user: "alice".into(),
            channel: "general".into(),
            interactive: false,
        };
        (Console::new(&options, Box::new(buf.clone())), buf)
    }

    fn text(buf: &Buf) -> String {
        String::from_utf8(buf.0.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn create_refuses_taken_names_and_moves_the_invited_user() {
        let (console, buf) = console();
        console.add_channel("inc-x");
        let new = |name: &str| NewChannel {
            workspace: "local".into(),
            name: name.into(),
            private: false,
            topic: Rich::plain("SEV1"),
            invite: vec![UserRef::named("alice", "alice")],
            key: "klaxon-1".into(),
        };
        assert_eq!(
            console.create_channel(&new("inc-x")).await,
            Err(ApiError::NameTaken)
        );
        let made = console.create_channel(&new("inc-x-2")).await;
        assert_eq!(made, Ok(ChannelRef::new("inc-x-2", "inc-x-2")));
        let out = text(&buf);
        assert!(
            out.contains("[#inc-x-2] channel created · topic: SEV1 · members: @alice"),
            "{out}"
        );
        assert!(out.contains("(you are now in #inc-x-2)"), "{out}");
    }

    #[tokio::test]
    async fn a_direct_message_is_printed_like_a_post_addressed_to_the_person() {
        let (console, buf) = console();
        let dm = console
            .open_direct(&UserRef::named("bob", "bob"))
            .await
            .expect("opened");
        let m = Message::new().line(Rich::plain("⏰ you are on call"));
        console.post(&dm, &m, &once()).await.expect("posted");
        assert_eq!(text(&buf), "[@bob] ⏰ you are on call\n");
    }

    #[tokio::test]
    async fn multi_line_posts_are_indented_and_edits_marked() {
        let (console, buf) = console();
        let channel = ChannelRef::new("incidents", "incidents");
        let m = Message::new()
            .line(Rich::plain("one"))
            .line(Rich::plain("two"));
        let r = console
            .post(&channel, &m, &once())
            .await
            .expect("posted")
            .message;
        console.edit(&channel, &r, &m).await.expect("edited");
        assert_eq!(
            text(&buf),
            "[#incidents] one\n    two\n[#incidents] (edited) one\n    two\n"
        );
        let unknown = console.edit(&channel, &MessageRef("m99".into()), &m).await;
        assert!(matches!(unknown, Err(ApiError::Permanent(_))));
    }

    /// A host that answers every command with its own text and counts what it was asked.
    #[derive(Default)]
    struct Host {
        handled: Mutex<Vec<String>>,
        advanced: Mutex<Vec<Duration>>,
    }

    #[async_trait]
    impl ConsoleHost for Host {
        async fn handle(&self, invocation: Invocation) -> Reply {
            let Input::Text(text) = invocation.input else {
                return Reply::ok_line(Rich::plain("?"));
            };
            self.handled
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(text.clone());
            Reply::ok_line(Rich::plain(format!("ran{text}")))
        }
        async fn settle(&self) {}
        async fn advance(&self, by: Duration) -> Result<String, String> {
            self.advanced
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(by);
            Ok("later".to_owned())
        }
    }

    #[tokio::test]
    async fn an_invalid_utf8_line_is_answered_and_the_session_goes_on() {
        let (console, buf) = console();
        let host = Host::default();
        let input: &[u8] = b"/inc one\n/inc bad \xff\xfe byte\n/inc two\n";
        console
            .run(&host, input, false)
            .await
            .expect("the session ends normally");
        let handled = host
            .handled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        assert_eq!(handled, [" one", " two"]);
        let out = text(&buf);
        assert!(
            out.contains("(that line is not valid UTF-8 text, so it was ignored: retype it)"),
            "{out}"
        );
        assert!(out.contains("ran two"), "{out}");
    }

    #[tokio::test]
    async fn an_absurd_advance_is_refused_with_a_clear_message() {
        let (console, buf) = console();
        let host = Host::default();
        let input: &[u8] = b":advance 300000y\n:advance 15m\n";
        console.run(&host, input, false).await.expect("session");
        let advanced = host
            .advanced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        assert_eq!(advanced, [Duration::from_secs(900)]);
        let out = text(&buf);
        assert!(
            out.contains("(`300000y` is too long: the longest duration is 366 days (`366d`).)"),
            "{out}"
        );
        assert!(out.contains("(time is now later)"), "{out}");
    }
}
