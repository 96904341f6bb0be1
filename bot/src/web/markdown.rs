//! A postmortem's Markdown as HTML, with pulldown-cmark: raw HTML in the Markdown is shown as
//! text, never passed through; links keep only `http`, `https` and `mailto` targets; a
//! ```` ```mermaid ```` block becomes `<pre class="mermaid">` (its text escaped like any text) for the vendored
//! diagram script to draw.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// The HTML of `markdown`, safe to put in a page.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut in_mermaid = false;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        // Raw HTML becomes text, so the renderer escapes it.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) if lang.as_ref() == "mermaid" => {
            in_mermaid = true;
            Event::Html(CowStr::Borrowed("<pre class=\"mermaid\">"))
        }
        Event::End(TagEnd::CodeBlock) if in_mermaid => {
            in_mermaid = false;
            Event::Html(CowStr::Borrowed("</pre>\n"))
        }
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(link_type, dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url: _,
            title,
            id,
        }) => Event::Start(Tag::Link {
            // An image would be fetched from elsewhere: it becomes a link to nowhere.
            link_type,
            dest_url: CowStr::Borrowed("#"),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

fn safe_url(link_type: LinkType, url: CowStr<'_>) -> CowStr<'_> {
    let ok = match link_type {
        LinkType::Email => true,
        _ => {
            let lower = url.to_ascii_lowercase();
            lower.starts_with("http://")
                || lower.starts_with("https://")
                || lower.starts_with("mailto:")
                || lower.starts_with('#')
        }
    };
    if ok { url } else { CowStr::Borrowed("#") }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn raw_html_is_text_and_links_are_checked() {
        let html = to_html(
            "# T\n\n<script>alert(1)</script>\n\nhi <b onclick=x>b</b> \
             [x](javascript:alert(1)) [y](https://example.com) ![i](https://elsewhere/i.png)\n",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<b "), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn mermaid_blocks_are_left_for_the_diagram_script() {
        let html = to_html("```mermaid\ngantt\n  a : x<y, 2026-11-23T09:00:00Z, 1m\n```\n");
        assert!(html.contains("<pre class=\"mermaid\">gantt"), "{html}");
        assert!(html.contains("x&lt;y"), "{html}");
        assert!(!html.contains("<code"), "{html}");
    }
}
