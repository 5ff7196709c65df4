//! [`Test`]: one run of the real binary, declared with everything it needs and everything it
//! must do — arguments, environment, manifests, an emulator; stdout, stderr and the exit code —
//! and checked at once, so a failure shows every mismatch with the whole output (as just's own
//! `Test` does).

use desktag_emulator::{EmulatorConfig, Seed};

use super::emulator::{self, Emulator};
use super::{manifests, Desktag, Ran};

/// What one output stream must hold.
enum Expect {
    Exactly(String),
    Contains(Vec<String>),
}

impl Expect {
    fn check(&self, stream: &str, actual: &str, wrong: &mut Vec<String>) {
        match self {
            Expect::Exactly(expected) if expected != actual => {
                wrong.push(format!("{stream} differs; expected:\n{expected}"))
            }
            Expect::Contains(parts) => {
                for part in parts.iter().filter(|p| !actual.contains(p.as_str())) {
                    wrong.push(format!("{stream} lacks {part:?}"));
                }
            }
            Expect::Exactly(_) => {}
        }
    }
}

/// One declared run of the binary.
#[must_use = "a Test does nothing until .run()"]
pub struct Test {
    desktag: Desktag,
    emulator: Option<Emulator>,
    manifests: Option<tempfile::TempDir>,
    code: Option<i32>,
    stdout: Option<Expect>,
    stderr: Option<Expect>,
}

/// What a run printed and exited with, and the emulator it ran against, for further checks.
pub struct Outcome {
    pub ran: Ran,
    pub emulator: Option<Emulator>,
    /// Kept alive so paths in the output still exist.
    _manifests: Option<tempfile::TempDir>,
}

impl Test {
    pub fn new() -> Test {
        Test {
            desktag: Desktag::new(),
            emulator: None,
            manifests: None,
            code: None,
            stdout: None,
            stderr: None,
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.desktag = self.desktag.args(args);
        self
    }

    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Test {
        self.desktag = self.desktag.env(name, value);
        self
    }

    /// Runs against an emulator serving `seed` (AK/SK auth, the binary given the credentials).
    pub fn emulator(self, seed: Seed) -> Test {
        self.emulator_with(seed, |_| {})
    }

    /// As [`Test::emulator`], with the emulator's configuration changed by `configure`.
    pub fn emulator_with(
        mut self,
        seed: Seed,
        configure: impl FnOnce(&mut EmulatorConfig),
    ) -> Test {
        let emulator = Emulator::start(emulator::config(seed, configure));
        self.desktag = self.desktag.against(&emulator);
        self.emulator = Some(emulator);
        self
    }

    /// Writes `files` (relative path → text) to a temporary directory and passes its path as the
    /// next argument.
    pub fn manifests(mut self, files: &[(&str, &str)]) -> Test {
        let dir = manifests(files);
        self.desktag = self.desktag.arg_path(dir.path());
        self.manifests = Some(dir);
        self
    }

    /// The exit code the run must end with.
    pub fn code(mut self, code: i32) -> Test {
        self.code = Some(code);
        self
    }

    /// The whole of stdout.
    pub fn stdout(mut self, expected: &str) -> Test {
        self.stdout = Some(Expect::Exactly(expected.to_string()));
        self
    }

    /// A piece stdout must contain (repeatable).
    pub fn stdout_has(mut self, part: &str) -> Test {
        self.stdout = Some(contains(self.stdout.take(), part));
        self
    }

    /// The whole of stderr.
    pub fn stderr(mut self, expected: &str) -> Test {
        self.stderr = Some(Expect::Exactly(expected.to_string()));
        self
    }

    /// A piece stderr must contain (repeatable).
    pub fn stderr_has(mut self, part: &str) -> Test {
        self.stderr = Some(contains(self.stderr.take(), part));
        self
    }

    /// Runs the binary and checks every expectation; panics with all that is wrong at once.
    #[track_caller]
    pub fn run(self) -> Outcome {
        let ran = self.desktag.run();
        let mut wrong = Vec::new();
        if let Some(code) = self.code.filter(|c| *c != ran.code) {
            wrong.push(format!("exit code {}, expected {code}", ran.code));
        }
        if let Some(stdout) = &self.stdout {
            stdout.check("stdout", &ran.stdout, &mut wrong);
        }
        if let Some(stderr) = &self.stderr {
            stderr.check("stderr", &ran.stderr, &mut wrong);
        }
        assert!(
            wrong.is_empty(),
            "{}\n--- exit code {}\n--- stdout\n{}\n--- stderr\n{}",
            wrong.join("\n"),
            ran.code,
            ran.stdout,
            ran.stderr
        );
        Outcome {
            ran,
            emulator: self.emulator,
            _manifests: self.manifests,
        }
    }
}

fn contains(expect: Option<Expect>, part: &str) -> Expect {
    match expect {
        Some(Expect::Contains(mut parts)) => {
            parts.push(part.to_string());
            Expect::Contains(parts)
        }
        _ => Expect::Contains(vec![part.to_string()]),
    }
}

#[test]
fn a_failed_test_reports_every_mismatch_with_the_whole_output() {
    let failure = std::panic::catch_unwind(|| {
        Test::new()
            .args(["--version"])
            .code(3)
            .stdout("not the version")
            .stderr_has("never printed")
            .run();
    })
    .expect_err("the expectations do not hold");
    let message = failure
        .downcast_ref::<String>()
        .expect("a formatted message");
    for part in [
        "exit code 0, expected 3",
        "stdout differs; expected:\nnot the version",
        "stderr lacks \"never printed\"",
        "--- stdout\ndesktag ",
    ] {
        assert!(message.contains(part), "{part:?} missing from:\n{message}");
    }
}
