//! The fake Slack's HTTP side: the Web API methods (`/api/{method}`, answered by `web.rs`
//! after the checks of `rules.rs`), the upload URLs `files.getUploadURLExternal` hands out, and
//! the `response_url` of clicks.

use super::*;

/// Carries out the call, then holds a stalled method's answer back for good.
pub(super) async fn stall(
    State(inner): State<Arc<Mutex<Inner>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = req.uri().path().rsplit('/').next().unwrap_or("").to_owned();
    let response = next.run(req).await;
    let stalled = inner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .stalled
        .contains(&method);
    if stalled {
        std::future::pending::<()>().await;
    }
    response
}

pub(super) async fn method(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(method): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // Reading methods come as GET with the arguments in the query string.
    let body = if body.is_empty() {
        axum::body::Bytes::from(query.unwrap_or_default())
    } else {
        body
    };
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if method == "apps.connections.open" {
        if auth != Some(&format!("Bearer {APP_TOKEN}")) {
            return error("invalid_auth");
        }
        let (base, refuse) = {
            let i = inner.lock().unwrap_or_else(PoisonError::into_inner);
            (i.base.clone(), i.refuse_sockets)
        };
        if refuse {
            return (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
        }
        return ok(json!({ "url": format!("ws://{base}/link?ticket=t1") }));
    }
    // docs.slack.dev/authentication/tokens: an unknown token is `invalid_auth`; a revoked one
    // `token_revoked`, a deactivated workspace or bot `account_inactive`.
    let token = auth.and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
    let refused = match inner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .tokens
        .get(token)
    {
        None => Some("invalid_auth".to_owned()),
        Some(e) => e.clone(),
    };
    if let Some(code) = refused {
        return error(&code);
    }
    let latency = inner.lock().unwrap_or_else(PoisonError::into_inner).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let body: Value = serde_json::from_slice(&body)
        .or_else(|_| {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
                .map(|kv| json!(kv.into_iter().collect::<std::collections::BTreeMap<_, _>>()))
        })
        .unwrap_or(Value::Null);
    let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
    let aimed = i.forced_on.get_mut(&method).and_then(VecDeque::pop_front);
    if let Some((status, retry_after)) = aimed.or_else(|| i.forced.pop_front()) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        // docs.slack.dev/apis/web-api/rate-limits: a 429 carries `ok: false, error:
        // ratelimited` and `Retry-After`. A 5xx is an outage, not a Web API answer: plain text,
        // and `Retry-After` when the server knows when it is back (RFC 9110 §15.6.4 and
        // §10.2.3: a 503 may say how long the service is expected to be unavailable).
        let mut r = if status == StatusCode::TOO_MANY_REQUESTS {
            (
                status,
                axum::Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response()
        } else {
            (status, "Service Unavailable").into_response()
        };
        if let Some(s) = retry_after
            && let Ok(v) = s.to_string().parse()
        {
            r.headers_mut().insert("retry-after", v);
        }
        return r;
    }
    i.next += 1;
    let n = i.next;
    let channel = body["channel"].as_str().unwrap_or("").to_owned();
    let answer = answer(&mut i, &method, &channel, &body, n);
    let error = match &answer {
        web::Answer::Ok(_) => None,
        web::Answer::Err(code, _) => Some(code.clone()),
        web::Answer::RateLimited(_) => Some("ratelimited".to_owned()),
    };
    i.calls.push(ApiCall {
        method: method.clone(),
        body: body.clone(),
        at: std::time::Instant::now(),
        error,
    });
    let scopes = i.ws.scopes.iter().cloned().collect::<Vec<_>>().join(",");
    drop(i);
    let mut response = match answer {
        web::Answer::Ok(v) => ok(v),
        web::Answer::Err(code, extra) => {
            let mut body = json!({ "ok": false, "error": code });
            if let (Some(b), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                b.extend(extra.clone());
            }
            axum::Json(body).into_response()
        }
        web::Answer::RateLimited(secs) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({ "ok": false, "error": "ratelimited" })),
            )
                .into_response();
            if let Ok(v) = secs.to_string().parse() {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
    };
    // docs.slack.dev/authentication/tokens ("Token types" → checking scopes): every Web API
    // answer carries the token's scopes in `x-oauth-scopes`.
    if let Ok(v) = scopes.parse() {
        response.headers_mut().insert("x-oauth-scopes", v);
    }
    response
}

/// The answer to one call: the workspace's methods (`web.rs`), then reading messages, files
/// and forms here.
fn answer(i: &mut Inner, method: &str, channel: &str, body: &Value, n: u64) -> web::Answer {
    use web::Answer;
    let refuse = |code: &str| Answer::Err(code.to_owned(), json!({}));
    let ok = Answer::Ok;
    let needs_channel = matches!(
        method,
        "conversations.history" | "conversations.replies" | "chat.getPermalink"
    );
    if needs_channel && let Err(a) = web::visible(&mut i.ws, channel) {
        return a;
    }
    if method == "conversations.history"
        && let Err(a) = super::direct::history_scope(&i.ws, channel)
    {
        return a;
    }
    // docs.slack.dev/reference/methods/conversations.history (and .replies): a bot token
    // reads "any conversation the relevant bot is a member of": a public channel it is not in
    // answers `not_in_channel`.
    let member =
        i.ws.channels
            .get(channel)
            .is_some_and(|c| c.members.contains(web::BOT_USER));
    if needs_channel && method != "chat.getPermalink" && !member {
        return refuse("not_in_channel");
    }
    match method {
        // docs.slack.dev/reference/methods/conversations.history: the channel's messages, the
        // newest first, people's and apps' alike; `include_all_metadata` ("Return all metadata
        // associated with this message") adds each message's `metadata`, which is left out
        // otherwise.
        "conversations.history" => {
            let latest = body["latest"].as_str().unwrap_or("");
            let inclusive = body["inclusive"] == "true";
            let with_metadata = body["include_all_metadata"] == "true";
            let posts: Vec<Value> =
                i.ws.channels
                    .get(channel)
                    .map(|c| c.posts.values().cloned().collect())
                    .unwrap_or_default();
            let mut found: Vec<Value> =
                i.ws.messages
                    .get(channel)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .chain(posts)
                    .filter(|m| m["thread_ts"].is_null() || m["thread_ts"] == m["ts"])
                    .filter(|m| {
                        let ts = m["ts"].as_str().unwrap_or("");
                        latest.is_empty() || ts < latest || (inclusive && ts == latest)
                    })
                    .map(|mut m| {
                        if !with_metadata && let Some(o) = m.as_object_mut() {
                            o.remove("metadata");
                        }
                        m
                    })
                    .collect();
            found.sort_by(|a, b| b["ts"].as_str().cmp(&a["ts"].as_str()));
            found.truncate(
                body["limit"]
                    .as_str()
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(100),
            );
            ok(json!({ "messages": found, "has_more": false }))
        }
        "conversations.replies" => {
            let ts = body["ts"].as_str().unwrap_or("");
            let all = i.ws.messages.get(channel).cloned().unwrap_or_default();
            let Some(m) = all.iter().find(|m| m["ts"] == ts) else {
                return refuse("thread_not_found");
            };
            let thread = m["thread_ts"].as_str().unwrap_or(ts).to_owned();
            let mut found: Vec<Value> = all
                .into_iter()
                .filter(|m| m["ts"] == thread.as_str() || m["thread_ts"] == thread.as_str())
                .collect();
            found.sort_by(|a, b| a["ts"].as_str().cmp(&b["ts"].as_str()));
            ok(json!({ "messages": found, "has_more": false }))
        }
        "chat.getPermalink" => {
            let ts = body["message_ts"].as_str().unwrap_or("").replace('.', "");
            ok(
                json!({ "channel": channel, "permalink": format!("https://acme.slack.com/archives/{channel}/p{ts}") }),
            )
        }
        "files.getUploadURLExternal" => {
            let filename = body["filename"].as_str().unwrap_or("");
            let length: usize = body["length"]
                .as_str()
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            if filename.is_empty() || length == 0 {
                return refuse("invalid_arguments");
            }
            let id = format!("F{n:07}");
            i.uploads.insert(
                id.clone(),
                (Vec::new(), format!("pending:{filename}:{length}")),
            );
            let base = i.base.clone();
            ok(json!({ "upload_url": format!("http://{base}/upload/{id}"), "file_id": id }))
        }
        "files.completeUploadExternal" => {
            let Some(file) = body["files"].get(0) else {
                return refuse("invalid_arguments");
            };
            // docs.slack.dev/reference/methods/files.completeUploadExternal: `channel_id` is
            // an ID.
            let target = body["channel_id"].as_str().unwrap_or("");
            if let Err(a) = web::visible(&mut i.ws, target) {
                return a;
            }
            let id = file["id"].as_str().unwrap_or("").to_owned();
            let Some((bytes, kind)) = i.uploads.get(&id).cloned() else {
                return refuse("file_not_found");
            };
            let Some(rest) = kind.strip_prefix("uploaded:") else {
                return refuse("file_not_found");
            };
            let (content_type, filename) = rest.split_once(':').unwrap_or((rest, ""));
            let shared = SharedFile {
                id: id.clone(),
                title: file["title"].as_str().unwrap_or("").to_owned(),
                filename: filename.to_owned(),
                channel: body["channel_id"].as_str().unwrap_or("").to_owned(),
                comment: body["initial_comment"].as_str().unwrap_or("").to_owned(),
                content: String::from_utf8_lossy(&bytes).into_owned(),
                content_type: content_type.to_owned(),
            };
            i.shared.push(shared.clone());
            ok(json!({ "files": [{ "id": id, "title": shared.title, "name": shared.filename }] }))
        }
        "views.open" => {
            let mut view = match &body["view"] {
                Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                v => v.clone(),
            };
            if let Err(a) =
                web::use_trigger(&mut i.ws, body["trigger_id"].as_str().unwrap_or(""), &view)
            {
                return a;
            }
            view["id"] = format!("V{n:07}").into();
            view["team_id"] = "T0TEAM".into();
            view["hash"] = format!("{n}.hash").into();
            view["state"] = json!({ "values": {} });
            i.views.push(view.clone());
            ok(json!({ "view": view }))
        }
        _ => web::call(&mut i.ws, method, body),
    }
}

/// An upload URL from `files.getUploadURLExternal`: takes the bytes, answers in plain text.
pub(super) async fn upload(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(file): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
    let Some((bytes, kind)) = i.uploads.get_mut(&file) else {
        return (StatusCode::NOT_FOUND, "no such upload").into_response();
    };
    let Some(rest) = kind.strip_prefix("pending:") else {
        return (StatusCode::BAD_REQUEST, "already uploaded").into_response();
    };
    let (filename, length) = rest.rsplit_once(':').unwrap_or((rest, "0"));
    if length.parse::<usize>().ok() != Some(body.len()) {
        return (StatusCode::BAD_REQUEST, "length mismatch").into_response();
    }
    *kind = format!("uploaded:{content_type}:{filename}");
    *bytes = body.to_vec();
    let len = bytes.len();
    i.calls.push(ApiCall {
        method: "upload".to_owned(),
        body: json!({ "file": file, "bytes": len }),
        at: std::time::Instant::now(),
        error: None,
    });
    format!("OK - {len}").into_response()
}

/// A click's `response_url`: docs.slack.dev/interactivity/handling-user-interaction ("Message
/// responses"): a JSON message, `replace_original` to keep the clicked message or not; Slack
/// answers `ok`.
pub(super) async fn respond(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(trigger): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(mut message) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    if let Err(code) = rules::message(&message) {
        return (StatusCode::BAD_REQUEST, code).into_response();
    }
    message["trigger"] = trigger.into();
    inner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .calls
        .push(ApiCall {
            method: "response_url".to_owned(),
            body: message,
            at: std::time::Instant::now(),
            error: None,
        });
    "ok".into_response()
}
