//! The one way tests start an emulator: [`config`] (a seed on 127.0.0.1:0 with the test's AK/SK,
//! then whatever the test changes), then [`start`] inside an async test or
//! [`Emulator::start`] from a plain one (the emulator gets a runtime of its own).

use std::ops::Deref;

use desktag_core::secret::Secret;
use desktag_emulator::{Auth, EmulatorConfig, EmulatorHandle, Seed};

use super::{AK, SK};

/// `seed` on 127.0.0.1:0 with AK/SK auth ([`AK`], [`SK`]), then `configure`.
pub fn config(seed: Seed, configure: impl FnOnce(&mut EmulatorConfig)) -> EmulatorConfig {
    let mut config = EmulatorConfig {
        seed,
        listen: "127.0.0.1:0".parse().unwrap(),
        auth: Auth::AkSk {
            ak: AK.to_string(),
            sk: Secret::new(SK),
        },
        ..EmulatorConfig::default()
    };
    configure(&mut config);
    config
}

/// Starts an emulator inside an async test.
pub async fn start(config: EmulatorConfig) -> EmulatorHandle {
    desktag_emulator::spawn(config)
        .await
        .expect("the emulator starts")
}

/// An emulator on a runtime of its own, for tests that run the binary: it serves until dropped.
pub struct Emulator {
    handle: EmulatorHandle,
    runtime: tokio::runtime::Runtime,
}

impl Emulator {
    pub fn start(config: EmulatorConfig) -> Emulator {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handle = runtime.block_on(start(config));
        Emulator { handle, runtime }
    }

    /// The runtime and the handle, for the older `(runtime, handle)` helpers.
    pub fn into_parts(self) -> (tokio::runtime::Runtime, EmulatorHandle) {
        (self.runtime, self.handle)
    }
}

impl Deref for Emulator {
    type Target = EmulatorHandle;

    fn deref(&self) -> &EmulatorHandle {
        &self.handle
    }
}
