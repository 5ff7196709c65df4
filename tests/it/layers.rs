//! The layering checks Cargo cannot make (docs/ARCHITECTURE.md, "Crates and layers").
//!
//! Cargo already keeps the crates in order: `desktag-core` cannot name `desktag-api`, the API
//! client cannot name the emulator, no library can name the binary, and crates form no cycle.
//! What is left to check here:
//! - `desktag-core` has no async runtime or HTTP stack anywhere in its dependency tree;
//! - the emulator is fenced: it uses only the signer and the token bucket of the API crate and
//!   a few leaves of the core, and only `cli`, `config` and `commands` name it;
//! - `serde_yaml` is used only by the core's YAML helper and the manifest reader;
//! - inside a crate, modules import down their layer table, never up.
//!
//! Sources are read line by line: `//` comments are skipped, and so is everything from a file's
//! `#[cfg(test)] mod` on (test modules sit at the end of a file) and `tests.rs`/`proptests.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Crates the pure core must not depend on, directly or through another crate.
const NOT_IN_CORE: &[&str] = &["tokio", "reqwest", "axum", "hyper", "hyper-util", "mio"];

/// What the emulator may use from the other library crates.
const EMULATOR_MAY_USE: &[&str] = &[
    "desktag_api::sign",
    "desktag_api::token_bucket",
    "desktag_core::tags",
    "desktag_core::secret",
    "desktag_core::atomic_file",
    "desktag_core::yaml",
];

/// The only places of the binary that may name the emulator: `commands` starts it (`desktag
/// emulator`, and `--emulator` for plan and apply), `cli` embeds its clap flags
/// (`EmulatorArgs`) and `config` carries them to the command.
const MAY_USE_EMULATOR: &[&str] = &["src/commands/", "src/cli.rs", "src/config.rs"];

/// The only files that may name `serde_yaml`.
const MAY_USE_SERDE_YAML: &[&str] = &[
    "crates/desktag-core/src/yaml.rs",
    "crates/desktag-core/src/manifest/",
];

/// The layer of each top-level module of the core: a module may import from a lower layer, from
/// its own layer only along a [`CORE_SAME_LAYER`] edge.
const CORE_LAYERS: &[(&str, u8)] = &[
    ("tags", 0),
    ("glob", 0),
    ("yaml", 0),
    ("error_chain", 0),
    ("secret", 0),
    ("atomic_file", 0),
    ("suggest", 0),
    ("template", 0),
    ("diagnostic", 0),
    ("inventory", 0),
    // Desired state; knows nothing of plans.
    ("manifest", 1),
    // The pure planner.
    ("plan", 2),
];

const CORE_SAME_LAYER: &[(&str, &str)] = &[
    // The desktop inventory and the diagnostic codes are built on the tag rules.
    ("inventory", "tags"),
    ("diagnostic", "tags"),
    // Templates suggest the reference a typo was meant to be.
    ("template", "suggest"),
];

/// The layers of the binary crate's modules (`lib` is its root, which holds `desktag::main`).
const BINARY_LAYERS: &[(&str, u8)] = &[
    // Orchestration: executing a plan and the report it produces.
    ("report", 0),
    ("apply", 0),
    // Shell: arguments, configuration, commands, output, logging, errors, the entry point.
    ("render", 1),
    ("cli", 1),
    ("config", 1),
    ("repo_config", 1),
    ("error", 1),
    ("logging", 1),
    ("commands", 1),
    ("lib", 1),
];

const BINARY_SAME_LAYER: &[(&str, &str)] = &[
    // Apply fills in the report's types; the report never calls apply.
    ("apply", "report"),
    // render is the bottom of the shell (formats, printer, every user-facing text); cli names
    // render's formats in its flags; config resolves cli into a Config and builds the printer;
    // error words its exit lines through render::messages; logging is set up from the resolved
    // config; commands run a Config.
    ("config", "cli"),
    ("config", "render"),
    ("config", "error"),
    // The repository config (desktag.toml) is read for the commands that use it, from the
    // global --config / --no-config flags; config takes its defaults.
    ("config", "repo_config"),
    ("repo_config", "cli"),
    ("repo_config", "error"),
    ("logging", "cli"),
    ("logging", "config"),
    ("cli", "render"),
    ("commands", "config"),
    ("commands", "render"),
    ("commands", "error"),
    ("error", "render"),
    // `desktag::main` runs the whole shell: parse, resolve, log, run, print the error.
    ("lib", "cli"),
    ("lib", "config"),
    ("lib", "repo_config"),
    ("lib", "logging"),
    ("lib", "commands"),
];

/// Single imports allowed against the tables, `(file, module)`, each with its reason.
const EXCEPTIONS: &[(&str, &str)] = &[
    // `completions` and `man` are generated from the clap definitions themselves: the command
    // needs `Cli`, not a resolved value.
    ("src/commands/reference.rs", "cli"),
];

#[test]
fn the_core_has_no_async_runtime_or_http_stack_among_its_dependencies() {
    let tree = core_dependency_tree();
    assert!(
        tree.contains("serde") && tree.contains("globset"),
        "the dependency walk found too little: {tree:?}"
    );
    let found: Vec<_> = NOT_IN_CORE.iter().filter(|c| tree.contains(**c)).collect();
    assert!(found.is_empty(), "desktag-core depends on {found:?}");
}

#[test]
fn the_emulator_is_fenced_both_ways() {
    let mut wrong = Vec::new();
    for (file, code) in sources(&root().join("crates/desktag-emulator/src")) {
        for path in paths(&code, "desktag_api")
            .into_iter()
            .chain(paths(&code, "desktag_core"))
        {
            if !EMULATOR_MAY_USE.iter().any(|m| starts_module(&path, m)) {
                wrong.push(format!("{file}: the emulator uses {path}"));
            }
        }
    }
    for (file, code) in sources(&root().join("src")) {
        if !paths(&code, "desktag_emulator").is_empty()
            && !MAY_USE_EMULATOR.iter().any(|p| file.starts_with(p))
        {
            wrong.push(format!("{file}: names the emulator"));
        }
    }
    assert!(
        wrong.is_empty(),
        "the emulator fence is broken:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn serde_yaml_is_used_only_by_the_yaml_helper_and_the_manifest_reader() {
    let mut users = Vec::new();
    for dir in ["src", "crates"] {
        for (file, code) in sources(&root().join(dir)) {
            if code.contains("serde_yaml")
                && !MAY_USE_SERDE_YAML.iter().any(|p| file.starts_with(p))
            {
                users.push(file);
            }
        }
    }
    assert!(
        users.is_empty(),
        "serde_yaml named outside its place: {users:?}"
    );
    for manifest in [
        "Cargo.toml",
        "crates/desktag-api/Cargo.toml",
        "crates/desktag-emulator/Cargo.toml",
    ] {
        let deps = dependencies(&root().join(manifest));
        assert!(
            !deps.contains("serde_yaml"),
            "{manifest} depends on serde_yaml"
        );
    }
}

#[test]
fn modules_import_down_their_crate_s_layers() {
    let mut wrong = layering(
        &sources(&root().join("crates/desktag-core/src")),
        "crate",
        CORE_LAYERS,
        CORE_SAME_LAYER,
    );
    let mut binary = sources(&root().join("src"));
    // The binary target only calls `desktag::main`.
    binary.retain(|(f, _)| f != "src/main.rs");
    wrong.extend(layering(&binary, "crate", BINARY_LAYERS, BINARY_SAME_LAYER));
    assert!(
        wrong.is_empty(),
        "imports that break the layering (docs/ARCHITECTURE.md):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_same_layer_edge_and_exception_is_still_used() {
    let mut used = BTreeSet::new();
    for (dir, root_name) in [("crates/desktag-core/src", "crate"), ("src", "crate")] {
        for (file, code) in sources(&root().join(dir)) {
            let from = module_of(&file);
            for path in paths(&code, root_name) {
                let to = path.split("::").nth(1).unwrap_or_default().to_string();
                used.insert((from.clone(), to.clone()));
                used.insert((file.clone(), to));
            }
        }
    }
    let unused: Vec<_> = CORE_SAME_LAYER
        .iter()
        .chain(BINARY_SAME_LAYER)
        .chain(EXCEPTIONS)
        .filter(|(a, b)| !used.contains(&(a.to_string(), b.to_string())))
        .collect();
    assert!(
        unused.is_empty(),
        "listed edges no import uses any more; remove them: {unused:?}"
    );
}

#[test]
fn the_checker_catches_upward_imports_nested_trees_and_skips_comments_and_tests() {
    let code = "// crate::plan in a comment\n\
                use crate::{tags::{self, Tags}, manifest::Manifest};\n\
                fn f() -> crate::plan::Plan { todo!() }\n\
                #[cfg(test)]\nmod tests { use crate::plan::x; }\n";
    let code = code_only(code);
    assert_eq!(
        paths(&code, "crate"),
        [
            "crate::tags",
            "crate::manifest::Manifest",
            "crate::plan::Plan"
        ]
    );
    let wrong = layering(
        &[("crates/desktag-core/src/manifest/x.rs".into(), code)],
        "crate",
        CORE_LAYERS,
        CORE_SAME_LAYER,
    );
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(wrong[0].contains("`manifest` (layer 1) uses crate::plan::Plan (layer 2)"));
}

#[test]
fn the_checker_fences_the_emulator_by_path() {
    assert!(starts_module(
        "desktag_api::sign::Signable",
        "desktag_api::sign"
    ));
    assert!(!starts_module("desktag_api::signer", "desktag_api::sign"));
    assert_eq!(
        paths("use desktag_api::{sign::Signable, Client};", "desktag_api"),
        ["desktag_api::sign::Signable", "desktag_api::Client"]
    );
}

/// The violations of one crate's layer table, one line each.
fn layering(
    files: &[(String, String)],
    root_name: &str,
    layers: &[(&str, u8)],
    same_layer: &[(&str, &str)],
) -> Vec<String> {
    let layer: BTreeMap<&str, u8> = layers.iter().copied().collect();
    let mut wrong = Vec::new();
    for (file, code) in files {
        let from = module_of(file);
        if from == "lib" && !layer.contains_key("lib") {
            // The crate root only declares the modules.
            continue;
        }
        let Some(&from_layer) = layer.get(from.as_str()) else {
            wrong.push(format!("{file}: `{from}` has no place in the layer table"));
            continue;
        };
        for path in paths(code, root_name) {
            let to = path.split("::").nth(1).unwrap_or_default();
            if to == from || EXCEPTIONS.contains(&(file.as_str(), to)) {
                continue;
            }
            match layer.get(to) {
                None => wrong.push(format!("{file}: `{to}` has no place in the layer table")),
                Some(&to_layer) if to_layer > from_layer => wrong.push(format!(
                    "{file}: `{from}` (layer {from_layer}) uses {path} (layer {to_layer})"
                )),
                Some(&to_layer)
                    if to_layer == from_layer && !same_layer.contains(&(from.as_str(), to)) =>
                {
                    wrong.push(format!(
                        "{file}: `{from}` uses {path} in the same layer; list the edge or move it"
                    ))
                }
                Some(_) => {}
            }
        }
    }
    wrong
}

/// Every path starting `root::` in `code`, with `use root::{a::{self, B}, c}` expanded to its
/// first two segments (`root::a`, `root::c`) or more where written.
fn paths(code: &str, root: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let needle = format!("{root}::");
    let mut at = 0;
    while let Some(found) = code[at..].find(&needle) {
        let start = at + found;
        at = start + needle.len();
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        if code[at..].starts_with('{') {
            // A use tree: the first path of each top-level item.
            let mut depth = 0;
            let mut item = String::new();
            for ch in code[at..].chars() {
                match ch {
                    '{' => depth += 1,
                    '}' | ',' if depth == 1 => {
                        let first = item.split(['{', ' ', ';']).next().unwrap_or_default();
                        let first = first.trim_end_matches("::");
                        if !first.is_empty() {
                            out.push(format!("{root}::{first}"));
                        }
                        item.clear();
                        if ch == '}' {
                            break;
                        }
                        continue;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth >= 1 && !(depth == 1 && ch == '{') && !ch.is_whitespace() {
                    item.push(ch);
                }
            }
        } else {
            let rest: String = code[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(format!("{root}::{}", rest.trim_end_matches(':')));
        }
    }
    out
}

/// Whether `path` is `module` or inside it.
fn starts_module(path: &str, module: &str) -> bool {
    path == module || path.starts_with(&format!("{module}::"))
}

/// The top-level module a source file belongs to: `src/plan/saved.rs` → `plan`.
fn module_of(file: &str) -> String {
    let rel = file
        .strip_prefix("crates/desktag-core/src/")
        .or_else(|| file.strip_prefix("src/"))
        .unwrap_or(file);
    let first = rel.split('/').next().unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// The non-test code of every `.rs` file under `dir`, keyed by its path from the repository root.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.expect("readable source tree");
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !name.ends_with(".rs") || name == "tests.rs" || name == "proptests.rs" {
            continue;
        }
        let rel = path.strip_prefix(root()).expect("under the root");
        let rel = rel.to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(path).expect("readable source");
        out.push((rel, code_only(&text)));
    }
    assert!(
        out.len() > 5,
        "found only {} files under {}",
        out.len(),
        dir.display()
    );
    out
}

/// `text` without `//` comments and without anything from the first `#[cfg(test)]` module on.
fn code_only(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let test_module = lines
            .peek()
            .is_some_and(|next| next.trim_start().starts_with("mod "));
        if line.trim_start().starts_with("#[cfg(test)]") && test_module {
            break;
        }
        let code = match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// The names of the packages `desktag-core` depends on, directly or not (its dev-dependencies
/// left out), from Cargo.lock and the crate's manifest: no cargo run, no network.
fn core_dependency_tree() -> BTreeSet<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let mut name = String::new();
        let mut deps = Vec::new();
        let mut in_deps = false;
        for line in package.lines() {
            let line = line.trim();
            if let Some(n) = line.strip_prefix("name = ") {
                name = n.trim_matches('"').to_string();
            } else if line.starts_with("dependencies = [") {
                in_deps = true;
            } else if in_deps && line.starts_with(']') {
                in_deps = false;
            } else if in_deps {
                let dep = line.trim_matches([',', '"']);
                deps.push(dep.split(' ').next().unwrap_or_default().to_string());
            }
        }
        graph.entry(name).or_default().extend(deps);
    }
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = dependencies(&root().join("crates/desktag-core/Cargo.toml"))
        .into_iter()
        .collect();
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            todo.extend(graph.get(&name).cloned().unwrap_or_default());
        }
    }
    seen
}

/// The package names under `[dependencies]` of a Cargo.toml (not dev- or build-dependencies).
fn dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).expect("Cargo.toml");
    let mut section = "";
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line;
        } else if section == "[dependencies]" {
            if let Some((name, _)) = line.split_once('=') {
                if !name.trim().is_empty() && !name.trim().starts_with('#') {
                    out.insert(name.trim().to_string());
                }
            }
        }
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
