//! A platform that records the calls it gets, refuses taken channel names like Slack and
//! Discord do, and fails on demand.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use klaxon_commands::{
    ApiError, ChannelRef, ChatApi, Message, MessageRef, NewChannel, Once, Posted, Rich, Upload,
    UserRef,
};

/// One platform call, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Create {
        name: String,
        private: bool,
        topic: Rich,
        invite: Vec<UserRef>,
    },
    Invite {
        channel: String,
        users: Vec<String>,
    },
    Topic {
        channel: String,
        topic: Rich,
    },
    Post {
        channel: String,
        message: Message,
        id: String,
    },
    Edit {
        channel: String,
        id: String,
        message: Message,
    },
    Pin {
        channel: String,
        id: String,
    },
    Upload {
        channel: String,
        filename: String,
        content: String,
        comment: Message,
    },
    Archive {
        channel: String,
    },
    Unarchive {
        channel: String,
    },
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    channels: BTreeSet<String>,
    failures: VecDeque<ApiError>,
    /// Channel names whose creation fails, with the error.
    failing_names: std::collections::HashMap<String, ApiError>,
    /// Channel names whose next creation never answers (a hung platform call).
    hanging_names: BTreeSet<String>,
    next: u64,
    attempts: u64,
    /// The key each channel was created with, by name.
    keys: std::collections::HashMap<String, String>,
    /// Messages posted, by their call's key: a repeat gets the first (as Discord's enforced
    /// nonce does).
    posted: std::collections::HashMap<String, Posted>,
    /// Every post attempt that reached the platform: its channel and whether it came as a
    /// retry (`Once::retry`: it may have been made before, so the adapter looks first).
    post_attempts: Vec<(String, bool)>,
    /// The next posts fail with these errors, in order (other calls are not affected).
    post_failures: VecDeque<ApiError>,
}

#[derive(Default)]
pub struct Recorder {
    inner: Mutex<Inner>,
}

impl Recorder {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Every successful call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.with(|i| i.calls.clone())
    }

    /// Every post attempt that reached the platform, failed ones included: its channel and
    /// whether it came as a retry.
    pub fn post_attempts(&self) -> Vec<(String, bool)> {
        self.with(|i| i.post_attempts.clone())
    }

    /// Every call attempt, failed ones included.
    pub fn attempts(&self) -> u64 {
        self.with(|i| i.attempts)
    }

    /// A channel that exists on the platform already (e.g. an archived one).
    pub fn take_name(&self, name: &str) {
        self.with(|i| i.channels.insert(name.to_owned()));
    }

    /// The next calls fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = ApiError>) {
        self.with(|i| i.failures.extend(errors));
    }

    /// The next posts fail with these errors, in order; other calls go on as usual.
    pub fn fail_next_post(&self, errors: impl IntoIterator<Item = ApiError>) {
        self.with(|i| i.post_failures.extend(errors));
    }

    /// Creating a channel of this name fails with `error` (every time).
    pub fn fail_create_of(&self, name: &str, error: ApiError) {
        self.with(|i| i.failing_names.insert(name.to_owned(), error));
    }

    /// The next creation of a channel of this name never answers, as a hung connection would.
    pub fn hang_create_of(&self, name: &str) {
        self.with(|i| i.hanging_names.insert(name.to_owned()));
    }

    /// Posts to a channel, as plain text, in order.
    pub fn posts_in(&self, channel: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Post {
                    channel: ch,
                    message,
                    ..
                } if ch == channel => Some(message.to_plain()),
                _ => None,
            })
            .collect()
    }

    /// Edits in a channel, as plain text, in order.
    pub fn edits_in(&self, channel: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Edit {
                    channel: ch,
                    message,
                    ..
                } if ch == channel => Some(message.to_plain()),
                _ => None,
            })
            .collect()
    }

    /// Channel creations, by final name.
    pub fn created(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Create { name, .. } => Some(name),
                _ => None,
            })
            .collect()
    }

    fn attempt(&self) -> Result<(), ApiError> {
        self.with(|i| {
            i.attempts += 1;
            match i.failures.pop_front() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    }

    fn record(&self, call: Call) {
        self.with(|i| i.calls.push(call));
    }

    fn next_id(&self) -> String {
        self.with(|i| {
            i.next += 1;
            format!("m{}", i.next)
        })
    }
}

fn key(channel: &ChannelRef) -> String {
    channel.id.clone().unwrap_or_else(|| channel.name.clone())
}

#[async_trait]
impl ChatApi for Recorder {
    async fn create_channel(&self, channel: &NewChannel) -> Result<ChannelRef, ApiError> {
        self.attempt()?;
        if self.with(|i| i.hanging_names.remove(&channel.name)) {
            return std::future::pending().await;
        }
        if let Some(e) = self.with(|i| i.failing_names.get(&channel.name).cloned()) {
            return Err(e);
        }
        let name = channel.name.clone();
        if !self.with(|i| i.channels.insert(name.clone())) {
            return Err(ApiError::NameTaken);
        }
        self.with(|i| i.keys.insert(name.clone(), channel.key.clone()));
        self.record(Call::Create {
            name: name.clone(),
            private: channel.private,
            topic: channel.topic.clone(),
            invite: channel.invite.clone(),
        });
        Ok(ChannelRef::new(&name, &name))
    }

    async fn invite(&self, channel: &ChannelRef, users: &[UserRef]) -> Result<(), ApiError> {
        self.attempt()?;
        self.record(Call::Invite {
            channel: key(channel),
            users: users.iter().map(|u| u.id.clone()).collect(),
        });
        Ok(())
    }

    /// A person's direct messages are posts in the channel `@<id>`.
    async fn open_direct(&self, user: &UserRef) -> Result<ChannelRef, ApiError> {
        self.attempt()?;
        let to = format!("@{}", user.id);
        Ok(ChannelRef::new(&to, &to))
    }

    async fn set_topic(&self, channel: &ChannelRef, topic: &Rich) -> Result<(), ApiError> {
        self.attempt()?;
        self.record(Call::Topic {
            channel: key(channel),
            topic: topic.clone(),
        });
        Ok(())
    }

    async fn adopt_created(
        &self,
        channel: &NewChannel,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<ChannelRef>, ApiError> {
        self.attempt()?;
        let ours = self.with(|i| i.keys.get(&channel.name) == Some(&channel.key));
        Ok(ours.then(|| ChannelRef::new(&channel.name, &channel.name)))
    }

    async fn post(
        &self,
        channel: &ChannelRef,
        message: &Message,
        once: &Once,
    ) -> Result<Posted, ApiError> {
        let failure = self.with(|i| {
            i.post_attempts.push((key(channel), once.retry));
            i.post_failures.pop_front()
        });
        if let Some(e) = failure {
            self.with(|i| i.attempts += 1);
            return Err(e);
        }
        self.attempt()?;
        if let Some(first) = self.with(|i| i.posted.get(&once.key).cloned()) {
            return Ok(first);
        }
        let id = self.next_id();
        self.record(Call::Post {
            channel: key(channel),
            message: message.clone(),
            id: id.clone(),
        });
        let posted = Posted {
            channel_id: key(channel),
            message: MessageRef(id),
        };
        self.with(|i| i.posted.insert(once.key.clone(), posted.clone()));
        Ok(posted)
    }

    async fn edit(
        &self,
        channel: &ChannelRef,
        target: &MessageRef,
        message: &Message,
    ) -> Result<(), ApiError> {
        self.attempt()?;
        self.record(Call::Edit {
            channel: key(channel),
            id: target.0.clone(),
            message: message.clone(),
        });
        Ok(())
    }

    async fn pin(&self, channel: &ChannelRef, target: &MessageRef) -> Result<(), ApiError> {
        self.attempt()?;
        self.record(Call::Pin {
            channel: key(channel),
            id: target.0.clone(),
        });
        Ok(())
    }

    async fn upload(&self, channel: &ChannelRef, file: &Upload) -> Result<MessageRef, ApiError> {
        self.attempt()?;
        let id = self.next_id();
        self.record(Call::Upload {
            channel: key(channel),
            filename: file.filename.clone(),
            content: file.content.clone(),
            comment: file.comment.clone(),
        });
        Ok(MessageRef(id))
    }

    async fn archive(&self, channel: &ChannelRef) -> Result<(), ApiError> {
        self.attempt()?;
        self.record(Call::Archive {
            channel: key(channel),
        });
        Ok(())
    }

    async fn unarchive(&self, channel: &ChannelRef) -> Result<(), ApiError> {
        self.attempt()?;
        self.record(Call::Unarchive {
            channel: key(channel),
        });
        Ok(())
    }
}
