//! `desktag doctor`'s screen: one block per project, one line per check (`ok`, `FAIL` with the
//! fix, or `--` for a note), then the verdict. Pure: writes into any writer; the checks are plain
//! data the command gathers. Text from the service or the environment is escaped.

use std::io::{self, Write};

use super::escape::escape;

/// How one check went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    /// Failed; `fix` says what to do.
    Fail {
        fix: String,
    },
    /// Not a pass or a failure: something worth knowing.
    Note,
}

/// One line of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    pub name: &'static str,
    pub detail: String,
    pub outcome: Outcome,
}

/// The checks of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectChecks {
    /// `project 0123…`, or `the project of the flags and environment`.
    pub title: String,
    pub checks: Vec<Check>,
}

impl ProjectChecks {
    /// The fix of the first failed check, if any.
    pub(crate) fn first_fix(&self) -> Option<&str> {
        self.checks.iter().find_map(|c| match &c.outcome {
            Outcome::Fail { fix } => Some(fix.as_str()),
            _ => None,
        })
    }
}

/// Writes every project's checks.
pub(crate) fn text(out: &mut dyn Write, projects: &[ProjectChecks]) -> io::Result<()> {
    for (i, project) in projects.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", escape(&project.title, false))?;
        for check in &project.checks {
            let mark = match check.outcome {
                Outcome::Ok => "ok  ",
                Outcome::Fail { .. } => "FAIL",
                Outcome::Note => "--  ",
            };
            writeln!(
                out,
                "  {mark} {:<12} {}",
                check.name,
                escape(&check.detail, false)
            )?;
            if let Outcome::Fail { fix } = &check.outcome {
                writeln!(out, "       {:<12} fix: {}", "", escape(fix, false))?;
            }
        }
    }
    let failed = projects.iter().filter(|p| p.first_fix().is_some()).count();
    writeln!(out)?;
    if failed == 0 {
        writeln!(out, "Everything a plan needs works.")?;
    } else {
        writeln!(
            out,
            "{failed} of {} project{} cannot be planned yet.",
            projects.len(),
            if projects.len() == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_shows_its_fix_and_the_verdict_counts_projects() {
        let projects = vec![
            ProjectChecks {
                title: "project p1".into(),
                checks: vec![
                    Check {
                        name: "endpoint",
                        detail: "https://x (--endpoint)".into(),
                        outcome: Outcome::Ok,
                    },
                    Check {
                        name: "signed read",
                        detail: "401\u{1b}[31m".into(),
                        outcome: Outcome::Fail {
                            fix: "renew the keys".into(),
                        },
                    },
                ],
            },
            ProjectChecks {
                title: "project p2".into(),
                checks: vec![],
            },
        ];
        let mut out = Vec::new();
        text(&mut out, &projects).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("  ok   endpoint     https://x (--endpoint)"),
            "{out}"
        );
        assert!(out.contains("FAIL signed read"), "{out}");
        assert!(out.contains("fix: renew the keys"), "{out}");
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(
            out.ends_with("1 of 2 projects cannot be planned yet.\n"),
            "{out}"
        );
        assert_eq!(projects[0].first_fix(), Some("renew the keys"));
    }
}
