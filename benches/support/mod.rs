//! What the bench binaries that drive the real binary share: an emulator process on loopback,
//! stopped when dropped. Included by each (`#[path = "support/mod.rs"] mod support;`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A `desktag emulator` process on 127.0.0.1, with its seed and token file.
pub struct Emulator {
    child: Child,
    pub base_url: String,
}

impl Emulator {
    /// Starts `bin emulator` with `extra` flags; with `log`, it logs every request there as
    /// JSON lines, else it is quiet.
    pub fn start(
        bin: impl AsRef<std::ffi::OsStr>,
        seed: &Path,
        token: &Path,
        extra: &[&str],
        log: Option<&Path>,
    ) -> Emulator {
        let mut command = Command::new(bin);
        match log {
            Some(path) => {
                command
                    .args(["--log-format", "json"])
                    .stderr(std::fs::File::create(path).expect("the emulator's log"));
            }
            None => {
                command.arg("-qq").stderr(Stdio::null());
            }
        }
        let mut child = command
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(extra)
            .arg("--seed")
            .arg(seed)
            .arg("--token-file")
            .arg(token)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the emulator");
        let mut base_url = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut base_url)
            .expect("the emulator prints its base URL");
        Emulator {
            child,
            base_url: base_url.trim().to_string(),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
