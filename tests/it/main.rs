//! The one integration-test binary: the real executable and the real client against the
//! in-process emulator on 127.0.0.1. Each area has its own module.

mod action;
mod api;
mod apply_output;
mod budget;
mod cli;
mod config_file;
mod credentials;
mod doctor;
mod emulator;
mod emulator_batch;
mod emulator_limits;
mod exit_codes;
mod faults;
mod guardrails;
mod hostile_server;
mod layers;
mod manifest;
mod map;
mod observe;
mod overrides;
mod plan_apply;
mod policy;
mod policy_warn;
mod projects;
mod prune;
mod quickstart;
mod quiet;
mod readme;
mod rename;
mod saved_plans;
mod schema;
mod support;
mod templates;
mod validate_input;
mod write_modes;
