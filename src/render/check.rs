//! The output of `desktag check`: the policy audit of every desktop of each project, as text,
//! JSON, a markdown comment or JUnit XML for CI dashboards. One project renders alone; several
//! under a heading each, with the sums. Pure: into a writer.

use std::io::{self, Write};

use super::escape::{display, escape, markdown_name, markdown_with_code};
use super::plural;
use desktag_core::inventory::Named;
use desktag_core::plan::policy::Audit;

/// `Policy: 2 of 20 desktops break the rules; coverage: 17 of 20 managed by the manifests.`
pub(crate) fn summary(a: &Audit) -> String {
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
    let warned = if a.warned == 0 {
        String::new()
    } else {
        format!(
            ", {} more only {} `enforce: warn` rules",
            a.warned,
            plural(a.warned, "breaks", "break")
        )
    };
    format!(
        "Policy: {broken}{warned}; coverage: {} of {} managed by the manifests.",
        a.managed, a.total
    )
}

/// The audits of several projects summed, as one audit without desktops.
fn total(audits: &[Audit]) -> Audit {
    let ids: Vec<&str> = audits.iter().map(|a| a.project_id.as_str()).collect();
    Audit {
        project_id: ids.join(","),
        total: audits.iter().map(|a| a.total).sum(),
        managed: audits.iter().map(|a| a.managed).sum(),
        violating: audits.iter().map(|a| a.violating).sum(),
        warned: audits.iter().map(|a| a.warned).sum(),
        desktops: Vec::new(),
    }
}

/// Per project, one block per desktop that breaks a rule, then the summary; several projects
/// each under a heading, then the summed summary.
pub(crate) fn text(w: &mut dyn Write, audits: &[Audit]) -> io::Result<()> {
    if let [one] = audits {
        return text_one(w, one);
    }
    for a in audits {
        writeln!(w, "== Project {} ==\n", display(&a.project_id))?;
        text_one(w, a)?;
        writeln!(w)?;
    }
    writeln!(
        w,
        "All {} projects: {}",
        audits.len(),
        summary(&total(audits))
    )
}

fn text_one(w: &mut dyn Write, a: &Audit) -> io::Result<()> {
    for d in a
        .desktops
        .iter()
        .filter(|d| !(d.violations.is_empty() && d.warnings.is_empty()))
    {
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
        for v in &d.warnings {
            writeln!(w, "  warning (enforce: warn): {}", escape(v, false))?;
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

/// The audit as one JSON document; several projects as `{total, managed, violating,
/// projects: [audit, …]}`.
pub(crate) fn json(w: &mut dyn Write, audits: &[Audit]) -> io::Result<()> {
    if let [one] = audits {
        serde_json::to_writer_pretty(&mut *w, one)?;
    } else {
        let t = total(audits);
        let set = serde_json::json!({
            "total": t.total,
            "managed": t.managed,
            "violating": t.violating,
            "warned": t.warned,
            "projects": audits,
        });
        serde_json::to_writer_pretty(&mut *w, &set)?;
    }
    writeln!(w)
}

/// A pull-request comment: a hidden marker (naming every project), then per project the
/// summary and a table of the desktops that break a rule.
pub(crate) fn markdown(w: &mut dyn Write, audits: &[Audit]) -> io::Result<()> {
    let t = total(audits);
    writeln!(
        w,
        "<!-- desktag:check project={} -->",
        escape(&t.project_id, false)
    )?;
    if audits.len() > 1 {
        writeln!(w, "**All {} projects: {}**\n", audits.len(), summary(&t))?;
    }
    for a in audits {
        markdown_one(w, a)?;
    }
    Ok(())
}

fn markdown_one(w: &mut dyn Write, a: &Audit) -> io::Result<()> {
    writeln!(
        w,
        "## Policy check for `{}`\n",
        escape(&a.project_id, false)
    )?;
    writeln!(w, "{}\n", summary(a))?;
    if a.violating > 0 || a.warned > 0 {
        writeln!(w, "| desktop | id | managed | broken rules |")?;
        writeln!(w, "|---|---|---|---|")?;
        for d in a
            .desktops
            .iter()
            .filter(|d| !(d.violations.is_empty() && d.warnings.is_empty()))
        {
            let rules: Vec<String> = d
                .violations
                .iter()
                .map(|v| markdown_with_code(v))
                .chain(
                    d.warnings
                        .iter()
                        .map(|v| format!("warning: {}", markdown_with_code(v))),
                )
                .collect();
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

/// JUnit XML: one test suite per project, one test case per desktop, failed when it breaks a
/// rule.
pub(crate) fn junit(w: &mut dyn Write, audits: &[Audit]) -> io::Result<()> {
    let t = total(audits);
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        w,
        r#"<testsuites name="desktag check" tests="{}" failures="{}">"#,
        t.total, t.violating
    )?;
    for a in audits {
        junit_suite(w, a)?;
    }
    writeln!(w, "</testsuites>")
}

fn junit_suite(w: &mut dyn Write, a: &Audit) -> io::Result<()> {
    writeln!(
        w,
        r#"  <testsuite name="policy {}" tests="{}" failures="{}">"#,
        xml(&a.project_id),
        a.total,
        a.violating
    )?;
    for d in &a.desktops {
        let name = d.label();
        let open = format!(
            r#"    <testcase classname="{}" name="{} ({})""#,
            xml(&a.project_id),
            xml(name),
            xml(&d.desktop_id)
        );
        if d.violations.is_empty() && d.warnings.is_empty() {
            writeln!(w, "{open}/>")?;
        } else if d.violations.is_empty() {
            // Only advisory rules broken: a passing case that says so.
            writeln!(w, "{open}>")?;
            writeln!(
                w,
                "      <system-out>{}</system-out>",
                xml(&d.warnings.join("\n"))
            )?;
            writeln!(w, "    </testcase>")?;
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
    writeln!(w, "  </testsuite>")
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
            // Not characters XML 1.0 allows, even as references: shown as text instead.
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use desktag_core::plan::policy::AuditedDesktop;

    fn sample() -> Audit {
        Audit {
            project_id: "p1".into(),
            total: 3,
            managed: 2,
            violating: 2,
            warned: 0,
            desktops: vec![
                AuditedDesktop {
                    desktop_id: "d1".into(),
                    name: "FIN-<1>".into(),
                    managed: true,
                    violations: vec![
                        "lacks required key `owner` (policy at p.yaml:3:14)".into(),
                        "`env` is \"qa\", not one of dev, prod (policy at p.yaml:5:5)".into(),
                    ],
                    warnings: vec![],
                },
                AuditedDesktop {
                    desktop_id: "d2".into(),
                    name: "FIN-2".into(),
                    managed: true,
                    violations: vec![],
                    warnings: vec![],
                },
                AuditedDesktop {
                    desktop_id: "d3".into(),
                    name: "LAB\u{1b}".into(),
                    managed: false,
                    violations: vec![
                        "key `Owner` is not in lower case (policy at p.yaml:7:13)".into()
                    ],
                    warnings: vec![],
                },
            ],
        }
    }

    fn render(f: fn(&mut dyn Write, &[Audit]) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out, &[sample()]).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn render_two(f: fn(&mut dyn Write, &[Audit]) -> io::Result<()>) -> String {
        let mut second = sample();
        second.project_id = "p2".into();
        second.violating = 0;
        for d in &mut second.desktops {
            d.violations.clear();
        }
        let mut out = Vec::new();
        f(&mut out, &[sample(), second]).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn several_projects_are_rendered_each_and_summed() {
        let text = render_two(text);
        assert_eq!(text.matches("== Project ").count(), 2, "{text}");
        assert!(
            text.ends_with("All 2 projects: Policy: 2 of 6 desktops break the rules; coverage: 4 of 6 managed by the manifests.\n"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&render_two(json)).unwrap();
        assert_eq!(json["violating"], 2);
        assert_eq!(json["projects"][1]["project_id"], "p2");
        let md = render_two(markdown);
        assert!(
            md.starts_with("<!-- desktag:check project=p1,p2 -->\n"),
            "{md}"
        );
        assert_eq!(md.matches("<!-- desktag:").count(), 1);
        let xml = render_two(junit);
        assert!(
            xml.contains(r#"<testsuites name="desktag check" tests="6" failures="2">"#),
            "{xml}"
        );
        assert_eq!(xml.matches("<testsuite ").count(), 2);
        assert_eq!(xml.matches("<testcase ").count(), 6);
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
    fn junit_xml_stays_valid_for_names_with_u_fffe_and_u_ffff() {
        let escaped = xml("A\u{FFFE}B\u{FFFF}C\u{FFFD}");
        assert_eq!(escaped, "A\\u{fffe}B\\u{ffff}C\u{FFFD}");
        assert!(!escaped.contains('\u{FFFE}') && !escaped.contains('\u{FFFF}'));
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
