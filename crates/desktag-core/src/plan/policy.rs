//! Tag policy: the `policy:` blocks of every document of a run, merged into one set of rules,
//! checked against what the manifests want (errors at the manifest line, for `validate` and
//! `plan`) and against each desktop's tags (a desktop whose planned end state would break them is
//! blocked; `desktag check` audits every desktop's tags now). Pure: no I/O here.
//!
//! Every document's rules apply at once: `required` keys add up, a value must be allowed by each
//! `allowed` list written for its key, and one document's `key_case: lower` holds for the run.

use globset::{GlobSet, GlobSetBuilder};

use crate::diagnostic::{Code, Diagnostic, Location};
use crate::glob::name_glob;
use std::collections::BTreeSet;

use crate::manifest::{Document, Enforce, KeyCase, Manifest};
use crate::tags::{is_system_key, Tags};

/// The merged rules of a run. Empty (and free to check) when no document has a `policy:`.
#[derive(Debug, Clone, Default)]
pub struct PolicyRules {
    /// Each rule with `warn`: written only in `enforce: warn` documents.
    required: Vec<(String, Location, bool)>,
    allowed: Vec<Allowed>,
    lower: Option<(Location, bool)>,
    /// `fix: rename` written beside the rules.
    fix: bool,
}

#[derive(Debug, Clone)]
struct Allowed {
    key: String,
    values: Vec<String>,
    set: GlobSet,
    location: Location,
    warn: bool,
}

/// Two rule sets are equal when they were built from the same rules.
impl PartialEq for PolicyRules {
    fn eq(&self, other: &Self) -> bool {
        let allowed = |r: &PolicyRules| -> Vec<(String, Vec<String>, Location, bool)> {
            r.allowed
                .iter()
                .map(|a| (a.key.clone(), a.values.clone(), a.location.clone(), a.warn))
                .collect()
        };
        self.required == other.required
            && self.lower == other.lower
            && self.fix == other.fix
            && allowed(self) == allowed(other)
    }
}

impl Eq for PolicyRules {}

/// One way a set of tags breaks the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// `lacks required key \`owner\``, `\`env\` is "qa", not one of dev, test, prod`, …
    pub message: String,
    /// Where the rule is written.
    pub rule: Location,
    /// The rule is only advisory (`enforce: warn`): reported, never blocking.
    pub warn: bool,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (policy at {})", self.message, self.rule)
    }
}

/// The project a document names, if any.
fn project(d: &Document) -> Option<&str> {
    d.project_id.as_ref().map(|p| p.value.as_str())
}

impl PolicyRules {
    /// The rules of every document of `manifest` (planning narrows the manifest to one project
    /// first).
    pub(crate) fn of(manifest: &Manifest) -> PolicyRules {
        Self::of_documents(manifest.documents.iter())
    }

    fn of_documents<'m>(documents: impl Iterator<Item = &'m Document>) -> PolicyRules {
        let mut rules = PolicyRules::default();
        for doc in documents {
            let policy = &doc.policy;
            // A rule written in a blocking document and in a warning one blocks.
            let warn = policy
                .enforce
                .as_ref()
                .is_some_and(|e| e.value == Enforce::Warn);
            for key in &policy.required {
                match rules
                    .required
                    .iter_mut()
                    .find(|(k, ..)| k == key.value.as_str())
                {
                    Some(rule) => rule.2 &= warn,
                    None => rules.required.push((
                        key.value.as_str().to_string(),
                        key.location.clone(),
                        warn,
                    )),
                }
            }
            for allowed in &policy.allowed {
                let key = allowed.key.value.as_str();
                let values: Vec<String> = allowed.values.iter().map(|v| v.value.clone()).collect();
                // The same list repeated in many documents is one rule (checked once per value).
                if let Some(same) = rules
                    .allowed
                    .iter_mut()
                    .find(|a| a.key == key && a.values == values)
                {
                    same.warn &= warn;
                    continue;
                }
                let mut builder = GlobSetBuilder::new();
                for value in &allowed.values {
                    // Name globs: only `*` and `?` are special, so every pattern compiles.
                    if let Ok(glob) = name_glob(&crate::tags::nfc(&value.value)) {
                        builder.add(glob);
                    }
                }
                rules.allowed.push(Allowed {
                    key: key.to_string(),
                    values,
                    set: builder.build().unwrap_or_else(|_| GlobSet::empty()),
                    location: allowed.key.location.clone(),
                    warn,
                });
            }
            rules.fix |= policy.fix_rename.is_some();
            if let Some(case) = &policy.key_case {
                if case.value == KeyCase::Lower {
                    match &mut rules.lower {
                        Some(lower) => lower.1 &= warn,
                        None => rules.lower = Some((case.location.clone(), warn)),
                    }
                }
            }
        }
        rules
    }

    /// `key_case: lower` with `fix: rename`: a desktop's case variants of managed keys are
    /// renamed to them.
    pub fn fixes_case(&self) -> bool {
        self.fix && self.lower.is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.allowed.is_empty() && self.lower.is_none()
    }

    /// How `tags` (a desktop's whole tag set; system tags are not judged) breaks the rules, in
    /// rule order; empty when it follows them.
    pub(crate) fn violations(&self, tags: &Tags) -> Vec<Violation> {
        let mut found = Vec::new();
        if self.is_empty() {
            return found;
        }
        for (key, location, warn) in &self.required {
            let present = tags.contains_key(key.as_str())
                || tags
                    .keys()
                    .any(|k| crate::tags::nfc(k) == crate::tags::nfc(key.as_str()));
            if !present {
                found.push(Violation {
                    message: format!("lacks required key `{}`", key.escape_debug()),
                    rule: location.clone(),
                    warn: *warn,
                });
            }
        }
        for (key, value) in tags {
            if is_system_key(key) {
                continue;
            }
            if let Some(v) = self.value_violation(key, value) {
                found.push(v);
            }
            if let Some(v) = self.case_violation(key) {
                found.push(v);
            }
        }
        found
    }

    /// `value` of `key` is not allowed by some `allowed` list of the key.
    fn value_violation(&self, key: &str, value: &str) -> Option<Violation> {
        // Keys and values compared in Unicode NFC, as every guardrail glob is.
        let (nfc_key, nfc_value) = (crate::tags::nfc(key), crate::tags::nfc(value));
        let rule = self
            .allowed
            .iter()
            .find(|a| crate::tags::nfc(&a.key) == nfc_key && !a.set.is_match(&*nfc_value))?;
        Some(Violation {
            message: format!(
                "`{}` is {:?}, not one of {}",
                key.escape_debug(),
                value,
                rule.values.join(", ")
            ),
            rule: rule.location.clone(),
            warn: rule.warn,
        })
    }

    /// `key` is not in lower case under `key_case: lower`.
    fn case_violation(&self, key: &str) -> Option<Violation> {
        let (rule, warn) = self.lower.as_ref()?;
        let is_lower = |c: char| {
            let mut lower = c.to_lowercase();
            lower.next() == Some(c) && lower.next().is_none()
        };
        (!key.chars().all(is_lower)).then(|| Violation {
            message: format!("key `{}` is not in lower case", key.escape_debug()),
            rule: rule.clone(),
            warn: *warn,
        })
    }

    /// What the manifests themselves want against the rules: values not allowed and keys not in
    /// lower case where they are written, and required keys listed in `absent`. When the
    /// manifests name several projects (offline validation reads them all), each document is
    /// held to the rules of its project's run: the documents of that project and those that name
    /// none.
    pub(crate) fn manifest_diagnostics(
        &self,
        manifest: &Manifest,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        if self.is_empty() {
            return;
        }
        let projects: BTreeSet<&str> = manifest.documents.iter().filter_map(project).collect();
        if projects.len() <= 1 {
            return self.documents_diagnostics(manifest.documents.iter(), diagnostics);
        }
        let mut found = Vec::new();
        for p in &projects {
            let run = || {
                manifest
                    .documents
                    .iter()
                    .filter(|d| project(d).is_none_or(|q| q == *p))
            };
            Self::of_documents(run()).documents_diagnostics(run(), &mut found);
        }
        // Documents without a project are checked once per project; say each problem once.
        let mut seen = BTreeSet::new();
        found.retain(|d| seen.insert(d.to_string()));
        diagnostics.extend(found);
    }

    fn documents_diagnostics<'m>(
        &self,
        documents: impl Iterator<Item = &'m Document>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        if self.is_empty() {
            return;
        }
        let mut check = |key: &str, value: Option<&str>, at: &Location| {
            let broken = match value {
                // A templated value is judged once rendered, per desktop, when planning.
                Some(value) if crate::template::is_template(value) => {
                    [None, self.case_violation(key)]
                }
                Some(value) => [self.value_violation(key, value), self.case_violation(key)],
                None => [
                    self.required
                        .iter()
                        .find(|(k, ..)| k == key)
                        .map(|(_, rule, warn)| Violation {
                            message: format!(
                                "`{}` is listed in `absent` but the policy requires it",
                                key.escape_debug()
                            ),
                            rule: rule.clone(),
                            warn: *warn,
                        }),
                    None,
                ],
            };
            for v in broken.into_iter().flatten() {
                let diagnostic = if v.warn {
                    Diagnostic::warning(Code::PolicyViolation, v.message)
                } else {
                    Diagnostic::error(Code::PolicyViolation, v.message)
                };
                diagnostics.push(
                    diagnostic
                        .at(at.clone())
                        .with_note(v.rule, "the policy rule")
                        .with_help("follow the policy, or change the policy if the rule is wrong"),
                );
            }
        };
        for doc in documents {
            for (key, value) in &doc.defaults {
                check(key.as_str(), Some(value.value.as_str()), &value.location);
            }
            for entry in &doc.desktops {
                for (key, value) in &entry.tags {
                    check(key.as_str(), Some(value.value.as_str()), &value.location);
                }
                for (key, location) in &entry.absent {
                    check(key.as_str(), None, location);
                }
            }
        }
    }
}

/// `desktag check`: every desktop of a project against the rules, as it is now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Audit {
    pub project_id: String,
    /// Desktops in the project.
    pub total: usize,
    /// Desktops some manifest entry selects.
    pub managed: usize,
    /// Desktops that break a blocking rule.
    pub violating: usize,
    /// Desktops that break only `enforce: warn` rules.
    #[serde(skip_serializing_if = "is_zero")]
    pub warned: usize,
    /// Every desktop, by name then id.
    pub desktops: Vec<AuditedDesktop>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditedDesktop {
    pub desktop_id: String,
    pub name: String,
    /// Whether a manifest entry selects it.
    pub managed: bool,
    /// The broken blocking rules, each with where it is written; empty when it follows them.
    pub violations: Vec<String>,
    /// The broken `enforce: warn` rules: reported, not failing the audit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl crate::inventory::Named for AuditedDesktop {
    fn name(&self) -> &str {
        &self.name
    }
    fn id(&self) -> &str {
        &self.desktop_id
    }
}

/// Judges the tags every desktop of `inventory` carries now; `managed` tells the desktops a
/// manifest selects.
pub fn audit(
    rules: &PolicyRules,
    inventory: &crate::inventory::Inventory,
    managed: &dyn Fn(&str) -> bool,
    project_id: &str,
) -> Audit {
    let mut desktops: Vec<AuditedDesktop> = inventory
        .iter()
        .map(|d| {
            let (warnings, violations): (Vec<_>, Vec<_>) =
                rules.violations(&d.tags).into_iter().partition(|v| v.warn);
            let text = |vs: Vec<Violation>| vs.iter().map(ToString::to_string).collect();
            AuditedDesktop {
                desktop_id: d.id.clone(),
                name: d.name.to_string(),
                managed: managed(&d.id),
                violations: text(violations),
                warnings: text(warnings),
            }
        })
        .collect();
    crate::inventory::sort_by_name(&mut desktops);
    Audit {
        project_id: project_id.to_string(),
        total: desktops.len(),
        managed: desktops.iter().filter(|d| d.managed).count(),
        violating: desktops.iter().filter(|d| !d.violations.is_empty()).count(),
        warned: desktops
            .iter()
            .filter(|d| d.violations.is_empty() && !d.warnings.is_empty())
            .count(),
        desktops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{load_str, LoadOptions};

    #[test]
    fn an_audit_counts_coverage_and_violations_of_every_desktop() {
        let (rules, _) = rules(POLICY);
        let inventory = crate::inventory::Inventory::new([
            crate::inventory::Desktop::new("d2", "B", &[("owner", "x"), ("cost-center", "CC-1")]),
            crate::inventory::Desktop::new("d1", "A", &[("env", "qa")]),
            crate::inventory::Desktop::new("d3", "C", &[]),
        ]);
        let audit = audit(&rules, &inventory, &|id| id != "d3", "p");
        assert_eq!((audit.total, audit.managed, audit.violating), (3, 2, 2));
        let names: Vec<&str> = audit.desktops.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "C"]);
        assert_eq!(audit.desktops[0].violations.len(), 3);
        assert!(audit.desktops[1].violations.is_empty());
        assert!(!audit.desktops[2].managed);
    }

    const WARN: &str = "version: 1\npolicy:\n  enforce: warn\n  required: [owner]\n  key_case: lower\ndesktops:\n  - name: A\n    tags: {env: prod}\n";

    #[test]
    fn warn_rules_are_reported_apart_and_a_blocking_copy_of_a_rule_blocks() {
        let (warn, diagnostics) = rules(WARN);
        assert!(diagnostics.is_empty(), "{diagnostics:#?}");
        let tags: Tags = [("Env".into(), "prod".into())].into_iter().collect();
        let found = warn.violations(&tags);
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|v| v.warn), "{found:#?}");
        let inventory = crate::inventory::Inventory::new([crate::inventory::Desktop::new(
            "d1",
            "A",
            &[("Env", "x")],
        )]);
        let audited = audit(&warn, &inventory, &|_| true, "p");
        assert_eq!((audited.violating, audited.warned), (0, 1));
        assert_eq!(audited.desktops[0].warnings.len(), 2);
        // The same `required` key written again in a blocking document blocks.
        let both = format!("{WARN}---\nversion: 1\npolicy: {{required: [owner]}}\ndesktops:\n  - name: B\n    tags: {{owner: x}}\n");
        let (mixed, _) = rules(&both);
        let found = mixed.violations(&tags);
        let owner = found.iter().find(|v| v.message.contains("owner")).unwrap();
        assert!(!owner.warn);
        assert!(
            found
                .iter()
                .find(|v| v.message.contains("case"))
                .unwrap()
                .warn
        );
    }

    #[test]
    fn manifests_against_a_warn_policy_get_warnings_not_errors() {
        let text = "version: 1\npolicy: {enforce: warn, allowed: {env: [prod]}}\ndesktops:\n  - name: A\n    tags: {env: qa}\n";
        let (_, diagnostics) = rules(text);
        assert_eq!(diagnostics.len(), 1);
        assert!(!diagnostics[0].is_error());
        assert_eq!(diagnostics[0].code, "policy-violation");
    }

    fn rules(text: &str) -> (PolicyRules, Vec<Diagnostic>) {
        let loaded = load_str("p.yaml", text, &LoadOptions::default());
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        let rules = PolicyRules::of(&loaded.manifest);
        let mut diagnostics = Vec::new();
        rules.manifest_diagnostics(&loaded.manifest, &mut diagnostics);
        (rules, diagnostics)
    }

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    const POLICY: &str = "version: 1\npolicy:\n  required: [owner, cost-center]\n  allowed:\n    env: [dev, test, prod]\n    cost-center: [\"CC-*\"]\n  key_case: lower\ndesktops: []\n";

    #[test]
    fn a_desktop_follows_the_rules_or_each_broken_rule_is_named() {
        let (rules, diagnostics) = rules(POLICY);
        assert!(diagnostics.is_empty());
        let good = tags(&[
            ("owner", "ann"),
            ("cost-center", "CC-9"),
            ("env", "dev"),
            ("_sys_X", "1"),
        ]);
        assert_eq!(rules.violations(&good), []);
        let bad = tags(&[("Owner", "ann"), ("cost-center", "9"), ("env", "qa")]);
        let shown: Vec<String> = rules
            .violations(&bad)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            shown,
            [
                "lacks required key `owner` (policy at p.yaml:3:14)",
                "key `Owner` is not in lower case (policy at p.yaml:7:13)",
                "`cost-center` is \"9\", not one of CC-* (policy at p.yaml:6:5)",
                "`env` is \"qa\", not one of dev, test, prod (policy at p.yaml:5:5)",
            ]
        );
    }

    #[test]
    fn the_manifests_are_checked_where_they_are_written() {
        let text = format!(
            "{}---\nversion: 1\ndesktops:\n  - name: A\n    tags: {{env: qa, Tier: x}}\n    absent: [owner]\n",
            POLICY
        );
        let (_, mut diagnostics) = rules(&text);
        crate::diagnostic::sort(&mut diagnostics);
        let shown: Vec<String> = diagnostics
            .iter()
            .map(|d| format!("{} {}: {}", d.location.as_ref().unwrap(), d.code, d.message))
            .collect();
        assert_eq!(
            shown,
            [
                "p.yaml:13:12 policy-violation: `env` is \"qa\", not one of dev, test, prod",
                "p.yaml:13:21 policy-violation: key `Tier` is not in lower case",
                "p.yaml:14:14 policy-violation: `owner` is listed in `absent` but the policy requires it",
            ]
        );
    }

    #[test]
    fn no_policy_costs_nothing_and_finds_nothing() {
        let (rules, _) = rules("version: 1\ndesktops: []\n");
        assert!(rules.is_empty());
        assert_eq!(rules.violations(&tags(&[("Any", "x")])), []);
    }

    #[test]
    fn each_project_is_held_to_its_own_policy() {
        let text = "version: 1\nproject_id: p1\npolicy: {allowed: {env: [prod]}}\ndesktops: [{name: A, tags: {env: prod}}]\n---\nversion: 1\nproject_id: p2\npolicy: {allowed: {env: [dev]}}\ndesktops: [{name: B, tags: {env: dev}}]\n---\nversion: 1\ndesktops: [{name: C, tags: {env: qa}}]\n";
        let (_, diagnostics) = rules(text);
        // p1's and p2's own documents follow their rules; the shared document breaks both, and
        // is reported once for each rule it breaks.
        let shown: Vec<String> = diagnostics.iter().map(|d| d.message.clone()).collect();
        assert_eq!(
            shown,
            [
                "`env` is \"qa\", not one of prod",
                "`env` is \"qa\", not one of dev",
            ]
        );
    }

    #[test]
    fn every_documents_allowed_list_applies() {
        let text = "version: 1\npolicy: {allowed: {env: [dev, prod]}}\ndesktops: []\n---\nversion: 1\npolicy: {allowed: {env: [\"d*\"]}}\ndesktops: []\n";
        let (rules, _) = rules(text);
        assert_eq!(rules.violations(&tags(&[("env", "dev")])), []);
        assert_eq!(rules.violations(&tags(&[("env", "prod")])).len(), 1);
    }
}
