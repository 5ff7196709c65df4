//! The sentences desktag says outside plans and reports: refusals (a stale saved plan, desktops
//! `export` did not find), the confirmation prompt, and the last line of a run that did not end
//! cleanly. Pure: strings out.

use std::path::Path;

pub(crate) use super::escape::display;
use super::plural;
use desktag_core::plan::saved::Stale;
use desktag_core::plan::Plan;

/// How many stale desktops a refusal lists before summing up the rest.
const STALE_SHOWN: usize = 20;

/// The desktops that changed since a saved plan was made, one indented line each (at most
/// twenty, then a count of the rest), shown before the refusal itself.
pub(crate) fn stale_desktops(stale: &[Stale]) -> String {
    let mut lines = String::new();
    for s in stale.iter().take(STALE_SHOWN) {
        lines.push_str(&format!(
            "  {} ({}): {}\n",
            display(&s.name),
            display(&s.desktop_id),
            s.difference
        ));
    }
    if stale.len() > STALE_SHOWN {
        lines.push_str(&format!("  … and {} more\n", stale.len() - STALE_SHOWN));
    }
    lines
}

/// Why a saved plan is refused because desktops changed since it was made, with what to do.
pub(crate) fn stale_plan(path: &Path, changed: usize) -> String {
    format!(
        "the plan in {} is stale: {changed} {} changed since it was made; nothing was written; \
         run `desktag plan --out FILE` again and apply the new plan",
        path.display(),
        plural(changed, "desktop", "desktops")
    )
}

/// Why `check` exits 1.
pub(crate) fn policy_broken(violating: usize, total: usize) -> String {
    format!(
        "{violating} of {total} {} {} the policy",
        plural(total, "desktop", "desktops"),
        plural(violating, "breaks", "break")
    )
}

/// The refusal of a saved plan whose manifests changed since it was made.
pub(crate) fn plan_manifest_changed(path: &Path, manifest: &str) -> String {
    format!(
        "{} was made from {}, which has changed since; nothing was written; \
         run `desktag plan --out FILE` again and apply the new plan",
        path.display(),
        display(manifest)
    )
}

/// The refusal of a saved plan that cannot be checked against its manifests (it records none,
/// or they are not here), with the two ways on.
pub(crate) fn plan_unverifiable(path: &Path, why: &str) -> String {
    format!(
        "{} cannot be checked against the manifests it was made from: {why}; nothing was written; \
         run apply where the manifests are (or give them: `desktag apply --plan FILE PATH…`), or \
         pass --trust-plan if nobody but you could have edited the file",
        path.display()
    )
}

/// The refusal of a saved plan with changes its own manifests do not produce.
pub(crate) fn plan_not_produced(path: &Path, desktops: usize) -> String {
    format!(
        "{} has changes for {desktops} {} that its manifests do not produce (edited by hand, \
         made from other manifests, or with other options or environment); nothing was written; \
         run `desktag plan --out FILE` again",
        path.display(),
        plural(desktops, "desktop", "desktops")
    )
}

/// The question asked before applying on a terminal.
pub(crate) fn confirm_prompt(plans: &[Plan]) -> String {
    let summary = desktag_core::plan::Summary::total(plans);
    let changes = summary.create + summary.overwrite + summary.delete + summary.rename;
    let projects = if plans.len() > 1 {
        format!(" in {} projects", plans.len())
    } else {
        String::new()
    };
    format!(
        "\nApply {changes} {} to {} {}{projects}? Only 'yes' will be accepted: ",
        plural(changes, "change", "changes"),
        summary.changed,
        plural(summary.changed, "desktop", "desktops")
    )
}

/// `export --id` named desktops the project does not have.
pub(crate) fn missing_desktops(project_id: &str, missing: &[&str]) -> String {
    format!(
        "{} desktop id(s) not found in project `{}`: {}",
        missing.len(),
        display(project_id),
        missing
            .iter()
            .map(|id| display(id))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Why an apply exits 1 when changes were written but an output could not be: what was applied,
/// then each output that failed.
pub(crate) fn outputs_failed(applied: usize, failed: &[String]) -> String {
    format!(
        "{applied} {} applied, but {} {} could not be written: {}",
        plural(applied, "change was", "changes were"),
        failed.len(),
        plural(failed.len(), "output", "outputs"),
        failed.join("; ")
    )
}

/// The refusal after the confirmation when desktops changed while the prompt was open.
pub(crate) fn changed_while_asking(changed: usize) -> String {
    format!(
        "{changed} {} changed while the confirmation was asked; nothing was written; run apply again to plan from their tags now",
        plural(changed, "desktop", "desktops")
    )
}

/// Why a run exits 1 after failed or unverified desktops.
pub(crate) fn failed_desktops(n: usize) -> String {
    format!(
        "{n} {} failed or could not be verified; see the report above",
        plural(n, "desktop", "desktops")
    )
}

/// Why a run over several projects exits 1 when some could not be planned or applied:
/// ``project `p2` failed (see above); the other projects were planned``.
pub(crate) fn failed_projects(
    projects: &[String],
    failed_desktops: usize,
    applied: bool,
) -> String {
    let listed: Vec<String> = projects
        .iter()
        .map(|p| format!("`{}`", display(p)))
        .collect();
    let mut line = format!(
        "{} {} failed (see above); the other projects were",
        plural(projects.len(), "project", "projects"),
        listed.join(", "),
    );
    line.push_str(if applied { " applied" } else { " planned" });
    if failed_desktops > 0 {
        line.push_str(&format!(
            ", with {failed_desktops} {} failed or unverified",
            plural(failed_desktops, "desktop", "desktops")
        ));
    }
    line
}

/// Why a run exits 3: `1 desktop blocked (OPS-WKS-003); all other changes applied`.
pub(crate) fn blocked_desktops(names: &[String], applied: bool) -> String {
    const SHOWN: usize = 3;
    let mut shown: Vec<String> = names.iter().take(SHOWN).map(|n| display(n)).collect();
    if names.len() > SHOWN {
        shown.push(format!("and {} more", names.len() - SHOWN));
    }
    format!(
        "{} {} blocked ({}); all other changes {}",
        names.len(),
        plural(names.len(), "desktop", "desktops"),
        shown.join(", "),
        if applied { "applied" } else { "planned" }
    )
}

/// Why a run exits 2 under `--detailed-exitcode`.
pub(crate) fn changes(n: usize, applied: bool) -> String {
    if applied {
        format!(
            "{n} {} applied: drift was repaired",
            plural(n, "change", "changes")
        )
    } else {
        format!("the plan has {n} {}", plural(n, "change", "changes"))
    }
}

/// Why `validate` exits 1 (the diagnostics are above).
pub(crate) fn invalid_manifests(errors: usize) -> String {
    format!(
        "the manifests have {errors} {}",
        plural(errors, "error", "errors")
    )
}

/// Why `plan` or `apply` stop at invalid manifests (the diagnostics are above).
pub(crate) fn invalid_input(errors: usize) -> String {
    format!(
        "{errors} {} in the manifests or their selectors; nothing was planned",
        plural(errors, "error", "errors")
    )
}

/// A line for the terminal built from text that may hold user or server data (paths, ids,
/// error messages): control and layout characters are escaped, line breaks kept.
pub(crate) fn terminal_line(text: &str) -> String {
    text.split('\n')
        .map(|line| super::escape::escape(line, false))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stale(n: usize) -> Vec<Stale> {
        (0..n)
            .map(|i| Stale {
                desktop_id: format!("id-{i}"),
                name: format!("WKS-{i}\u{1b}"),
                difference: "the desktop no longer exists".into(),
            })
            .collect()
    }

    #[test]
    fn a_stale_plan_lists_twenty_desktops_and_sums_up_the_rest() {
        let text = stale_desktops(&stale(22));
        assert_eq!(text.lines().filter(|l| l.starts_with("  WKS-")).count(), 20);
        assert!(text.ends_with("\n  … and 2 more\n"));
        assert!(!text.contains('\u{1b}'), "names are escaped");
        let refusal = stale_plan(Path::new("plan.json"), 22);
        assert!(refusal.starts_with("the plan in plan.json is stale: 22 desktops changed"));
        assert!(!refusal.contains('\n'), "one line");
    }

    #[test]
    fn blocked_lines_name_a_few_desktops() {
        assert_eq!(
            blocked_desktops(&["OPS-WKS-003".into()], true),
            "1 desktop blocked (OPS-WKS-003); all other changes applied"
        );
        let many: Vec<String> = (1..=5).map(|i| format!("D{i}")).collect();
        assert_eq!(
            blocked_desktops(&many, false),
            "5 desktops blocked (D1, D2, D3, and 2 more); all other changes planned"
        );
    }

    #[test]
    fn terminal_lines_keep_line_breaks_and_escape_the_rest() {
        assert_eq!(
            terminal_line("cannot read a\u{1b}]0;x\u{7}b\nhelp: \u{202e}y"),
            "cannot read a\\u{001b}]0;x\\u{0007}b\nhelp: \\u{202e}y"
        );
    }

    #[test]
    fn one_stale_desktop_is_singular() {
        assert!(stale_plan(Path::new("p"), 1).contains("1 desktop changed"));
    }
}
