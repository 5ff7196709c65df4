//! The `policy:` block of a document: keys every selected desktop must end with (`required`),
//! the values a key may take (`allowed`, name-style globs) and the case of keys (`key_case`).
//! Parsed here with its locations; checked against manifests and desktops in `plan::policy`.
//! Pure: no I/O here.

use super::fields::Collection;
use super::model::{AllowedValues, Enforce, KeyCase, Sourced, TagPolicy};
use super::reader::Head;
use super::shorten;
use super::walk::{Check, Result, Table, Value};
use crate::diagnostic::Code;
use crate::tags::TagKey;

/// The fields of `policy:`.
pub(super) const POLICY: Table<TagPolicy> = Table {
    place: "a policy",
    fields: &[
        ("required", |c, p, v| {
            p.required = c.policy_keys("required", v)?;
            Ok(())
        }),
        ("allowed", |c, p, v| {
            p.allowed = c.allowed(v)?;
            Ok(())
        }),
        ("key_case", |c, p, v| {
            p.key_case = c.key_case(v)?;
            Ok(())
        }),
        ("enforce", |c, p, v| {
            p.enforce = c.enforce(v)?;
            Ok(())
        }),
        ("fix", |c, p, v| {
            p.fix_rename = c.fix(v)?;
            Ok(())
        }),
    ],
    misplaced: |_| None,
};

const POLICY_HELP: &str =
    "write `policy:` as a mapping with `required: [keys]`, `allowed: {key: [values]}`, `key_case: lower` and/or `enforce: warn`";

impl Check<'_, '_> {
    /// `policy:`: a mapping by the `POLICY` table.
    pub(crate) fn policy(&mut self, value: Value) -> Result<TagPolicy> {
        let Value { head, pos, key_pos } = value;
        let mut policy = TagPolicy::default();
        match head {
            Head::Map => {
                self.fields(pos, &POLICY, &mut policy)?;
                self.required_fits_key_case(&policy);
            }
            Head::Scalar(ref s) if s.is_null() => {
                self.null_field("policy", key_pos, POLICY_HELP);
            }
            other => {
                self.wrong_type(&other, pos, "a mapping for `policy`", POLICY_HELP)?;
            }
        }
        Ok(policy)
    }

    /// A `required` key `key_case: lower` forbids can never be satisfied: no desktop may carry
    /// it, and every selected desktop must.
    fn required_fits_key_case(&mut self, policy: &TagPolicy) {
        let lower = policy
            .key_case
            .as_ref()
            .is_some_and(|k| k.value == super::model::KeyCase::Lower);
        if !lower {
            return;
        }
        for key in &policy.required {
            let key_text = key.value.as_str();
            if key_text.chars().any(char::is_uppercase) {
                self.push(
                    crate::diagnostic::Diagnostic::error(
                        Code::Policy,
                        format!(
                            "`{}` is required, but `key_case: lower` forbids it: no desktop can ever satisfy the policy",
                            shorten(key_text)
                        ),
                    )
                    .at(key.location.clone())
                    .with_help(format!("require `{}`", shorten(&key_text.to_lowercase()))),
                );
            }
        }
    }

    /// A list of tag keys, each valid by the tag rules.
    fn policy_keys(&mut self, field: &str, value: Value) -> Result<Vec<Sourced<TagKey>>> {
        let mut keys = Vec::new();
        self.scalar_list(
            field,
            value,
            "[owner, cost-center]",
            |c, text, p| match TagKey::new(text.as_str()) {
                Ok(key) => keys.push(Sourced {
                    value: key,
                    location: c.loc(p),
                }),
                Err(e) => c.tag_error(&e, p, format!("`{}`: {e}", shorten(&text))),
            },
        )?;
        Ok(keys)
    }

    /// `allowed:`: tag key → list of value globs (`*` and `?`, as name globs).
    fn allowed(&mut self, value: Value) -> Result<Vec<AllowedValues>> {
        let Value { head, pos, key_pos } = value;
        const HELP: &str =
            "write one `key: [allowed values]` per line, e.g. `env: [dev, test, prod]`";
        match head {
            Head::Map => {}
            Head::Scalar(ref s) if s.is_null() => {
                self.null_field("allowed", key_pos, HELP);
                return Ok(Vec::new());
            }
            other => {
                self.wrong_type(&other, pos, "a mapping of keys to allowed values", HELP)?;
                return Ok(Vec::new());
            }
        }
        let mut allowed: Vec<AllowedValues> = Vec::new();
        self.mapping(pos, |c, key, kpos| {
            let (vhead, vpos) = c.reader.node()?;
            if let Some(first) = allowed.iter().find(|a| a.key.value.as_str() == key) {
                let first = first.key.location.clone();
                c.duplicate(&key, kpos, first);
                return c.reader.skip(&vhead);
            }
            let tag_key = match TagKey::new(key.as_str()) {
                Ok(k) => Some(k),
                Err(e) => {
                    c.tag_error(&e, kpos, format!("`{}`: {e}", shorten(&key)));
                    None
                }
            };
            let field = format!("allowed.{}", shorten(&key));
            let mut values = Vec::new();
            let written = c.scalar_list(
                &field,
                Value {
                    head: vhead,
                    pos: vpos,
                    key_pos: kpos,
                },
                "[dev, test, prod]",
                |c, text, p| {
                    values.push(Sourced {
                        value: text,
                        location: c.loc(p),
                    })
                },
            )?;
            let listed = Collection {
                valid: values,
                written,
            };
            if listed.written == Some(0) {
                c.error(
                    Code::Policy,
                    kpos,
                    format!("`allowed` lists no value for `{}`", shorten(&key)),
                    "list the values the key may take, or remove the key from `allowed`",
                );
            }
            if let Some(key) = tag_key {
                allowed.push(AllowedValues {
                    key: Sourced {
                        value: key,
                        location: c.loc(kpos),
                    },
                    values: listed.valid,
                });
            }
            Ok(())
        })?;
        Ok(allowed)
    }

    /// `key_case: lower|any`.
    /// `fix: rename`: the location of the value.
    fn fix(&mut self, value: Value) -> Result<Option<crate::diagnostic::Location>> {
        const HELP: &str =
            "write `fix: rename` beside `key_case: lower` to rename case variants of managed keys";
        let Value { head, pos, key_pos } = value;
        let Head::Scalar(s) = head else {
            self.wrong_type(&head, pos, "`rename` for `fix`", HELP)?;
            return Ok(None);
        };
        if s.is_null() {
            self.null_field("fix", key_pos, HELP);
            return Ok(None);
        }
        if s.text != "rename" {
            self.error(
                Code::Policy,
                pos,
                format!("`fix` must be `rename`, not `{}`", shorten(&s.text)),
                HELP,
            );
            return Ok(None);
        }
        Ok(Some(self.loc(pos)))
    }

    /// `enforce: block|warn`.
    fn enforce(&mut self, value: Value) -> Result<Option<Sourced<Enforce>>> {
        let Value { head, pos, key_pos } = value;
        const HELP: &str = "write `enforce: block` (a desktop that would break a rule is not changed) or `enforce: warn` (it is repaired and the violation reported)";
        let Head::Scalar(s) = head else {
            self.wrong_type(&head, pos, "`block` or `warn` for `enforce`", HELP)?;
            return Ok(None);
        };
        if s.is_null() {
            self.null_field("enforce", key_pos, HELP);
            return Ok(None);
        }
        let enforce = match s.text.as_str() {
            "block" => Enforce::Block,
            "warn" => Enforce::Warn,
            other => {
                self.error(
                    Code::Policy,
                    pos,
                    format!(
                        "`enforce` must be `block` or `warn`, not `{}`",
                        shorten(other)
                    ),
                    HELP,
                );
                return Ok(None);
            }
        };
        Ok(Some(Sourced {
            value: enforce,
            location: self.loc(pos),
        }))
    }

    fn key_case(&mut self, value: Value) -> Result<Option<Sourced<KeyCase>>> {
        let Value { head, pos, key_pos } = value;
        const HELP: &str = "write `key_case: lower` (every key in lower case) or `key_case: any`";
        let Head::Scalar(s) = head else {
            self.wrong_type(&head, pos, "`lower` or `any` for `key_case`", HELP)?;
            return Ok(None);
        };
        if s.is_null() {
            self.null_field("key_case", key_pos, HELP);
            return Ok(None);
        }
        let case = match s.text.as_str() {
            "lower" => KeyCase::Lower,
            "any" => KeyCase::Any,
            other => {
                self.error(
                    Code::Policy,
                    pos,
                    format!(
                        "`key_case` must be `lower` or `any`, not `{}`",
                        shorten(other)
                    ),
                    HELP,
                );
                return Ok(None);
            }
        };
        Ok(Some(Sourced {
            value: case,
            location: self.loc(pos),
        }))
    }
}
