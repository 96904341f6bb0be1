//! `GET /signin?token=…` shows a Sign in button for a good `/inc web` link (a GET changes
//! nothing, so a link preview cannot use the link up); `POST /signin` uses the link once and
//! sets the session cookie: HttpOnly, SameSite=Strict, Secure behind https, for the configured
//! lifetime. A newer sign-in by the same person keeps the private incidents the old session
//! could open, and ends it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Redirect};
use serde::{Deserialize, Serialize};

use super::access::{COOKIE, session_cookie};
use super::{PageResult, Refusal, WebState};
use crate::store;

#[derive(Debug, Default, Deserialize)]
pub struct Link {
    #[serde(default)]
    token: String,
}

#[derive(Serialize)]
struct Page {
    token: String,
}

/// The longest token accepted (Klaxon's are 64 characters).
const MAX_TOKEN: usize = 128;

fn spent() -> Refusal {
    Refusal::BadInput(
        "This sign-in link was used already or has expired: type /inc web in chat for a new one"
            .to_owned(),
    )
}

pub async fn page(State(state): State<Arc<WebState>>, Query(link): Query<Link>) -> PageResult {
    if state.access.sessions.is_none() {
        return Err(Refusal::NotFound);
    }
    let token = link.token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(spent());
    }
    let mut conn = state.store.read().await?;
    let good = store::web::link_is_good(&mut conn, token, state.clock.now()).await?;
    drop(conn);
    if !good {
        return Err(spent());
    }
    Ok(state.page(
        "signin.html",
        Page {
            token: token.to_owned(),
        },
    ))
}

pub async fn sign_in(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let Some(sessions) = &state.access.sessions else {
        return Err(Refusal::NotFound);
    };
    let link: Link = serde_urlencoded::from_bytes(&body)
        .map_err(|_| Refusal::BadInput("not a sign-in form".to_owned()))?;
    let token = link.token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(spent());
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let Some(mut holder) = store::web::use_link(&mut tx, token, now).await? else {
        tx.rollback().await?;
        return Err(spent());
    };
    if let Some(old) = session_cookie(&headers)
        && let Some(before) = store::web::session(&mut tx, &old, now).await?
    {
        if before.tenant == holder.tenant && before.user == holder.user {
            for id in before.grants {
                if !holder.grants.contains(&id) {
                    holder.grants.push(id);
                }
            }
        }
        store::web::end_session(&mut tx, &old).await?;
    }
    let session = store::web::new_token();
    let expires = crate::clock::after(now, sessions.lifetime);
    store::web::add_session(&mut tx, &session, &holder, now, expires).await?;
    tx.commit().await?;
    tracing::info!(user = %holder.user.id, tenant = %holder.tenant, "signed in to the pages");
    let cookie = cookie::Cookie::build((COOKIE, session))
        .path("/")
        .http_only(true)
        .secure(sessions.secure)
        .same_site(cookie::SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(sessions.lifetime.as_secs()).unwrap_or(i64::MAX),
        ))
        .build();
    let mut response = Redirect::to("/incidents").into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie.to_string()).map_err(anyhow::Error::from)?,
    );
    Ok(response)
}
