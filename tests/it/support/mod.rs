//! The one test harness: [`Test`] declares a run of the real `desktag` binary (arguments,
//! environment, manifests, an in-process emulator on 127.0.0.1:0) and what it must print and
//! exit with, checked together; [`emulator`] is the one way to start an emulator; [`wire`] is
//! the one HTTP client for tests of the emulator's wire behaviour. The helpers below
//! (`Desktag`, `emulator_with`, …) are the older fluent API, kept as thin layers over these.

pub mod emulator;
pub mod server;
mod test;
pub mod wire;

pub use test::Test;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use desktag_emulator::{EmulatorConfig, EmulatorHandle, Seed};

pub const AK: &str = "TESTAK00000000000001";
pub const SK: &str = "test-secret-key-0123456789abcdefghijklmn";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One invocation of the binary.
pub struct Desktag {
    command: Command,
}

/// What a finished invocation did.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Desktag {
    pub fn new() -> Desktag {
        let mut command = Command::new(env!("CARGO_BIN_EXE_desktag"));
        command.current_dir(repo()).stdin(Stdio::null());
        for (name, _) in std::env::vars() {
            if name.starts_with("HW_")
                || name.starts_with("HUAWEICLOUD_")
                || name.starts_with("HUAWEI_CLOUD_")
                || name.starts_with("HC_CONTAINER_")
                || name.starts_with("ACTIONS_ID_TOKEN_")
                || name.starts_with("DESKTAG_")
                || name.starts_with("GITHUB_")
                || name.ends_with("_PROXY")
                || name.ends_with("_proxy")
                || name == "SSL_CERT_FILE"
            {
                command.env_remove(name);
            }
        }
        command.env("NO_COLOR", "1");
        // No profile file of the machine's user, and no ECS metadata probe off 127.0.0.1: the
        // tests that need them set these.
        command.env("HOME", "/nonexistent/desktag-test-home");
        command.env("DESKTAG_METADATA_ENDPOINT", "off");
        Desktag { command }
    }

    pub fn args<I, S>(mut self, args: I) -> Desktag
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Runs in `dir` instead of the repository root.
    pub fn current_dir(mut self, dir: &Path) -> Desktag {
        self.command.current_dir(dir);
        self
    }

    /// Adds a path argument.
    pub fn arg_path(mut self, path: &Path) -> Desktag {
        self.command.arg(path);
        self
    }

    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Desktag {
        self.command.env(name, value);
        self
    }

    /// Sends stdout and stderr where given instead of capturing them (a closed pipe, a file).
    pub fn output_to(mut self, stdout: Option<Stdio>, stderr: Option<Stdio>) -> Desktag {
        if let Some(stdout) = stdout {
            self.command.stdout(stdout);
        }
        if let Some(stderr) = stderr {
            self.command.stderr(stderr);
        }
        self
    }

    /// Points the binary at an emulator with the test's AK/SK.
    pub fn against(self, emulator: &EmulatorHandle) -> Desktag {
        self.env("DESKTAG_ENDPOINT", emulator.base_url())
            .env("HUAWEICLOUD_SDK_AK", AK)
            .env("HUAWEICLOUD_SDK_SK", SK)
    }

    pub fn run(mut self) -> Ran {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command.output().expect("the desktag binary runs");
        Ran {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Runs with stdout going to `file` (e.g. `/dev/full`); stdout of the result is empty.
    pub fn run_with_stdout(mut self, file: std::fs::File) -> Ran {
        let Output { status, stderr, .. } = self
            .command
            .stdout(Stdio::from(file))
            .stderr(Stdio::piped())
            .spawn()
            .expect("the desktag binary starts")
            .wait_with_output()
            .expect("the desktag binary runs");
        Ran {
            code: status.code().unwrap_or(-1),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    pub fn spawn(mut self) -> std::process::Child {
        self.command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the desktag binary starts")
    }
}

impl Ran {
    #[track_caller]
    pub fn code(self, expected: i32) -> Ran {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// An emulator with AK/SK auth on 127.0.0.1:0 serving `seed`, on a runtime of its own.
pub fn emulator_with(
    seed: Seed,
    configure: impl FnOnce(&mut EmulatorConfig),
) -> (tokio::runtime::Runtime, EmulatorHandle) {
    emulator::Emulator::start(emulator::config(seed, configure)).into_parts()
}

/// The demo inventory of `examples/emulator-seed.yaml`.
pub fn demo_emulator() -> (tokio::runtime::Runtime, EmulatorHandle) {
    emulator_with(Seed::demo(), |_| {})
}

pub fn seed_yaml(yaml: &str) -> Seed {
    Seed::from_yaml(yaml).expect("test seed parses")
}

/// Writes `files` (relative path → text) under a new temporary directory.
pub fn manifests(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The project of the small fixtures.
pub const PROJECT: &str = "0123456789abcdef0123456789abcdef";

/// Three desktops: A-1 (managed, unmanaged, ignored and system tags), A-2 (none), B-1 (8 tags).
pub fn small_seed() -> Seed {
    seed_yaml(&format!(
        r#"
project_id: {PROJECT}
desktops:
  - id: 11111111-0000-0000-0000-000000000001
    name: A-1
    tags: {{owner: it, legacy: x, ops-note: keep, _sys_origin: console}}
  - id: 11111111-0000-0000-0000-000000000002
    name: A-2
  - id: 11111111-0000-0000-0000-000000000003
    name: B-1
    tags: {{k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v}}
"#
    ))
}

/// Wants `env: prod` and `cost-center` on A-* and B-1.
pub const SMALL_MANIFEST: &str = r#"
version: 1
project_id: 0123456789abcdef0123456789abcdef
defaults:
  cost-center: CC-1
desktops:
  - name: "A-*"
    tags:
      env: prod
  - name: B-1
    tags:
      env: prod
"#;

/// The tags the emulator holds for desktop `id`.
pub fn tags_of(handle: &desktag_emulator::EmulatorHandle, id: &str) -> desktag_core::tags::Tags {
    handle
        .desktops()
        .into_iter()
        .find(|d| d.id == id)
        .expect("desktop exists")
        .tags
}

/// The tags the emulator holds for the desktop named `name`, sorted by key.
pub fn tags_by_name(
    handle: &desktag_emulator::EmulatorHandle,
    name: &str,
) -> Vec<(String, String)> {
    let desktop = handle
        .desktops()
        .into_iter()
        .find(|d| d.name == name)
        .expect("desktop exists");
    desktop
        .tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Interrupts `child` (SIGINT) at a known point of its apply and returns what it printed: once
/// `gate` holds a write request, the signal is sent; once the binary's stderr says it is stopping
/// (its readiness line), the held requests are let through. No sleep and no clock: the run is
/// interrupted with requests in flight on any machine. The returned stderr holds the lines read.
#[cfg(unix)]
pub fn interrupt_while_writing(
    child: std::process::Child,
    gate: &desktag_emulator::Gate,
) -> Output {
    interrupt(child, gate, false)
}

/// As [`interrupt_while_writing`], with a second SIGINT after the readiness line, before the
/// gate opens: the binary must exit at once.
#[cfg(unix)]
pub fn interrupt_twice_while_writing(
    child: std::process::Child,
    gate: &desktag_emulator::Gate,
) -> Output {
    interrupt(child, gate, true)
}

#[cfg(unix)]
fn interrupt(mut child: std::process::Child, gate: &desktag_emulator::Gate, twice: bool) -> Output {
    use std::io::{BufRead, BufReader, Read};
    gate.wait_until_holding(1);
    let sigint = |child: &std::process::Child| {
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    };
    sigint(&child);
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let read = stderr.read_line(&mut line).expect("readable stderr");
        assert!(
            read > 0,
            "the binary never said it was interrupted:\n{seen}"
        );
        seen.push_str(&line);
        if line.contains("interrupted: no new requests") {
            break;
        }
    }
    if twice {
        sigint(&child);
    } else {
        gate.open();
    }
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    let mut output = child.wait_with_output().expect("the binary finishes");
    seen.push_str(&rest.join().expect("stderr reader"));
    output.stderr = seen.into_bytes();
    output
}
