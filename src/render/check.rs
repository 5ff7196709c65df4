//! The output of `desktag check`: the policy audit of every desktop of a project, as text, JSON,
//! a markdown comment or JUnit XML for CI dashboards. Pure: into a writer.

use std::io::{self, Write};

use super::escape::{display, escape, markdown_name, markdown_with_code};
use super::plural;
use crate::plan::policy::Audit;

/// `Policy: 2 of 20 desktops break the rules; coverage: 17 of 20 managed by the manifests.`
pub fn summary(a: &Audit) -> String {
    let broken = if a.violating == 0 {
        format!(
            "all {} {} follow the rules",
            a.total,
            plural(a.total, "desktop", "desktops")
        )
    } else {
        format!(
            "{} of {} {} {} the rules",
            a.violating,
            a.total,
            plural(a.total, "desktop", "desktops"),
            plural(a.violating, "breaks", "break")
        )
    };
    format!(
        "Policy: {broken}; coverage: {} of {} managed by the manifests.",
        a.managed, a.total
    )
}

/// One block per desktop that breaks a rule, then the summary.
pub fn text(w: &mut dyn Write, a: &Audit) -> io::Result<()> {
    for d in a.desktops.iter().filter(|d| !d.violations.is_empty()) {
        let managed = if d.managed { "" } else { ", not managed" };
        writeln!(
            w,
            "! {} ({}){managed}",
            display(&d.name),
            display(&d.desktop_id)
        )?;
        for v in &d.violations {
            writeln!(w, "  {}", escape(v, false))?;
        }
    }
    let unmanaged: Vec<&str> = a
        .desktops
        .iter()
        .filter(|d| !d.managed)
        .map(|d| d.name.as_str())
        .collect();
    if !unmanaged.is_empty() {
        let shown: Vec<String> = unmanaged.iter().take(20).map(|n| display(n)).collect();
        let more = unmanaged.len().saturating_sub(20);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        writeln!(w, "Not managed: {}{more}", shown.join(", "))?;
    }
    writeln!(w, "{}", summary(a))
}

/// The audit as one JSON document.
pub fn json(w: &mut dyn Write, a: &Audit) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, a)?;
    writeln!(w)
}

/// A pull-request comment: a hidden marker, the summary, a table of the desktops that break a
/// rule.
pub fn markdown(w: &mut dyn Write, a: &Audit) -> io::Result<()> {
    writeln!(
        w,
        "<!-- desktag:check project={} -->",
        escape(&a.project_id, false)
    )?;
    writeln!(
        w,
        "## Policy check for `{}`\n",
        escape(&a.project_id, false)
    )?;
    writeln!(w, "{}\n", summary(a))?;
    if a.violating > 0 {
        writeln!(w, "| desktop | id | managed | broken rules |")?;
        writeln!(w, "|---|---|---|---|")?;
        for d in a.desktops.iter().filter(|d| !d.violations.is_empty()) {
            let rules: Vec<String> = d.violations.iter().map(|v| markdown_with_code(v)).collect();
            writeln!(
                w,
                "| {} | {} | {} | {} |",
                markdown_name(&d.name),
                markdown_name(&d.desktop_id),
                if d.managed { "yes" } else { "no" },
                rules.join("<br>")
            )?;
        }
    }
    Ok(())
}

/// JUnit XML: one test case per desktop, failed when it breaks a rule.
pub fn junit(w: &mut dyn Write, a: &Audit) -> io::Result<()> {
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        w,
        r#"<testsuites name="desktag check" tests="{}" failures="{}">"#,
        a.total, a.violating
    )?;
    writeln!(
        w,
        r#"  <testsuite name="policy {}" tests="{}" failures="{}">"#,
        xml(&a.project_id),
        a.total,
        a.violating
    )?;
    for d in &a.desktops {
        let name = if d.name.is_empty() {
            &d.desktop_id
        } else {
            &d.name
        };
        let open = format!(
            r#"    <testcase classname="{}" name="{} ({})""#,
            xml(&a.project_id),
            xml(name),
            xml(&d.desktop_id)
        );
        if d.violations.is_empty() {
            writeln!(w, "{open}/>")?;
        } else {
            writeln!(w, "{open}>")?;
            writeln!(
                w,
                r#"      <failure message="{} broken {}">{}</failure>"#,
                d.violations.len(),
                plural(d.violations.len(), "rule", "rules"),
                xml(&d.violations.join("\n"))
            )?;
            writeln!(w, "    </testcase>")?;
        }
    }
    writeln!(w, "  </testsuite>")?;
    writeln!(w, "</testsuites>")
}

/// Text for an XML attribute or element: markup escaped, and characters XML 1.0 cannot carry
/// (most control characters) shown as `\u{…}`.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(ch),
            c if c.is_control() => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::policy::AuditedDesktop;

    fn sample() -> Audit {
        Audit {
            project_id: "p1".into(),
            total: 3,
            managed: 2,
            violating: 2,
            desktops: vec![
                AuditedDesktop {
                    desktop_id: "d1".into(),
                    name: "FIN-<1>".into(),
                    managed: true,
                    violations: vec![
                        "lacks required key `owner` (policy at p.yaml:3:14)".into(),
                        "`env` is \"qa\", not one of dev, prod (policy at p.yaml:5:5)".into(),
                    ],
                },
                AuditedDesktop {
                    desktop_id: "d2".into(),
                    name: "FIN-2".into(),
                    managed: true,
                    violations: vec![],
                },
                AuditedDesktop {
                    desktop_id: "d3".into(),
                    name: "LAB\u{1b}".into(),
                    managed: false,
                    violations: vec![
                        "key `Owner` is not in lower case (policy at p.yaml:7:13)".into()
                    ],
                },
            ],
        }
    }

    fn render(f: fn(&mut dyn Write, &Audit) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out, &sample()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_lists_the_broken_rules_and_the_coverage() {
        insta::assert_snapshot!(render(text));
    }

    #[test]
    fn markdown_is_a_table_of_the_broken_rules() {
        insta::assert_snapshot!(render(markdown));
    }

    #[test]
    fn junit_has_one_case_per_desktop_and_escapes_markup() {
        let xml = render(junit);
        insta::assert_snapshot!(xml);
        assert_eq!(xml.matches("<testcase ").count(), 3);
        assert_eq!(xml.matches("<failure ").count(), 2);
        assert!(!xml.contains("FIN-<1>") && !xml.contains('\u{1b}'));
    }

    #[test]
    fn the_summary_counts_in_words() {
        let mut a = sample();
        assert_eq!(
            summary(&a),
            "Policy: 2 of 3 desktops break the rules; coverage: 2 of 3 managed by the manifests."
        );
        a.violating = 0;
        assert!(summary(&a).starts_with("Policy: all 3 desktops follow the rules"));
    }
}
