//! Study narratives are Markdown written by study authors, who may be
//! anyone: this renders them to HTML with raw HTML refused. Any HTML in the
//! source is shown as text, and links may only point to http(s), mail or
//! in-page targets, so a study file cannot inject script into the page.

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, html};

/// Renders `source` to HTML that is safe to insert into the page.
pub fn markdown_to_html(source: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(source, options).map(|event| match event {
        // Raw HTML becomes visible text, escaped by the writer.
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url, link_type),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url, link_type),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// Keeps a link target only if it is http(s), mailto, or relative without a
/// scheme; anything else (javascript:, data:, vbscript:) becomes `#`.
fn safe_url(url: CowStr<'_>, _kind: LinkType) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme = lower
        .find(':')
        .filter(|&i| !lower[..i].contains(['/', '?', '#']))
        .map(|i| &lower[..i]);
    match scheme {
        None | Some("http" | "https" | "mailto") => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_emphasis_lists_and_code() {
        let html = markdown_to_html("**Goal.** Rank *posts*.\n\n- one\n- two\n\n`q = p`");
        assert!(html.contains("<strong>Goal.</strong>"), "{html}");
        assert!(html.contains("<em>posts</em>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(html.contains("<code>q = p</code>"), "{html}");
    }

    #[test]
    fn raw_html_is_shown_as_text_never_passed_through() {
        let html = markdown_to_html(
            "Hi <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n<b>bold</b>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn only_safe_link_targets_survive() {
        let html = markdown_to_html(
            "[a](https://example.org) [b](javascript:alert(1)) [c](JaVaScRiPt:x) \
             [d](#step-2) [e](data:text/html,x) [f](notes/x.md)",
        );
        assert!(html.contains("href=\"https://example.org\""), "{html}");
        assert!(html.contains("href=\"#step-2\""), "{html}");
        assert!(html.contains("href=\"notes/x.md\""), "{html}");
        assert!(!html.to_ascii_lowercase().contains("javascript"), "{html}");
        assert!(!html.contains("data:"), "{html}");
    }
}
