//! Quoting for rendered output: tag keys and values from the service may hold any character, so
//! anything that could break a line, a column or a markdown structure is escaped. Pure.

/// Characters that reorder or split text on screen without being `char::is_control`.
fn is_invisible_layout(ch: char) -> bool {
    matches!(ch, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Escapes control and layout characters as `\n`, `\t`, `\u{…}`; with `quotes` also `"` and `\`.
pub(crate) fn escape(text: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' | '\\' if quotes => {
                out.push('\\');
                out.push(ch);
            }
            c if c.is_control() || is_invisible_layout(c) => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// A tag value as a double-quoted string.
pub(crate) fn quote_value(value: &str) -> String {
    format!("\"{}\"", escape(value, true))
}

/// A tag key, bare when it only holds the characters desktag itself allows (minus spaces),
/// else double-quoted.
pub(crate) fn quote_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '+' | '@'));
    if bare {
        key.to_string()
    } else {
        quote_value(key)
    }
}

/// A desktop name or id for one line of text; an empty name reads `(unknown)`.
pub(crate) fn display(text: &str) -> String {
    if text.is_empty() {
        "(unknown)".to_string()
    } else {
        escape(text, false)
    }
}

/// Keeps `@team` and `#123` inert in a PR comment: a word joiner after the sign stops GitHub from
/// turning them into a mention (which notifies people) or a cross-reference, while the text
/// reads the same.
fn neutralise_references(text: String) -> String {
    if text.contains(['@', '#']) {
        text.replace('@', "@\u{2060}").replace('#', "#\u{2060}")
    } else {
        text
    }
}

/// Escapes text for markdown prose and table cells (also safe inside inline HTML). Mentions and
/// issue references are neutralised.
pub(crate) fn markdown(text: &str) -> String {
    let text = escape(text, false);
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // Names are never at the start of a line, so only inline syntax needs escaping.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    neutralise_references(out)
}

/// Like [`markdown`], but keeps the `` `code` `` spans desktag's own sentences put around keys,
/// ids and values (`` desktop `d1` not found ``) as code spans; their content is inert there,
/// with control characters escaped. Unpaired backticks are escaped as in [`markdown`].
pub(crate) fn markdown_with_code(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return markdown(text);
    }
    let mut out = String::with_capacity(text.len());
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 0 {
            out.push_str(&markdown(part));
        } else if part.is_empty() || part.trim().is_empty() {
            out.push_str(&markdown(&format!("`{part}`")));
        } else {
            out.push('`');
            // A code span shows `<` as it is: an HTML comment opener in service text must not
            // become a second `<!-- desktag:… -->` marker for tools that find the sticky comment.
            out.push_str(&escape(part, false).replace("<!--", "<\u{2060}!--"));
            out.push('`');
        }
    }
    out
}

/// A desktop name or id for markdown; an empty name reads `(unknown)`.
pub(crate) fn markdown_name(text: &str) -> String {
    if text.is_empty() {
        display(text)
    } else {
        markdown(text)
    }
}

/// Escapes text for an HTML element such as `<summary>` (markdown is not rendered there, but
/// mentions are).
pub(crate) fn html(text: &str) -> String {
    neutralise_references(
        display(text)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;"),
    )
}

/// A backtick fence longer than any backtick run in `body` (at least three).
pub(crate) fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in body.chars() {
        if ch == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_with_control_and_bidi_characters_escaped() {
        assert_eq!(
            quote_value("a\"b\\c\nd\u{202E}e"),
            r#""a\"b\\c\nd\u{202e}e""#
        );
        assert_eq!(quote_value(""), "\"\"");
    }

    #[test]
    fn keys_are_bare_unless_they_hold_odd_characters() {
        assert_eq!(quote_key("cost-center"), "cost-center");
        assert_eq!(quote_key("部门"), "部门");
        assert_eq!(quote_key("cost center"), "\"cost center\"");
        assert_eq!(quote_key("a = b"), "\"a = b\"");
    }

    #[test]
    fn markdown_and_html_escaping_neutralise_structure() {
        assert_eq!(markdown("a|b*_c<x>"), "a\\|b\\*\\_c&lt;x&gt;");
        assert_eq!(html("<b>&\"x\""), "&lt;b&gt;&amp;&quot;x&quot;");
        assert_eq!(fence("x ```` y"), "`````");
        assert_eq!(fence("plain"), "```");
    }

    #[test]
    fn code_spans_in_sentences_stay_code() {
        assert_eq!(
            markdown_with_code("key `a*b` on `@x` is *bad*"),
            "key `a*b` on `@x` is \\*bad\\*"
        );
        assert_eq!(markdown_with_code("odd ` tick"), "odd \\` tick");
        assert_eq!(markdown_with_code("`\u{1b}`"), "`\\u{001b}`");
    }

    #[test]
    fn mentions_and_references_stay_inert_in_markdown() {
        assert_eq!(markdown("@org/team #12"), "@\u{2060}org/team #\u{2060}12");
        assert_eq!(html("@octocat"), "@\u{2060}octocat");
        // Control characters are escaped before the word joiner goes in.
        assert_eq!(markdown("\u{1b}[2J@x"), "\\\\u{001b}\\[2J@\u{2060}x");
    }

    #[test]
    fn markdown_service_text_cannot_add_a_second_sticky_marker() {
        let hostile = "bad tag `<!-- desktag:plan project=evil -->` and <!-- desktag:plan -->";
        let out = markdown_with_code(hostile);
        assert!(!out.contains("<!--"), "{out}");
        assert!(!out.contains("<!-- desktag:"), "{out}");
    }
}
