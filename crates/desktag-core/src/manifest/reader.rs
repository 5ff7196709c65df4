//! A pull reader over yaml-rust2's event parser: node heads with 1-based positions that always
//! lie inside the text, and the first syntax error. Knows nothing about manifests; no I/O here.
//!
//! The parser is pulled event by event instead of building a tree, so loading a large manifest
//! costs little more than the validated model itself.

use std::cell::OnceCell;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

/// A position in the text: line and column (in characters), both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
}

/// The YAML cannot be parsed past this point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// A scalar as written: its text, and whether it was plain (unquoted, not a block scalar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scalar {
    pub text: String,
    pub plain: bool,
}

impl Scalar {
    /// YAML's null: an empty or `~`/`null` plain scalar. (YAML tags such as `!!null` are
    /// rejected by the reader, so they never change what a scalar means.)
    pub(crate) fn is_null(&self) -> bool {
        self.plain && matches!(self.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }

    /// Whether the scalar was explicitly written as a string (quoted or a block scalar).
    pub(crate) fn is_string(&self) -> bool {
        !self.plain
    }
}

/// How a YAML tag is shown in messages: `!!binary`, `!custom`.
fn show_tag(tag: &Tag) -> String {
    if tag.handle == "tag:yaml.org,2002:" {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// The first event of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Head {
    Scalar(Scalar),
    /// A sequence started; its items and `SequenceEnd` follow.
    Seq,
    /// A mapping started; its keys, values and `MappingEnd` follow.
    Map,
    /// `*name`: a reference to an anchored node.
    Alias,
}

impl Head {
    /// What the user wrote, for "expected …, found …" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Head::Scalar(s) if s.is_null() => "nothing (an empty value)".into(),
            Head::Scalar(s) => format!("text `{}`", super::shorten(&s.text)),
            Head::Seq => "a list".into(),
            Head::Map => "a mapping".into(),
            Head::Alias => "an alias".into(),
        }
    }
}

/// What comes next in a document: a node, or the end of the enclosing collection.
pub(crate) enum Item {
    Node(Head, Pos),
    End(Pos),
}

pub(crate) struct Reader<'t> {
    parser: Parser<std::str::Chars<'t>>,
    text: &'t str,
    /// Number of lines as `str::lines` counts them (at least 1), and the character length of the
    /// last one: positions past the end are clamped to the end of the last line.
    line_count: u32,
    last_line_chars: u32,
    /// Byte offset of each line start, computed only when a position must be corrected.
    line_starts: OnceCell<Vec<usize>>,
    failed: bool,
    /// YAML tags met so far (`!!int`, `!custom`), with where: the caller reports them. The node
    /// itself is read as if it had no tag.
    tags: Vec<(Pos, String)>,
}

impl<'t> Reader<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        let line_count = text.lines().count().max(1);
        let last_line_chars = text.lines().last().map_or(0, |l| l.chars().count());
        Reader {
            parser: Parser::new_from_str(text),
            text,
            line_count: to_u32(line_count),
            last_line_chars: to_u32(last_line_chars),
            line_starts: OnceCell::new(),
            failed: false,
            tags: Vec::new(),
        }
    }

    /// The YAML tags met since the last call, with their positions.
    pub(crate) fn take_tags(&mut self) -> Vec<(Pos, String)> {
        std::mem::take(&mut self.tags)
    }

    /// Where the text ends, if the parser stopped before it: yaml-rust2 treats some characters
    /// (NUL) as the end of input, so a stream end short of the text is input silently left unread.
    fn unread_at(&self, index: usize) -> Option<Pos> {
        let total = self.text.chars().count();
        (index < total).then(|| {
            let before: String = self.text.chars().take(index).collect();
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            Pos {
                line: to_u32(line),
                column: to_u32(column),
            }
        })
    }

    /// The next raw event. After a syntax error every call returns that error again.
    pub(crate) fn next(&mut self) -> Result<(Event, Pos), SyntaxError> {
        if self.failed {
            return Err(SyntaxError {
                pos: self.end(),
                message: "the parser stopped at an earlier error".into(),
            });
        }
        match self.parser.next_token() {
            Ok((Event::StreamEnd, mark)) => {
                if let Some(pos) = self.unread_at(mark.index()) {
                    self.failed = true;
                    return Err(SyntaxError {
                        pos,
                        message: "the YAML reader stopped here before the end of the file".into(),
                    });
                }
                Ok((Event::StreamEnd, self.pos(mark.line(), mark.col())))
            }
            Ok((event, mark)) => Ok((event, self.pos(mark.line(), mark.col()))),
            Err(e) => {
                self.failed = true;
                let pos = self.pos(e.marker().line(), e.marker().col());
                Err(SyntaxError {
                    pos,
                    message: e.info().to_string(),
                })
            }
        }
    }

    /// Records a YAML tag (`!!str`, `!custom`) on a node, to be reported where it was written.
    fn note_tag(&mut self, event: &Event, pos: Pos) {
        if let Event::Scalar(.., Some(tag))
        | Event::SequenceStart(_, Some(tag))
        | Event::MappingStart(_, Some(tag)) = event
        {
            let at = self.tag_pos(pos);
            self.tags.push((at, show_tag(tag)));
        }
    }

    /// The next node of a collection, or the collection's end.
    pub(crate) fn item(&mut self) -> Result<Item, SyntaxError> {
        let (event, pos) = self.next()?;
        self.note_tag(&event, pos);
        match event {
            Event::Scalar(text, style, _anchor, _tag) => Ok(Item::Node(
                Head::Scalar(Scalar {
                    text,
                    plain: style == TScalarStyle::Plain,
                }),
                pos,
            )),
            Event::SequenceStart(..) => Ok(Item::Node(Head::Seq, pos)),
            Event::MappingStart(..) => Ok(Item::Node(Head::Map, pos)),
            Event::Alias(_) => Ok(Item::Node(Head::Alias, pos)),
            Event::SequenceEnd | Event::MappingEnd => Ok(Item::End(pos)),
            other => Err(self.unexpected(other, pos)),
        }
    }

    /// The next node, where the grammar guarantees one (a mapping value, a document root).
    pub(crate) fn node(&mut self) -> Result<(Head, Pos), SyntaxError> {
        match self.item()? {
            Item::Node(head, pos) => Ok((head, pos)),
            Item::End(pos) => Err(SyntaxError {
                pos,
                message: "a value is missing here".into(),
            }),
        }
    }

    /// Consumes the rest of a node whose head was read (iteratively: nesting depth is unbounded).
    pub(crate) fn skip(&mut self, head: &Head) -> Result<(), SyntaxError> {
        if !matches!(head, Head::Seq | Head::Map) {
            return Ok(());
        }
        let mut depth = 1usize;
        while depth > 0 {
            let (event, pos) = self.next()?;
            self.note_tag(&event, pos);
            match event {
                Event::SequenceStart(..) | Event::MappingStart(..) => depth += 1,
                Event::SequenceEnd | Event::MappingEnd => depth -= 1,
                Event::Scalar(..) | Event::Alias(_) => {}
                other => {
                    let pos = self.end();
                    return Err(self.unexpected(other, pos));
                }
            }
        }
        Ok(())
    }

    fn unexpected(&mut self, event: Event, pos: Pos) -> SyntaxError {
        self.failed = true;
        SyntaxError {
            pos,
            message: format!("unexpected YAML event {event:?}"),
        }
    }

    fn end(&self) -> Pos {
        Pos {
            line: self.line_count,
            column: self.last_line_chars + 1,
        }
    }

    /// Converts a parser marker (line from 1, column from 0) to a position inside the text.
    fn pos(&self, line: usize, col: usize) -> Pos {
        let line = to_u32(line.max(1));
        if line > self.line_count {
            return self.end();
        }
        Pos {
            line,
            column: to_u32(col).saturating_add(1),
        }
    }

    /// The parser places a tagged node at its value; the tag itself (`!` …) is usually earlier on
    /// the same line. Finds that `!`, or keeps the node's position.
    fn tag_pos(&self, node: Pos) -> Pos {
        let line = self.line_text(node.line);
        let before: String = line.chars().take(node.column as usize - 1).collect();
        let before = before.trim_end();
        // The tag is the last token before the value: after a space, `[`, `{`, `,` or `-`.
        let start = before
            .char_indices()
            .rev()
            .find(|&(_, c)| c.is_whitespace() || matches!(c, '[' | '{' | ','))
            .map_or(0, |(i, c)| i + c.len_utf8());
        if before[start..].starts_with('!') {
            Pos {
                line: node.line,
                column: to_u32(before[..start].chars().count() + 1),
            }
        } else {
            node
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// The text of line `line` (from 1), empty if there is no such line.
    fn line_text(&self, line: u32) -> &str {
        let starts = self.line_starts();
        let i = line as usize;
        match starts.get(i.wrapping_sub(1)) {
            Some(&start) => {
                let end = starts.get(i).map_or(self.text.len(), |&e| e);
                self.text.get(start..end).unwrap_or("")
            }
            None => "",
        }
    }

    /// The parser places an empty sequence item (a lone `-`) at the token after it, often on a
    /// later line. Finds the `-` itself: the nearest earlier line ending in a lone dash.
    pub(crate) fn empty_item_pos(&self, reported: Pos) -> Pos {
        let starts = self.line_starts();
        let reported_line = reported.line as usize;
        for line in (reported_line.saturating_sub(100).max(1)..reported_line).rev() {
            let (Some(&start), end) = (
                starts.get(line - 1),
                starts.get(line).map_or(self.text.len(), |&e| e),
            ) else {
                break;
            };
            let Some(content) = self.text.get(start..end) else {
                break;
            };
            let content = strip_comment(content).trim_end();
            if let Some(before) = content.strip_suffix('-') {
                if before.is_empty() || before.ends_with([' ', '\t', '-']) {
                    return Pos {
                        line: to_u32(line),
                        column: to_u32(before.chars().count() + 1),
                    };
                }
            }
        }
        reported
    }
}

/// The part of a line before a `#` comment (a `#` at the start or after whitespace).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            return &line[..i];
        }
    }
    line
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads(text: &str) -> Vec<(String, Pos)> {
        let mut r = Reader::new(text);
        let mut out = Vec::new();
        loop {
            match r.next() {
                Ok((Event::StreamEnd, _)) => break,
                Ok((Event::Scalar(t, ..), p)) => out.push((t, p)),
                Ok(_) => {}
                Err(e) => {
                    out.push((format!("error: {}", e.message), e.pos));
                    break;
                }
            }
        }
        out
    }

    #[test]
    fn positions_count_lines_and_columns_from_one() {
        let got = heads("a: 1\nbb:\n  c: \"x\"\n");
        let p = |line, column| Pos { line, column };
        assert_eq!(got[0], ("a".into(), p(1, 1)));
        assert_eq!(got[1], ("1".into(), p(1, 4)));
        assert_eq!(got[3], ("c".into(), p(3, 3)));
        assert_eq!(got[4], ("x".into(), p(3, 6)));
    }

    #[test]
    fn positions_past_the_end_are_clamped_to_the_last_line() {
        // The null value of `b` is reported at the end of the stream, a line that does not exist.
        let got = heads("a: 1\nb:\n");
        assert_eq!(got[3], (String::new(), Pos { line: 2, column: 3 }));
    }

    #[test]
    fn syntax_error_has_a_position_and_sticks() {
        let mut r = Reader::new("a: 1\nb: \"open\n");
        let err = loop {
            match r.next() {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert!(err.message.contains("quoted scalar"), "{}", err.message);
        assert_eq!(err.pos.line, 2);
        assert!(r.next().is_err());
    }

    #[test]
    fn a_stream_that_ends_before_the_text_is_an_error_where_reading_stopped() {
        // yaml-rust2 takes NUL for the end of input; the loader refuses NUL before parsing, and
        // the reader checks on its own that the stream end is the end of the text.
        let got = heads("a: 1\nb: 2\0\nc: 3\n");
        let last = got.last().unwrap();
        assert!(
            last.0.starts_with("error: the YAML reader stopped"),
            "{got:?}"
        );
        assert_eq!(last.1, Pos { line: 2, column: 5 });
        assert!(!heads("a: 1\n\n# end\n")
            .iter()
            .any(|h| h.0.starts_with("error")));
    }

    #[test]
    fn empty_item_position_is_found_on_the_dash_line() {
        let text = "d:\n  - a\n  -   # nothing\n\n  - {}\n";
        let r = Reader::new(text);
        assert_eq!(
            r.empty_item_pos(Pos { line: 5, column: 5 }),
            Pos { line: 3, column: 3 }
        );
        // No lone dash above: the reported position is kept.
        assert_eq!(
            r.empty_item_pos(Pos { line: 2, column: 5 }),
            Pos { line: 2, column: 5 }
        );
    }

    #[test]
    fn null_scalars_are_recognised() {
        let s = |text: &str, plain| Scalar {
            text: text.into(),
            plain,
        };
        assert!(s("", true).is_null() && s("~", true).is_null() && s("null", true).is_null());
        assert!(!s("", false).is_null() && !s("nil", true).is_null());
        assert!(s("x", false).is_string() && !s("x", true).is_string());
    }
}
