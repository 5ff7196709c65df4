//! The one integration-test binary: the real executable and the real client against the
//! in-process emulator on 127.0.0.1. Each area has its own module.

mod api;
mod apply_output;
mod cli;
mod e2e;
mod emulator;
mod exit_codes;
mod manifest;
mod support;
