//! The sentences desktag says outside plans and reports: refusals (a stale saved plan, desktops
//! `export` did not find), the confirmation prompt, and the last line of a run that did not end
//! cleanly. Pure: strings out.

use std::path::Path;

use super::escape::display;
use super::plural;
use desktag_core::plan::saved::Stale;
use desktag_core::plan::Plan;

/// How many stale desktops a refusal lists before summing up the rest.
const STALE_SHOWN: usize = 20;

/// The desktops that changed since a saved plan was made, one indented line each (at most
/// twenty, then a count of the rest), shown before the refusal itself.
pub fn stale_desktops(stale: &[Stale]) -> String {
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
pub fn stale_plan(path: &Path, changed: usize) -> String {
    format!(
        "the plan in {} is stale: {changed} {} changed since it was made; nothing was written; \
         run `desktag plan --out FILE` again and apply the new plan",
        path.display(),
        plural(changed, "desktop", "desktops")
    )
}

/// Why `check` exits 1.
pub fn policy_broken(violating: usize, total: usize) -> String {
    format!(
        "{violating} of {total} {} {} the policy",
        plural(total, "desktop", "desktops"),
        plural(violating, "breaks", "break")
    )
}

/// The refusal of a saved plan whose manifests changed since it was made.
pub fn plan_manifest_changed(path: &Path, manifest: &str) -> String {
    format!(
        "{} was made from {}, which has changed since; nothing was written; \
         run `desktag plan --out FILE` again and apply the new plan",
        path.display(),
        display(manifest)
    )
}

/// The refusal of a saved plan with changes its own manifests do not produce.
pub fn plan_not_produced(path: &Path, desktops: usize) -> String {
    format!(
        "{} has changes for {desktops} {} that its manifests do not produce (edited by hand, or \
         made from other manifests); nothing was written; run `desktag plan --out FILE` again",
        path.display(),
        plural(desktops, "desktop", "desktops")
    )
}

/// The question asked before applying on a terminal.
pub fn confirm_prompt(plans: &[Plan]) -> String {
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
pub fn missing_desktops(project_id: &str, missing: &[&str]) -> String {
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

/// Why a run exits 1 after failed or unverified desktops.
pub fn failed_desktops(n: usize) -> String {
    format!(
        "{n} {} failed or could not be verified; see the report above",
        plural(n, "desktop", "desktops")
    )
}

/// Why a run exits 3: `1 desktop blocked (OPS-WKS-003); all other changes applied`.
pub fn blocked_desktops(names: &[String], applied: bool) -> String {
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
pub fn changes(n: usize, applied: bool) -> String {
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
pub fn invalid_manifests(errors: usize) -> String {
    format!(
        "the manifests have {errors} {}",
        plural(errors, "error", "errors")
    )
}

/// Why `plan` or `apply` stop at invalid manifests (the diagnostics are above).
pub fn invalid_input(errors: usize) -> String {
    format!(
        "{errors} {} in the manifests or their selectors; nothing was planned",
        plural(errors, "error", "errors")
    )
}

/// A line for the terminal built from text that may hold user or server data (paths, ids,
/// error messages): control and layout characters are escaped, line breaks kept.
pub fn terminal_line(text: &str) -> String {
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
