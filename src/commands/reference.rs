//! `desktag completions SHELL` and `desktag man`: generated from the clap definitions, so they
//! always list the flags the binary has.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Status};

use super::output;

/// The completion script for `shell` on stdout.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<Status, Error> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "desktag", &mut script);
    output::stdout(|out| out.write_all(&script))?;
    Ok(Status::Success)
}

/// The environment variables desktag reads, for the man page's ENVIRONMENT section.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK", "AK/SK credentials (also HW_ACCESS_KEY, HW_SECRET_KEY); HUAWEICLOUD_SDK_SECURITY_TOKEN or HW_SECURITY_TOKEN for temporary ones."),
    ("HW_AUTH_TOKEN", "An IAM token, when no AK/SK is set."),
    ("HUAWEICLOUD_SDK_PROJECT_ID, HW_PROJECT_ID", "The project, when neither the manifests nor --project-id name one."),
    ("HW_REGION_NAME", "The region, when neither the manifests nor --region give one."),
    ("HUAWEICLOUD_SDK_REGION_WORKSPACE_<REGION>", "The endpoint of a region, as in the official SDKs."),
    ("DESKTAG_ENDPOINT", "The endpoint of every project, like --endpoint."),
    ("DESKTAG_LOG", "A tracing filter for the log lines on stderr (e.g. desktag=trace); overrides -v and -q."),
    ("NO_COLOR", "Turns colour off unless --color always."),
    ("GITHUB_OUTPUT, GITHUB_STEP_SUMMARY", "When set, plan and apply append has_changes, blocked and failed, and their markdown."),
    ("GITHUB_ACTIONS", "When true, manifest diagnostics are written as workflow annotations."),
];

/// The exit codes, for the man page's EXIT STATUS section.
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Done, or nothing to do."),
    ("1", "An error: invalid manifests, usage, authentication, a stale saved plan, a failed or unverified change, a project that could not be reached."),
    ("2", "Changes, with --detailed-exitcode: plan found changes or apply made some."),
    ("3", "Desktops were blocked (tag cap, policy, template); everything else was planned or applied."),
    ("130", "apply was interrupted twice (a second Ctrl-C or SIGTERM), or once at its confirmation prompt: it exits at once, without a report."),
];

/// A man page section of tagged paragraphs, in roff.
fn section(title: &str, items: &[(&str, &str)]) -> String {
    let escape = |s: &str| s.replace('\\', "\\e").replace('-', "\\-");
    let mut roff = format!(".SH \"{title}\"\n");
    for (tag, text) in items {
        roff.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", escape(tag), escape(text)));
    }
    roff
}

/// `desktag.1`: clap's page, then ENVIRONMENT and EXIT STATUS (1 beats 3 beats 2 beats 0).
fn main_page() -> Vec<u8> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .expect("rendering into memory does not fail");
    page.extend_from_slice(section("ENVIRONMENT", ENVIRONMENT).as_bytes());
    let mut exit = section("EXIT STATUS", EXIT_STATUS);
    exit.push_str(".PP\nWhen several hold, 1 beats 3 beats 2 beats 0. Every non\\-zero exit ends with one line on stderr saying why.\n");
    page.extend_from_slice(exit.as_bytes());
    page
}

/// `desktag.1` on stdout, or every page (`desktag.1`, `desktag-plan.1`, …) written into `dir`,
/// which is created when missing.
pub(crate) fn man(dir: Option<&Path>) -> Result<Status, Error> {
    match dir {
        None => output::stdout(|out| out.write_all(&main_page()))?,
        Some(dir) => {
            let write_error = |source| Error::Write {
                path: dir.to_path_buf(),
                source,
            };
            std::fs::create_dir_all(dir).map_err(write_error)?;
            clap_mangen::generate_to(Cli::command(), dir).map_err(write_error)?;
            output::write_atomic(&dir.join("desktag.1"), &main_page())?;
        }
    }
    Ok(Status::Success)
}
