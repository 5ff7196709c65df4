//! Keeps the map true: docs/ARCHITECTURE.md names every source file (and no file that is gone),
//! and no function outside tests grows past `MAX_FUNCTION_LINES`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The longest a function outside tests may be, in lines (signature to closing brace).
const MAX_FUNCTION_LINES: usize = 100;

/// Functions over the limit still to be split, as `file function` (none left: every one that
/// came with the features merged beside the split is split). The test fails on any other long
/// function, and on an entry here that is no longer long, so this list only shrinks.
const TO_SPLIT: &[&str] = &[];

/// Where the source files live.
const SOURCE_DIRS: &[&str] = &["src", "crates", "tests/it", "benches"];

#[test]
fn every_source_file_is_named_in_the_architecture_map_and_every_named_file_exists() {
    let map = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let sections = sections(&map);
    assert!(sections.len() >= 5, "no `### `dir/`` sections found");
    let files = rust_files();
    assert!(files.len() > 80, "found only {} source files", files.len());
    let missing: Vec<&String> = files
        .iter()
        .filter(|file| {
            !sections.iter().any(|(dir, text)| {
                file.strip_prefix(dir.as_str())
                    .is_some_and(|rel| text.contains(&format!("`{rel}`")))
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/ARCHITECTURE.md does not name these files under their directory: {missing:?}"
    );
    let mut gone = Vec::new();
    for (dir, text) in &sections {
        for name in text.split('`').skip(1).step_by(2) {
            if name.ends_with(".rs") && !root().join(dir).join(name).is_file() {
                gone.push(format!("{dir}{name}"));
            }
        }
    }
    assert!(
        gone.is_empty(),
        "docs/ARCHITECTURE.md names files that do not exist: {gone:?}"
    );
}

#[test]
fn no_function_outside_tests_is_longer_than_the_limit() {
    let mut long = Vec::new();
    let mut still_long = Vec::new();
    for file in rust_files() {
        if file.starts_with("tests/") || file.starts_with("benches/") {
            continue;
        }
        let name = file.rsplit('/').next().unwrap_or_default();
        if name == "tests.rs" || name == "proptests.rs" || name == "samples.rs" {
            continue;
        }
        let text = std::fs::read_to_string(root().join(&file)).unwrap();
        for (line, function, length) in functions(&text) {
            let known = TO_SPLIT.contains(&format!("{file} {function}").as_str());
            if length > MAX_FUNCTION_LINES && !known {
                long.push(format!("{file}:{line} {function}: {length} lines"));
            }
            if length > MAX_FUNCTION_LINES && known {
                still_long.push(format!("{file} {function}"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines; split them: {long:?}"
    );
    let short: Vec<&&str> = TO_SPLIT
        .iter()
        .filter(|entry| !still_long.iter().any(|l| l == *entry))
        .collect();
    assert!(
        short.is_empty(),
        "these are no longer over {MAX_FUNCTION_LINES} lines; take them off TO_SPLIT: {short:?}"
    );
}

#[test]
fn the_function_measure_counts_from_signature_to_closing_brace_and_skips_test_modules() {
    let code = "fn a() {\n    let s = \"}\";\n    if x { y(); }\n}\n\
                pub(crate) async fn b(\n    x: u8,\n) -> u8 {\n    x\n}\n\
                #[cfg(test)]\nmod tests {\n    fn c() {}\n}\n";
    assert_eq!(
        functions(code),
        [(1, "a".to_string(), 4), (5, "b".to_string(), 5)]
    );
}

/// `### `dir/`` headings of the map and the text under each, up to the next heading.
fn sections(map: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in map.lines() {
        if line.starts_with('#') {
            let dir = line
                .strip_prefix("### `")
                .and_then(|rest| rest.split('`').next())
                .filter(|dir| dir.ends_with('/'));
            if let Some(dir) = dir {
                out.push((dir.to_string(), String::new()));
                continue;
            }
            // Another heading closes the section.
            out.push((String::new(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out.retain(|(dir, _)| !dir.is_empty());
    out
}

/// Every `.rs` file under the source directories, relative to the repository, sorted.
fn rust_files() -> Vec<String> {
    let mut out = Vec::new();
    for dir in SOURCE_DIRS {
        for entry in walkdir::WalkDir::new(root().join(dir)) {
            let entry = entry.unwrap();
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rs") && !in_target(path) {
                let rel = path.strip_prefix(root()).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

fn in_target(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "target")
}

/// The functions of `code` outside a `#[cfg(test)] mod`: (line, name, length in lines).
fn functions(code: &str) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod "))
        .unwrap_or(lines.len());
    let mut found = BTreeMap::new();
    let mut i = 0;
    while i < end {
        if let Some(name) = function_name(lines[i]) {
            let mut depth = 0i32;
            let mut opened = false;
            let mut j = i;
            while j < end {
                let code = code_of(lines[j]);
                for ch in code.chars() {
                    match ch {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if (opened && depth == 0) || (!opened && code.trim_end().ends_with(';')) {
                    break;
                }
                j += 1;
            }
            if opened {
                found.insert(i + 1, (name, j - i + 1));
            }
        }
        i += 1;
    }
    found
        .into_iter()
        .map(|(line, (name, length))| (line, name, length))
        .collect()
}

/// The name of the function `line` starts, if it starts one.
fn function_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(word) = words.next() {
        match word {
            "pub" | "async" | "const" | "unsafe" => {}
            w if w.starts_with("pub(") => {}
            "fn" => {
                let name: String = words
                    .next()?
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                return Some(name);
            }
            _ => return None,
        }
    }
    None
}

/// `line` without string and char literals and `//` comments, for counting braces.
fn code_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' => {
                // A char literal ('x', '\n', '{'); a lifetime has no closing quote nearby.
                let rest: String = chars.clone().take(3).collect();
                if let Some(escaped) = rest.strip_prefix('\\') {
                    if let Some(close) = escaped.find('\'') {
                        for _ in 0..close + 2 {
                            chars.next();
                        }
                    }
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.next();
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => out.push(ch),
        }
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
