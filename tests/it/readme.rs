//! The README renders as written: every fenced block is closed by a fence of its own (a fence
//! line with text after it does not close one, so the rest of the page would become code), every
//! heading is a heading, and every in-page link names a heading that exists. Checked with the
//! CommonMark fence rules the repository page follows.

use crate::support::repo;

/// A line that opens or closes a fence: up to three spaces, then three or more backticks or
/// tildes. Returns the fence character, its length and the text after it.
fn fence(line: &str) -> Option<(char, usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let ch = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = rest.chars().take_while(|c| *c == ch).count();
    (len >= 3).then(|| (ch, len, rest[len..].trim()))
}

/// Lines of the page with their 1-based number.
type Numbered = Vec<(usize, String)>;

/// The headings outside code blocks, and the in-page link targets (`](#…)`), with line numbers.
/// Fails on a fence that never closes.
fn outline(text: &str) -> (Numbered, Numbered) {
    let mut headings = Vec::new();
    let mut links = Vec::new();
    let mut open: Option<(char, usize, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        match (open, fence(line)) {
            (None, Some((ch, len, _))) => open = Some((ch, len, n)),
            // A closing fence is the same character, at least as long, and nothing after it.
            (Some((ch, len, _)), Some((c, l, after)))
                if c == ch && l >= len && after.is_empty() =>
            {
                open = None
            }
            (Some(_), _) => {}
            (None, None) => {
                if let Some(h) = line.strip_prefix('#') {
                    let title = h.trim_start_matches('#');
                    if title.starts_with(' ') {
                        headings.push((n, title.trim().to_string()));
                    }
                }
                let mut rest = line;
                while let Some(at) = rest.find("](#") {
                    let target = &rest[at + 3..];
                    let end = target.find(')').unwrap_or(target.len());
                    links.push((n, target[..end].to_string()));
                    rest = &target[end..];
                }
            }
        }
    }
    if let Some((_, _, at)) = open {
        panic!("the code block opened at line {at} is never closed: the rest of the page would be code");
    }
    (headings, links)
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped except `-` and `_`, spaces
/// to `-`.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn the_readme_keeps_every_heading_and_in_page_link() {
    let text = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let (headings, links) = outline(&text);
    let titles: Vec<&str> = headings.iter().map(|(_, t)| t.as_str()).collect();
    for wanted in [
        "Guardrails",
        "Saved plans",
        "Exit codes",
        "Credentials",
        "In CI and on a schedule",
        "Policy and `desktag check`",
    ] {
        assert!(
            titles.contains(&wanted),
            "heading `{wanted}` is lost: {titles:?}"
        );
    }
    let anchors: Vec<String> = headings.iter().map(|(_, t)| slug(t)).collect();
    assert!(!links.is_empty());
    for (line, link) in &links {
        assert!(
            anchors.contains(link),
            "README.md:{line}: the link to #{link} names no heading"
        );
    }
}

#[test]
fn a_fence_with_text_after_it_does_not_close_a_block() {
    let broken = "# A\n\n```\ncode\n``` text\n\n## B\n";
    let caught = std::panic::catch_unwind(|| outline(broken));
    assert!(caught.is_err(), "the unclosed block is caught");
    let (headings, _) = outline("# A\n\n```\ncode\n```\n\n## B [x](#a)\n");
    assert_eq!(
        headings,
        [(1, "A".to_string()), (7, "B [x](#a)".to_string())]
    );
    assert_eq!(
        slug("Policy and `desktag check`"),
        "policy-and-desktag-check"
    );
}

/// The samples marked `<!-- sample: ARGS -->` before their fence, with the block's lines.
fn samples(text: &str) -> Vec<(usize, String, Vec<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(args) = line
            .strip_prefix("<!-- sample: ")
            .and_then(|l| l.strip_suffix(" -->"))
        else {
            continue;
        };
        assert!(
            lines.get(i + 1).is_some_and(|l| l.starts_with("```")),
            "README.md:{}: a sample marker must sit right above its fence",
            i + 1
        );
        let body = lines[i + 2..]
            .iter()
            .take_while(|l| !l.starts_with("```"))
            .map(|l| l.to_string())
            .collect();
        found.push((i + 1, args.to_string(), body));
    }
    found
}

/// Whether `sample` is in `output`: each run of lines between `...` / `…` lines appears as it
/// is, in order; a `$ ` line (the command) is skipped.
fn sample_matches(sample: &[String], output: &str) -> Result<(), String> {
    let out: Vec<&str> = output.lines().collect();
    let mut from = 0;
    let runs = sample.split(|l| l == "..." || l == "…").map(|run| {
        run.iter()
            .filter(|l| !l.starts_with("$ "))
            .collect::<Vec<_>>()
    });
    for run in runs.filter(|r| !r.is_empty()) {
        let at = (from..=out.len().saturating_sub(run.len()))
            .find(|&i| {
                run.iter()
                    .enumerate()
                    .all(|(j, l)| out.get(i + j) == Some(&l.as_str()))
            })
            .ok_or_else(|| format!("not in the output (after line {from}): {run:#?}"))?;
        from = at + run.len();
    }
    Ok(())
}

#[test]
fn every_marked_readme_sample_is_what_the_command_prints() {
    let text = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let found = samples(&text);
    assert!(found.len() >= 3, "{found:?}");
    for (line, args, body) in found {
        let ran = crate::support::Desktag::new()
            .args(args.split_whitespace())
            .run();
        if let Err(why) = sample_matches(&body, &ran.stdout) {
            panic!(
                "README.md:{line}: the sample of `desktag {args}` is not what it prints: {why}\n--- output\n{}",
                ran.stdout
            );
        }
    }
}

#[test]
fn a_sample_matches_runs_in_order_and_nothing_else() {
    let sample = |s: &str| s.lines().map(String::from).collect::<Vec<_>>();
    assert!(sample_matches(&sample("$ x\na\nb\n...\nd"), "a\nb\nc\nd\n").is_ok());
    assert!(sample_matches(&sample("a\nc"), "a\nb\nc\n").is_err());
    assert!(sample_matches(&sample("d\n...\na"), "a\nb\nc\nd\n").is_err());
}

#[test]
fn the_version_is_the_changelogs_latest() {
    let changelog = std::fs::read_to_string(repo().join("CHANGELOG.md")).unwrap();
    let latest = changelog
        .lines()
        .find_map(|l| l.strip_prefix("## ["))
        .and_then(|l| l.split(']').next())
        .unwrap();
    assert_eq!(
        latest,
        env!("CARGO_PKG_VERSION"),
        "Cargo.toml and CHANGELOG.md disagree"
    );
}
