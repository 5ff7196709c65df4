//! The layering of `src/` (docs/ARCHITECTURE.md, "Layers"): imports point down, never up, and
//! the emulator is fenced off. Reads every `crate::…` path in the non-test code of `src/` (use
//! trees included; comments, string literals and `#[cfg(test)]` items are skipped) and checks
//! it against the table below.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where a top-level module sits: a numbered layer, or the fenced emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Layer(u8),
    Emulator,
}

/// The layer table. A module may import from any lower layer; from its own layer only where
/// [`SAME_LAYER`] lists the edge; from a higher layer never.
fn place(module: &str) -> Option<Place> {
    Some(Place::Layer(match module {
        // Leaves: shared rules and small, single-purpose utilities.
        "tags" | "token_bucket" | "atomic_file" | "secret" | "diagnostic" | "inventory"
        | "glob" | "yaml" | "error_chain" | "template" | "suggest" => 0,
        // Transport: the API client, signing, retry and rate decisions.
        "api" => 1,
        // Core: desired state and the pure planner.
        "manifest" | "plan" => 2,
        // Orchestration: executing a plan and the report it produces.
        "apply" | "report" => 3,
        // Shell: arguments, configuration, commands, output, logging, errors, entry points.
        "render" | "commands" | "cli" | "config" | "logging" | "error" | "lib" | "main" => 4,
        "emulator" => return Some(Place::Emulator),
        _ => return None,
    }))
}

/// Imports between two modules of one layer, `(importer, imported)`. Each is a deliberate
/// direction; the reverse edge is not allowed, so a layer has no cycles. An entry no import
/// uses any more is reported too, so the list stays true.
const SAME_LAYER: &[(&str, &str)] = &[
    // Leaves: the desktop inventory and the diagnostic codes are built on the tag rules.
    ("inventory", "tags"),
    ("diagnostic", "tags"),
    // Templates suggest the reference a typo was meant to be.
    ("template", "suggest"),
    // Core: the planner resolves the validated manifest; the manifest knows nothing of plans.
    ("plan", "manifest"),
    // Orchestration: apply fills in the report's types; the report never calls apply.
    ("apply", "report"),
    // Shell: render is the bottom of the shell (formats, printer, every user-facing text); cli
    // names render's formats in its flags; config resolves cli into a Config and builds the
    // printer; error words its exit lines through render::messages; logging is set up from the
    // resolved config; commands run a Config.
    ("config", "cli"),
    ("config", "render"),
    ("config", "error"),
    ("logging", "cli"),
    ("logging", "config"),
    ("cli", "render"),
    ("commands", "config"),
    ("commands", "render"),
    ("commands", "error"),
    ("error", "render"),
    // The binary's adapter runs the whole shell: parse, resolve, log, run, print the error.
    ("main", "cli"),
    ("main", "config"),
    ("main", "logging"),
    ("main", "commands"),
    ("main", "render"),
    ("main", "error"),
];

/// Single imports allowed against the table, `(file, path prefix)`, each with its reason. An
/// entry no import uses any more is reported, so the list only shrinks.
const EXCEPTIONS: &[(&str, &str)] = &[
    // `completions` and `man` are generated from the clap definitions themselves: the command
    // needs `Cli`, not a resolved value.
    ("src/commands/reference.rs", "cli::Cli"),
];

/// What the emulator may use besides itself: the shared tag rules, pure leaves, the crate's
/// YAML helper, and the request signer it verifies signatures with.
const EMULATOR_MAY_USE: &[&str] = &[
    "tags",
    "token_bucket",
    "atomic_file",
    "secret",
    "yaml",
    "api::sign",
];

/// The only modules that may name the emulator: `commands` starts it (`desktag emulator`, and
/// `--emulator` for plan and apply), `cli` embeds its clap flags (`EmulatorArgs`) and `config`
/// carries them to the command. (`lib` declares the module without a `crate::` path.)
const MAY_USE_EMULATOR: &[&str] = &["commands", "cli", "config"];

/// One `crate::` path found in a source file.
#[derive(Debug)]
struct Import {
    file: String,
    module: String,
    target: String,
}

#[test]
fn imports_point_down_and_the_emulator_is_fenced() {
    let imports = sources();
    assert!(
        imports.len() > 100,
        "the walker found only {} imports; is it reading src/?",
        imports.len()
    );
    let wrong = check(&imports);
    assert!(
        wrong.is_empty(),
        "imports that break the layering (docs/ARCHITECTURE.md, \"Layers\"):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_listed_same_layer_edge_is_still_used() {
    let used: BTreeSet<(String, String)> = sources()
        .into_iter()
        .map(|i| {
            let to = i.target.split("::").next().unwrap_or_default().to_string();
            (i.module, to)
        })
        .collect();
    let unused: Vec<_> = SAME_LAYER
        .iter()
        .filter(|(from, to)| !used.contains(&(from.to_string(), to.to_string())))
        .collect();
    assert!(
        unused.is_empty(),
        "SAME_LAYER lists edges no import uses any more; remove them: {unused:?}"
    );
}

#[test]
fn every_exception_is_still_used() {
    let used: BTreeSet<_> = sources()
        .iter()
        .filter_map(|i| exception(&i.file, &i.target))
        .collect();
    let unused: Vec<_> = EXCEPTIONS.iter().filter(|e| !used.contains(*e)).collect();
    assert!(
        unused.is_empty(),
        "EXCEPTIONS lists imports that no longer exist; remove them: {unused:?}"
    );
}

#[test]
fn same_layer_edges_stay_in_their_layer_and_form_no_cycle() {
    for (from, to) in SAME_LAYER {
        assert!(
            matches!((place(from), place(to)), (Some(Place::Layer(a)), Some(Place::Layer(b))) if a == b),
            "SAME_LAYER lists ({from}, {to}), which are not in one layer"
        );
    }
    // Repeatedly remove modules that import no remaining module; what is left is a cycle.
    let mut left: BTreeSet<&str> = SAME_LAYER.iter().flat_map(|(a, b)| [*a, *b]).collect();
    loop {
        let sinks: Vec<&str> = left
            .iter()
            .copied()
            .filter(|m| !SAME_LAYER.iter().any(|(a, b)| a == m && left.contains(b)))
            .collect();
        if sinks.is_empty() {
            break;
        }
        for m in sinks {
            left.remove(m);
        }
    }
    assert!(left.is_empty(), "SAME_LAYER has a cycle among {left:?}");
}

#[test]
fn an_exception_allows_one_import_in_one_file_only() {
    let code = "use crate::cli::Cli;\nuse crate::cli::LogFormat;\n";
    let wrong = check(&parse("commands/reference.rs", code));
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(wrong[0].contains("crate::cli::LogFormat"), "{wrong:?}");
    let wrong = check(&parse("commands/plan.rs", code));
    assert_eq!(wrong.len(), 2, "{wrong:?}");
}

#[test]
fn checker_catches_an_upward_import() {
    let code = "use crate::tags::Tags;\nuse crate::render::text;\n";
    let wrong = check(&parse("plan/planner.rs", code));
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(wrong[0].contains("`plan` (layer 2) uses crate::render::text (layer 4)"));
}

#[test]
fn checker_reads_nested_use_trees_and_plain_paths() {
    let code = "use crate::{tags::{self, Tags}, api::{sign::Signable as S, Client}};\n\
                fn f() -> crate::manifest::Manifest { todo!() }\n\
                pub(crate) fn g() {}\n";
    let targets: Vec<_> = parse("x.rs", code).into_iter().map(|i| i.target).collect();
    assert_eq!(
        targets,
        [
            "tags",
            "tags::Tags",
            "api::sign::Signable",
            "api::Client",
            "manifest::Manifest"
        ]
    );
}

#[test]
fn checker_skips_comments_strings_and_test_code() {
    let code = "//! see crate::render\n\
                /* crate::commands */\n\
                const S: &str = \"crate::cli::Cli {\";\n\
                const C: char = '{';\n\
                fn f<'a>(x: &'a str) -> &'a str { x }\n\
                #[cfg(test)]\nfn helper() { crate::render::x() }\n\
                #[cfg(test)]\nmod tests {\n    use crate::commands::run;\n    fn t() { if true { } }\n}\n\
                use crate::render::Late;\n";
    let targets: Vec<_> = parse("x.rs", code).into_iter().map(|i| i.target).collect();
    assert_eq!(targets, ["render::Late"]);
}

#[test]
fn checker_fences_the_emulator_both_ways() {
    let inside = parse(
        "emulator/seed.rs",
        "use crate::api::sign::Signable;\nuse crate::manifest::from_yaml_str;\nuse crate::api::Client;\n",
    );
    let wrong = check(&inside);
    assert_eq!(wrong.len(), 2, "{wrong:?}");
    assert!(wrong[0].contains("the emulator uses crate::api::Client"));
    assert!(wrong[1].contains("the emulator uses crate::manifest::from_yaml_str"));

    let outside = parse("render/text.rs", "use crate::emulator::EmulatorArgs;\n");
    let wrong = check(&outside);
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(wrong[0].contains("`render` uses the emulator"));
}

#[test]
fn checker_wants_same_layer_imports_listed_and_modules_placed() {
    let imports = parse(
        "manifest/model.rs",
        "use crate::plan::Plan;\nuse crate::newthing::X;\n",
    );
    let wrong = check(&imports);
    assert!(wrong.iter().any(|w| w.contains("same layer")), "{wrong:?}");
    assert!(
        wrong.iter().any(|w| w.contains("`newthing` has no place")),
        "{wrong:?}"
    );
}

/// The violations in `imports`, one line each, sorted.
fn check(imports: &[Import]) -> Vec<String> {
    let mut wrong = BTreeSet::new();
    for Import {
        file,
        module,
        target,
    } in imports
    {
        let to = target.split("::").next().unwrap_or_default();
        if to == module || exception(file, target).is_some() {
            continue;
        }
        let (Some(from_place), Some(to_place)) = (place(module), place(to)) else {
            let unplaced = if place(module).is_none() { module } else { to };
            wrong.insert(format!(
                "{file}: `{unplaced}` has no place in the layer table; add it"
            ));
            continue;
        };
        match (from_place, to_place) {
            (Place::Emulator, _) => {
                let allowed = EMULATOR_MAY_USE
                    .iter()
                    .any(|ok| target == ok || target.starts_with(&format!("{ok}::")));
                if !allowed {
                    wrong.insert(format!("{file}: the emulator uses crate::{target}"));
                }
            }
            (_, Place::Emulator) => {
                if !MAY_USE_EMULATOR.contains(&module.as_str()) {
                    wrong.insert(format!(
                        "{file}: `{module}` uses the emulator (crate::{target})"
                    ));
                }
            }
            (Place::Layer(from), Place::Layer(to_layer)) => {
                if to_layer > from {
                    wrong.insert(format!(
                        "{file}: `{module}` (layer {from}) uses crate::{target} (layer {to_layer})"
                    ));
                } else if to_layer == from && !SAME_LAYER.contains(&(module.as_str(), to)) {
                    wrong.insert(format!(
                        "{file}: `{module}` uses crate::{target} in the same layer ({from}); \
                         list the edge in SAME_LAYER or move the item down"
                    ));
                }
            }
        }
    }
    wrong.into_iter().collect()
}

/// The [`EXCEPTIONS`] entry that allows `target` in `file`, if any.
fn exception(file: &str, target: &str) -> Option<(&'static str, &'static str)> {
    EXCEPTIONS.iter().copied().find(|(f, prefix)| {
        *f == file && (target == *prefix || target.starts_with(&format!("{prefix}::")))
    })
}

/// Every import in the non-test code of `src/`.
fn sources() -> Vec<Import> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.expect("src/ is readable");
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            let rel = path.strip_prefix(&src).unwrap().to_path_buf();
            let text = std::fs::read_to_string(path).expect("a source file is UTF-8");
            files.insert(rel, text);
        }
    }
    // Files declared as `#[cfg(test)] mod x;` are test code as a whole.
    let mut test_only = BTreeSet::new();
    for (rel, text) in &files {
        let (_, test_modules) = strip_test_items(&code_only(text));
        let dir = module_dir(rel);
        for name in test_modules {
            test_only.insert(dir.join(format!("{name}.rs")));
            test_only.insert(dir.join(&name));
        }
    }
    let mut imports = Vec::new();
    for (rel, text) in &files {
        if rel.ancestors().any(|a| test_only.contains(a)) {
            continue;
        }
        let mut found = parse(&rel.to_string_lossy(), text);
        if rel == Path::new("main.rs") {
            // The binary reaches the library as `desktag::`.
            let code = strip_test_items(&code_only(text)).0;
            found.extend(
                paths_after(&code, "desktag::")
                    .into_iter()
                    .map(|target| Import {
                        file: format!("src/{}", rel.display()),
                        module: "main".to_string(),
                        target,
                    }),
            );
        }
        imports.extend(found);
    }
    imports
}

/// The imports of one source file, `rel` being its path under `src/`.
fn parse(rel: &str, text: &str) -> Vec<Import> {
    let module = top_module(Path::new(rel));
    let (code, _) = strip_test_items(&code_only(text));
    paths_after(&code, "crate::")
        .into_iter()
        .map(|target| Import {
            file: format!("src/{rel}"),
            module: module.clone(),
            target,
        })
        .collect()
}

/// `api` for `api/client.rs`, `tags` for `tags.rs` and `tags/map.rs`.
fn top_module(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The directory where the submodules of the module in `rel` live.
fn module_dir(rel: &Path) -> PathBuf {
    let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
    match rel.file_stem().and_then(|s| s.to_str()) {
        Some("mod" | "lib" | "main") => parent,
        Some(stem) => parent.join(stem),
        None => parent,
    }
}

/// `text` with comments, string and char literals blanked out (newlines kept), so that only
/// code is searched and braces inside literals do not confuse the item skipper.
fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        match c[i] {
            '/' if next == Some('/') => {
                while i < c.len() && c[i] != '\n' {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        blank(&mut out, c[i]);
                        i += 1;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        blank(&mut out, c[i]);
                        i += 1;
                        if depth == 0 {
                            blank(&mut out, c[i]);
                            i += 1;
                            break;
                        }
                    }
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            '"' => {
                blank(&mut out, c[i]);
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        blank(&mut out, c[i]);
                        i += 1;
                    }
                    if i < c.len() {
                        blank(&mut out, c[i]);
                        i += 1;
                    }
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            'r' if matches!(next, Some('"' | '#'))
                && (i == 0
                    || !ident(c[i - 1])
                    || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2])))) =>
            {
                // A raw string `r#"…"#`, unless `r#` starts a raw identifier.
                let hashes = c[i + 1..].iter().take_while(|&&ch| ch == '#').count();
                if c.get(i + 1 + hashes) != Some(&'"') {
                    out.push(c[i]);
                    i += 1;
                    continue;
                }
                let body = i + 2 + hashes;
                let mut end = body;
                while end < c.len()
                    && !(c[end] == '"'
                        && c[end + 1..].iter().take_while(|&&ch| ch == '#').count() >= hashes)
                {
                    end += 1;
                }
                let end = (end + 1 + hashes).min(c.len());
                for &ch in &c[i..end] {
                    blank(&mut out, ch);
                }
                i = end;
            }
            '\'' => {
                // A char literal (`'x'`, `'\n'`, `'\u{7b}'`) or a lifetime (`'a`).
                let end = if next == Some('\\') {
                    c[i + 3..]
                        .iter()
                        .position(|&ch| ch == '\'')
                        .map(|p| i + 3 + p)
                } else if c.get(i + 2) == Some(&'\'') {
                    Some(i + 2)
                } else {
                    None
                };
                match end {
                    Some(end) => {
                        for &ch in &c[i..=end] {
                            blank(&mut out, ch);
                        }
                        i = end + 1;
                    }
                    None => {
                        out.push(c[i]);
                        i += 1;
                    }
                }
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

/// `code` with every `#[cfg(test)]` item blanked out, and the names of the `#[cfg(test)] mod x;`
/// declarations (whole files of test code).
fn strip_test_items(code: &str) -> (String, Vec<String>) {
    const ATTR: &str = "#[cfg(test)]";
    let mut c: Vec<char> = code.chars().collect();
    let mut test_modules = Vec::new();
    let mut from = 0;
    loop {
        let text: String = c[from..].iter().collect();
        let Some(at) = text.find(ATTR) else { break };
        let start = from + text[..at].chars().count();
        let mut i = start + ATTR.chars().count();
        // The item: up to its first `;` outside braces, or through its balanced `{…}`.
        let mut depth = 0usize;
        let mut item = String::new();
        while i < c.len() {
            match c[i] {
                ';' if depth == 0 => {
                    i += 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                ch if depth == 0 => item.push(ch),
                _ => {}
            }
            i += 1;
        }
        let words: Vec<&str> = item.split_whitespace().collect();
        if let [.., "mod", name] = words.as_slice() {
            if item.trim_end().ends_with(name) && c.get(i - 1) == Some(&';') {
                test_modules.push(name.to_string());
            }
        }
        for ch in &mut c[start..i] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
        from = i;
    }
    (c.into_iter().collect(), test_modules)
}

/// Every path that follows `root` in `code` (`crate::` or `desktag::`), with use trees
/// expanded: `crate::{a::{self, B}, c}` gives `a`, `a::B`, `c`.
fn paths_after(code: &str, root: &str) -> Vec<String> {
    let c: Vec<char> = code.chars().collect();
    let r: Vec<char> = root.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + r.len() <= c.len() {
        let preceded_by_ident = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
        if c[i..i + r.len()] == r[..] && !preceded_by_ident {
            let mut j = i + r.len();
            use_tree(&c, &mut j, "", &mut out);
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Reads one use tree at `c[*i..]` below `prefix`, pushing every full path it names.
fn use_tree(c: &[char], i: &mut usize, prefix: &str, out: &mut Vec<String>) {
    let skip_space = |i: &mut usize| {
        while *i < c.len() && c[*i].is_whitespace() {
            *i += 1;
        }
    };
    skip_space(i);
    if c.get(*i) == Some(&'{') {
        *i += 1;
        loop {
            skip_space(i);
            if *i >= c.len() {
                return;
            }
            if c[*i] == '}' {
                *i += 1;
                return;
            }
            use_tree(c, i, prefix, out);
            // Past an `as` rename to the next item or the end of the group.
            while *i < c.len() && c[*i] != ',' && c[*i] != '}' {
                *i += 1;
            }
            if c.get(*i) == Some(&',') {
                *i += 1;
            }
        }
    }
    let start = *i;
    while *i < c.len() && (c[*i].is_alphanumeric() || c[*i] == '_') {
        *i += 1;
    }
    let segment: String = c[start..*i].iter().collect();
    if segment.is_empty() || segment == "self" {
        // `crate::a::*` or `crate::a::{self}`: the module itself.
        if !prefix.is_empty() {
            out.push(prefix.to_string());
        }
        return;
    }
    let path = if prefix.is_empty() {
        segment
    } else {
        format!("{prefix}::{segment}")
    };
    if c.get(*i) == Some(&':') && c.get(*i + 1) == Some(&':') {
        *i += 2;
        use_tree(c, i, &path, out);
    } else {
        out.push(path);
    }
}
