//! The limits Slack checks on what an app sends, as the fake Slack enforces them: channel names,
//! topics, message text and Block Kit, and the forms `views.open` takes. Each check cites the
//! Slack documentation it follows; an answer is Slack's own error code.

use serde_json::Value;

/// A channel name `conversations.create` accepts, or the error it answers.
///
/// docs.slack.dev/reference/methods/conversations.create, "Naming": "Channel names may only
/// contain lowercase letters, numbers, hyphens, and underscores, and must be 80 characters or
/// less"; "Errors": `invalid_name_required`, `invalid_name_maxlength`, `invalid_name_specials`
/// (special or upper-case characters), `invalid_name_punctuation` (only punctuation).
pub fn channel_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("invalid_name_required");
    }
    if name.chars().count() > 80 {
        return Err("invalid_name_maxlength");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err("invalid_name_specials");
    }
    if name.chars().all(|c| c == '-' || c == '_') {
        return Err("invalid_name_punctuation");
    }
    Ok(())
}

/// docs.slack.dev/reference/methods/conversations.setTopic, "Errors": `too_long`, "Topic was
/// longer than 250 characters."
pub fn topic(topic: &str) -> Result<(), &'static str> {
    if topic.chars().count() > 250 {
        Err("too_long")
    } else {
        Ok(())
    }
}

/// A message's `text` and `blocks` for `chat.postMessage`, `chat.postEphemeral` and
/// `chat.update`.
///
/// docs.slack.dev/reference/methods/chat.postMessage, "Errors": `no_text` (neither text nor
/// blocks), `msg_too_long` (text over 40,000 characters) and `invalid_blocks` ("Blocks
/// submitted with this message are not valid"), which the fake answers for every Block Kit
/// limit below.
pub fn message(body: &Value) -> Result<(), &'static str> {
    let text = body["text"].as_str().unwrap_or("");
    let blocks = blocks_of(body).map_err(|()| "invalid_blocks")?;
    if text.is_empty() && blocks.is_empty() {
        return Err("no_text");
    }
    if text.chars().count() > 40_000 {
        return Err("msg_too_long");
    }
    block_list(&blocks, 50)
}

/// `blocks` arrive as a JSON array, or as a JSON-encoded string in a form body.
fn blocks_of(body: &Value) -> Result<Vec<Value>, ()> {
    match &body["blocks"] {
        Value::Null => Ok(Vec::new()),
        Value::Array(b) => Ok(b.clone()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => serde_json::from_str(s).map_err(|_| ()),
        _ => Err(()),
    }
}

/// docs.slack.dev/reference/block-kit/blocks: "Messages: maximum 50 blocks; modals: 100".
pub fn block_list(blocks: &[Value], max: usize) -> Result<(), &'static str> {
    if blocks.len() > max {
        return Err("invalid_blocks");
    }
    for block in blocks {
        block_ok(block).map_err(|()| "invalid_blocks")?;
    }
    Ok(())
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// One block's limits (docs.slack.dev/reference/block-kit/blocks/section-block: `text` at most
/// 3000 characters, at most 10 `fields` of at most 2000; .../actions-block: at most 25
/// elements; .../block-elements/button-element: `text` 75, `value` 2000, `action_id` 255;
/// .../composition-objects/confirmation-dialog-object: `title` 100, `text` 300, `confirm` 30,
/// `deny` 30).
fn block_ok(block: &Value) -> Result<(), ()> {
    let ok = |b: bool| if b { Ok(()) } else { Err(()) };
    match block["type"].as_str() {
        Some("section") => {
            ok(chars(&block["text"]["text"]) <= 3000)?;
            if let Some(fields) = block["fields"].as_array() {
                ok(fields.len() <= 10)?;
                for f in fields {
                    ok(chars(&f["text"]) <= 2000)?;
                }
            }
            ok(block["text"].is_object() || block["fields"].is_array())
        }
        Some("actions") => {
            let elements = block["elements"].as_array().ok_or(())?;
            ok(!elements.is_empty() && elements.len() <= 25)?;
            for e in elements {
                element_ok(e)?;
            }
            Ok(())
        }
        Some("context") => ok(block["elements"].as_array().is_some_and(|e| e.len() <= 10)),
        Some("input") => select_ok(&block["element"]),
        Some("divider" | "header" | "image" | "rich_text") => Ok(()),
        _ => Err(()),
    }
}

/// docs.slack.dev/reference/block-kit/block-elements/select-menu-element (static select):
/// `options` "Maximum number of options is 100"; .../composition-objects/option-object: `text`
/// at most 75 characters, `value` at most 150. Other input elements pass.
fn select_ok(e: &Value) -> Result<(), ()> {
    let ok = |b: bool| if b { Ok(()) } else { Err(()) };
    if e["type"] != "static_select" {
        return Ok(());
    }
    let options = e["options"].as_array().ok_or(())?;
    ok((1..=100).contains(&options.len()))?;
    for o in options {
        ok((1..=75).contains(&chars(&o["text"]["text"])))?;
        ok((1..=150).contains(&chars(&o["value"])))?;
    }
    Ok(())
}

fn element_ok(e: &Value) -> Result<(), ()> {
    let ok = |b: bool| if b { Ok(()) } else { Err(()) };
    if e["type"] == "button" {
        ok((1..=75).contains(&chars(&e["text"]["text"])))?;
        ok(chars(&e["value"]) <= 2000)?;
        ok(chars(&e["action_id"]) <= 255)?;
    }
    if let Some(confirm) = e.get("confirm") {
        ok((1..=100).contains(&chars(&confirm["title"]["text"])))?;
        ok((1..=300).contains(&chars(&confirm["text"]["text"])))?;
        ok((1..=30).contains(&chars(&confirm["confirm"]["text"])))?;
        ok((1..=30).contains(&chars(&confirm["deny"]["text"])))?;
    }
    Ok(())
}

/// A form for `views.open`: docs.slack.dev/reference/surfaces/views ("View object"): `title`
/// at most 24 characters, `submit` and `close` at most 24, at most 100 blocks. Slack answers
/// `invalid_arguments` for a view that breaks them.
pub fn view(view: &Value) -> Result<(), &'static str> {
    let short = |v: &Value| v.is_null() || (1..=24).contains(&chars(&v["text"]));
    if view["type"] != "modal"
        || !(1..=24).contains(&chars(&view["title"]["text"]))
        || !short(&view["submit"])
        || !short(&view["close"])
    {
        return Err("invalid_arguments");
    }
    let blocks = view["blocks"].as_array().cloned().unwrap_or_default();
    block_list(&blocks, 100).map_err(|_| "invalid_arguments")
}

/// docs.slack.dev/messaging/message-metadata: `metadata` is an object with an `event_type`
/// string and an `event_payload` object ("presented as a URL-encoded string" in a form, so a
/// string holding that JSON); chat.postMessage answers a malformed one with
/// `invalid_metadata_format`. `None` when the message has no metadata.
pub fn metadata(value: &Value) -> Result<Option<Value>, &'static str> {
    let value = match value {
        Value::Null => return Ok(None),
        Value::String(s) => serde_json::from_str(s).map_err(|_| "invalid_metadata_format")?,
        v => v.clone(),
    };
    let typed = value["event_type"].as_str().is_some_and(|t| !t.is_empty());
    if !typed || !value["event_payload"].is_object() {
        return Err("invalid_metadata_format");
    }
    Ok(Some(value))
}
