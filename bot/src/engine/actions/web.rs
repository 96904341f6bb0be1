//! `/inc web`: a single-use sign-in link to the pages, answered to the asker only. Asked in an
//! incident's channel, the session it opens may also see that incident if it is private.
//!
//! The link's token is stored only as its SHA-256; the delivery record keeps a reply without
//! it, so a platform's retry of the same request is told to ask again instead.

use klaxon_commands::{PlatformKind, Reply, Rich, UserError};

use crate::engine::{ActionResult, Ctx};
use crate::store;

pub async fn run(ctx: &mut Ctx<'_>) -> ActionResult {
    let web = &ctx.config.web;
    if ctx.inv.tenant.platform == PlatformKind::Console {
        return Ok(Reply::ok_line(Rich::plain(
            "In the console the pages are open to this machine: open the address the console \
             printed when it started (Pages: http://127.0.0.1:…/incidents).",
        )));
    }
    if !web.enabled {
        return Err(UserError::new(
            "The pages are off here: an operator turns them on with `[web] enabled = true` in klaxon.toml.",
        )
        .into());
    }
    let Some(base) = &web.public_url else {
        return Err(UserError::new(
            "The pages have no address yet: an operator sets `[web] public_url` in klaxon.toml.",
        )
        .into());
    };
    let incident = match &ctx.inv.channel.id {
        Some(channel) => store::incidents::by_channel(ctx.conn, &ctx.inv.tenant, channel).await?,
        None => None,
    };
    let token = store::web::new_token();
    let expires = crate::clock::after(ctx.now, web.link_lifetime.as_std());
    store::web::add_link(
        ctx.conn,
        &token,
        &ctx.inv.tenant,
        &ctx.inv.user,
        incident.as_ref().map(|i| i.id),
        ctx.now,
        expires,
    )
    .await?;
    let mut link = base.join("signin").map_err(anyhow::Error::from)?;
    link.query_pairs_mut().append_pair("token", &token);
    let also = match &incident {
        Some(i) if i.private => format!(" It also opens {}, which is private.", i.key()),
        _ => String::new(),
    };
    ctx.replay = Some(Reply::ok_line(Rich::plain(
        "A sign-in link was given for this request already: type /inc web again for a new one.",
    )));
    Ok(Reply::ok_line(Rich::plain(format!(
        "🔗 Your sign-in link to the incident pages, for you only: {link} It works once, within \
         {}, and signs you in for {}.{also}",
        web.link_lifetime, web.session_lifetime
    ))))
}
