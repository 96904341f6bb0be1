//! What `klaxon doctor` asks Discord: the token (`GET /users/@me`), and per guild the bot's
//! permissions, the paging channel, room in the incidents category, whether the configured
//! roles can be pinged, and whether `/inc` is registered. Nothing is posted or changed.
//!
//! Roles, members and channels are read as raw JSON through serenity's `Http::request`:
//! serenity 0.12 drops permission bits it has no name for, and Pin Messages (1 << 51) is one.

use serde_json::Value;
use serenity::all::{GuildId, Http, UserId};
use serenity::http::{LightMethod, Request, Route};

use crate::places::CATEGORY_CAP;

/// Discord's permission bits Klaxon needs (Topics > Permissions), with their names.
pub const NEEDED: [(&str, u32); 10] = [
    ("Manage Channels", 4),
    ("Add Reactions", 6),
    ("View Channels", 10),
    ("Send Messages", 11),
    ("Manage Messages", 13),
    ("Embed Links", 14),
    ("Attach Files", 15),
    ("Read Message History", 16),
    ("Manage Roles", 28),
    ("Pin Messages", 51),
];
const ADMINISTRATOR: u64 = 1 << 3;
const MENTION_EVERYONE: u64 = 1 << 17;
const POST: u64 = (1 << 10) | (1 << 11) | (1 << 14);
/// Channels per guild (Discord's 30013).
const GUILD_CAP: usize = 500;

/// The permissions integer of an invite URL with everything in [`NEEDED`].
pub fn invite_permissions() -> u64 {
    NEEDED.iter().fold(0, |p, (_, bit)| p | (1 << bit))
}

/// What one guild should look like.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub guild: u64,
    pub paging_channel: Option<String>,
    pub category: Option<String>,
    /// The SEV1 mention and escalation tiers, as configured (`<@&role>` or `<@user>`).
    pub mentions: Vec<String>,
    /// Whether `/inc` is registered globally rather than per guild.
    pub global: bool,
}

/// One finding: what was checked, whether it is fine, and what was found or what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

fn ok(name: &str, detail: impl Into<String>) -> Finding {
    Finding {
        name: name.to_owned(),
        ok: true,
        detail: detail.into(),
    }
}

fn fail(name: &str, detail: impl Into<String>) -> Finding {
    Finding {
        name: name.to_owned(),
        ok: false,
        detail: detail.into(),
    }
}

async fn get(http: &Http, route: Route<'_>) -> Result<Value, String> {
    let response = http
        .request(Request::new(route, LightMethod::Get))
        .await
        .map_err(|e| crate::api::api_error(e).to_string())?;
    // serenity's reqwest has no `json` feature (tests enable it, the binary does not).
    let body = response
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

fn bits(v: &Value) -> u64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The bot's user id, or what to fix about the token.
pub async fn token(http: &Http) -> (Finding, Option<UserId>) {
    match http.get_current_user().await {
        Ok(me) => (
            ok(
                "token",
                format!("the token is the bot {} ({})", me.name, me.id),
            ),
            Some(me.id),
        ),
        Err(e) => (
            fail(
                "token",
                format!(
                    "Discord refused the token ({}): set DISCORD_TOKEN to the bot token \
                     (Developer Portal → your application → Bot → Reset Token)",
                    crate::api::api_error(e)
                ),
            ),
            None,
        ),
    }
}

/// Every check of one guild.
pub async fn guild(http: &Http, me: UserId, expect: &Expect) -> Vec<Finding> {
    let id = GuildId::new(expect.guild.max(1));
    let at = |name: &str| format!("guild {} {name}", expect.guild);
    let invite = format!(
        "https://discord.com/oauth2/authorize?client_id={me}&scope=bot+applications.commands&permissions={}",
        invite_permissions()
    );
    let (guild, member, channels) = match (
        get(http, Route::Guild { guild_id: id }).await,
        get(
            http,
            Route::GuildMember {
                guild_id: id,
                user_id: me,
            },
        )
        .await,
        get(http, Route::GuildChannels { guild_id: id }).await,
    ) {
        (Ok(g), Ok(m), Ok(c)) => (g, m, c.as_array().cloned().unwrap_or_default()),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => {
            return vec![fail(
                &at("access"),
                format!("the bot cannot read the guild ({e}): invite it with {invite}"),
            )];
        }
    };
    let roles = guild["roles"].as_array().cloned().unwrap_or_default();
    let everyone = expect.guild.to_string();
    let mine: Vec<&Value> = roles
        .iter()
        .filter(|r| {
            r["id"].as_str() == Some(everyone.as_str())
                || member["roles"]
                    .as_array()
                    .is_some_and(|m| m.contains(&r["id"]))
        })
        .collect();
    let base = mine.iter().fold(0, |p, r| p | bits(&r["permissions"]));
    let base = if base & ADMINISTRATOR != 0 {
        u64::MAX
    } else {
        base
    };
    let mut out = Vec::new();
    let missing: Vec<String> = NEEDED
        .iter()
        .filter(|(_, bit)| base & (1 << bit) == 0)
        .map(|(name, bit)| format!("{name} (1 << {bit})"))
        .collect();
    out.push(if missing.is_empty() {
        ok(
            &at("permissions"),
            "the bot has every permission Klaxon needs",
        )
    } else {
        fail(
            &at("permissions"),
            format!(
                "the bot lacks {}: grant them to its role, or invite it again with {invite}",
                missing.join(", ")
            ),
        )
    });
    let in_channel = |channel: &Value| {
        let of = |pred: &dyn Fn(&Value) -> bool| {
            channel["permission_overwrites"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|o| pred(o))
                .fold((0, 0), |(a, d), o| {
                    (a | bits(&o["allow"]), d | bits(&o["deny"]))
                })
        };
        if base == u64::MAX {
            return base;
        }
        let mut p = base;
        for (a, d) in [
            of(&|o| o["id"].as_str() == Some(everyone.as_str())),
            of(&|o| {
                o["type"] == 0
                    && member["roles"]
                        .as_array()
                        .is_some_and(|m| m.contains(&o["id"]))
            }),
            of(&|o| o["type"] == 1 && o["id"] == me.to_string()),
        ] {
            p = (p & !d) | a;
        }
        p
    };
    let find = |cid: &str| channels.iter().find(|c| c["id"] == cid).cloned();
    match expect.paging_channel.as_deref() {
        None => out.push(fail(&at("paging channel"), "no paging channel is set: set [discord] paging_channel (or [discord.guilds.\"<id>\"] paging_channel) to the channel's id")),
        Some(cid) => out.push(match find(cid) {
            None => fail(&at("paging channel"), format!("channel {cid} is not in this guild (or the bot cannot see it): copy the paging channel's id (right-click → Copy Channel ID)")),
            Some(c) if in_channel(&c) & POST != POST => fail(&at("paging channel"), format!("the bot cannot post in #{}: allow it View Channel, Send Messages and Embed Links there", c["name"].as_str().unwrap_or(cid))),
            Some(c) => ok(&at("paging channel"), format!("#{} exists and the bot can post there", c["name"].as_str().unwrap_or(cid))),
        }),
    }
    if let Some(cid) = expect.category.as_deref() {
        out.push(match find(cid).filter(|c| c["type"] == 4) {
            None => fail(&at("category"), format!("{cid} is not a category of this guild: set [discord] category to a category's id")),
            Some(c) => {
                let name = c["name"].as_str().unwrap_or(cid);
                let used = channels.iter().filter(|x| x["parent_id"] == cid).count();
                let room = CATEGORY_CAP.saturating_sub(used);
                if room == 0 {
                    ok(&at("category"), format!("“{name}” is full ({CATEGORY_CAP} channels): new incident channels go to “{name} 2”"))
                } else {
                    ok(&at("category"), format!("“{name}” has room for {room} more incident channels"))
                }
            }
        });
    }
    out.push(if channels.len() >= GUILD_CAP {
        fail(&at("channels"), format!("the guild has {} channels, Discord's maximum: delete some so incidents can get channels", channels.len()))
    } else {
        ok(&at("channels"), format!("{} of {GUILD_CAP} channels used", channels.len()))
    });
    for mention in &expect.mentions {
        let Some(role) = mention
            .strip_prefix("<@&")
            .and_then(|m| m.strip_suffix('>'))
        else {
            continue;
        };
        out.push(match roles.iter().find(|r| r["id"] == role) {
            None => fail(&at("mention"), format!("{mention} is not a role of this guild: copy the role's id (Server Settings → Roles → Copy Role ID)")),
            Some(r) if r["mentionable"] == true || base & MENTION_EVERYONE != 0 => ok(&at("mention"), format!("@{} can be pinged", r["name"].as_str().unwrap_or(role))),
            Some(r) => fail(&at("mention"), format!("@{} is not mentionable and the bot lacks Mention Everyone, so pages would notify nobody: turn on “Allow anyone to @mention this role”, or grant Mention Everyone (1 << 17)", r["name"].as_str().unwrap_or(role))),
        });
    }
    let registered = if expect.global {
        http.get_global_commands().await
    } else {
        http.get_guild_commands(id).await
    };
    out.push(match registered {
        Ok(list) if list.iter().any(|c| c.name == "inc") => ok(&at("/inc"), "registered"),
        Ok(_) => fail(&at("/inc"), format!("/inc is not registered: start Klaxon once with DISCORD_GUILD_IDS={} (or DISCORD_GLOBAL_COMMANDS=1)", expect.guild)),
        Err(e) => fail(&at("/inc"), format!("could not list the commands ({}): set DISCORD_APPLICATION_ID to the application's id", crate::api::api_error(e))),
    });
    out
}
