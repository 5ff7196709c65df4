//! Templated tag values: a value may take the desktop's own attributes, `${desktop.user_name}`,
//! `${desktop.name}`, `${desktop.id}`, `${desktop.enterprise_project_id}`, and values from the
//! environment at plan time, `${env.NAME}`; `$$` writes a dollar. A reference may carry a
//! fallback for a desktop without the attribute or an unset variable, as in a shell:
//! `${desktop.user_name:-shared-pool}`. Parsed and checked where
//! manifests are loaded ([`Template::parse`]), rendered per desktop when planning
//! ([`Template::render`]). A leaf (it borrows only `suggest` for "did you mean"). Pure.

use std::fmt;

/// A desktop attribute a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attr {
    UserName,
    Name,
    Id,
    EnterpriseProjectId,
}

impl Attr {
    const ALL: [(&'static str, Attr); 4] = [
        ("user_name", Attr::UserName),
        ("name", Attr::Name),
        ("id", Attr::Id),
        ("enterprise_project_id", Attr::EnterpriseProjectId),
    ];

    /// The attribute named `name` (`user_name`, `name`, `id`, `enterprise_project_id`).
    pub fn from_name(name: &str) -> Option<Attr> {
        Attr::ALL.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    pub fn as_str(self) -> &'static str {
        Attr::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// What `${…}` refers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Reference {
    Desktop(Attr),
    Env(String),
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Desktop(attr) => write!(f, "${{desktop.{}}}", attr.as_str()),
            Reference::Env(name) => write!(f, "${{env.{name}}}"),
        }
    }
}

/// A template that cannot work, with where in the value (0-based character offset) and how to
/// fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError {
    pub message: String,
    pub help: String,
    pub offset: usize,
}

/// Whether `value` is a template (anything with a `$`; plain values cost one scan).
pub(crate) fn is_template(value: &str) -> bool {
    value.contains('$')
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// A reference and its fallback (`${desktop.user_name:-shared-pool}`), used when the
    /// reference has no value or an empty one.
    Ref(Reference, Option<String>),
}

/// A parsed template: text (with `$$` already a `$`) and references, in order. Parse once with
/// [`Template::parse`], then render it for as many desktops as select it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template(Vec<Piece>);

impl Template {
    /// Parses a value written in a manifest: every reference known, every `${` closed, and
    /// every environment variable one templates may read ([`may_read_env`] with no allow-list).
    #[cfg(test)]
    pub(crate) fn parse(value: &str) -> Result<Template, TemplateError> {
        Template::parse_allowing(value, &[])
    }

    /// [`Template::parse`], with the variables `allow` (desktag.toml's `env`) readable too.
    pub(crate) fn parse_allowing(value: &str, allow: &[String]) -> Result<Template, TemplateError> {
        parse(value, Some(allow)).map(Template)
    }

    /// The syntax alone, for a value the loader has checked already: which variables may be
    /// read was decided there, and only those are ever captured from the environment.
    pub(crate) fn parse_checked(value: &str) -> Result<Template, TemplateError> {
        parse(value, None).map(Template)
    }

    /// The text around the references, as it will appear in every rendered value.
    pub(crate) fn literal(&self) -> String {
        self.0
            .iter()
            .filter_map(|p| match p {
                Piece::Text(text) => Some(text.as_str()),
                Piece::Ref(..) => None,
            })
            .collect()
    }

    /// The references, in order.
    pub(crate) fn references(&self) -> impl Iterator<Item = &Reference> {
        self.0.iter().filter_map(|p| match p {
            Piece::Ref(r, _) => Some(r),
            Piece::Text(_) => None,
        })
    }

    /// The fallbacks written after `:-`, with their reference, in order. Each may end up as the
    /// whole value, so the loader checks it as a tag value.
    pub(crate) fn fallbacks(&self) -> impl Iterator<Item = (&Reference, &str)> {
        self.0.iter().filter_map(|p| match p {
            Piece::Ref(r, Some(fallback)) => Some((r, fallback.as_str())),
            _ => None,
        })
    }

    /// Renders the template for one desktop. `desktop` answers attributes (`None`: the desktop
    /// has no such value), `env` the environment captured at plan time. A reference without a
    /// value (absent or empty) takes its fallback; without one, the error names what is missing.
    pub(crate) fn render(
        &self,
        desktop: &dyn Fn(Attr) -> Option<String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, Missing> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Ref(reference, fallback) => {
                    let value = match reference {
                        Reference::Desktop(attr) => desktop(*attr),
                        Reference::Env(name) => env(name),
                    };
                    match (value, fallback) {
                        (Some(v), _) if !v.is_empty() => out.push_str(&v),
                        (_, Some(fallback)) => out.push_str(fallback),
                        // An empty variable is a value; an empty attribute is none.
                        (Some(v), None) if matches!(reference, Reference::Env(_)) => {
                            out.push_str(&v)
                        }
                        (_, None) => return Err(Missing::of(reference)),
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The prefix of the environment variables a template may read, as Terraform reads only
/// `TF_VAR_*`: a CI job's other variables (credentials, tokens, URLs with passwords) are never
/// readable from a manifest a pull request can edit.
pub const ENV_PREFIX: &str = "DESKTAG_VAR_";

/// Whether a template may read the environment variable `name`: it starts with [`ENV_PREFIX`]
/// (and has more after it) or is one of `allow` (desktag.toml's `env`), and in either case does
/// not look like a credential.
pub fn may_read_env(name: &str, allow: &[String]) -> bool {
    (has_prefix(name) || allow.iter().any(|a| a == name)) && !is_secret_name(name)
}

fn has_prefix(name: &str) -> bool {
    name.len() > ENV_PREFIX.len() && name.starts_with(ENV_PREFIX)
}

/// Why a template has no value for one desktop; the message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Missing {
    #[error(
        "`${{desktop.{attr}}}` has no value for this desktop (give it a fallback: `${{desktop.{attr}:-VALUE}}`)",
        attr = .0.as_str()
    )]
    Desktop(Attr),
    #[error("`${{env.{0}}}`: the environment variable `{0}` is not set")]
    Env(String),
}

impl Missing {
    fn of(reference: &Reference) -> Missing {
        match reference {
            Reference::Desktop(attr) => Missing::Desktop(*attr),
            Reference::Env(name) => Missing::Env(name.clone()),
        }
    }
}

/// Environment variables a template may never read: credentials would end up in tags.
fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["SECRET", "TOKEN", "PASSWORD", "PASSWD", "PRIVATE"]
        .iter()
        .any(|w| upper.contains(w))
        || upper.ends_with("_SK")
        || upper.ends_with("_AK")
        || upper.ends_with("_KEY")
}

fn parse(value: &str, allow: Option<&[String]>) -> Result<Vec<Piece>, TemplateError> {
    let chars: Vec<char> = value.chars().collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            text.push(chars[i]);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                text.push('$');
                i += 2;
            }
            Some('{') => {
                let Some(len) = chars[i + 2..].iter().position(|c| *c == '}') else {
                    return Err(TemplateError {
                        message: "`${` is not closed".into(),
                        help: "close the reference with `}`, e.g. `${desktop.user_name}`".into(),
                        offset: i,
                    });
                };
                let inner: String = chars[i + 2..i + 2 + len].iter().collect();
                let (inner, fallback) = match inner.split_once(":-") {
                    Some((inner, fallback)) => (inner.to_string(), Some(fallback.to_string())),
                    None => (inner, None),
                };
                let reference = reference(&inner, i, allow)?;
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Ref(reference, fallback));
                i += 3 + len;
            }
            _ => {
                return Err(TemplateError {
                    message: "a `$` must start a reference `${…}` or be doubled".into(),
                    help:
                        "write `${desktop.user_name}` (or another reference), or `$$` for a dollar"
                            .into(),
                    offset: i,
                })
            }
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// One `${…}` reference; with `allow`, an environment variable must be one templates may read.
fn reference(
    inner: &str,
    offset: usize,
    allow: Option<&[String]>,
) -> Result<Reference, TemplateError> {
    let known = || {
        let mut names: Vec<String> = Attr::ALL
            .iter()
            .map(|(n, _)| format!("desktop.{n}"))
            .collect();
        names.push("env.NAME".into());
        names
    };
    let unknown = |suggestion: Option<String>| TemplateError {
        message: format!("unknown reference `${{{inner}}}`"),
        help: match suggestion {
            Some(s) => format!("did you mean `${{{s}}}`?"),
            None => format!("use one of {}", known().join(", ")),
        },
        offset,
    };
    if let Some(attr) = inner.strip_prefix("desktop.") {
        return match Attr::ALL.iter().find(|(n, _)| *n == attr) {
            Some((_, a)) => Ok(Reference::Desktop(*a)),
            None => {
                let names: Vec<&str> = Attr::ALL.iter().map(|(n, _)| *n).collect();
                let near = crate::suggest::closest(attr, &names).map(|n| format!("desktop.{n}"));
                Err(unknown(near))
            }
        };
    }
    if let Some(name) = inner.strip_prefix("env.") {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(TemplateError {
                message: format!("`{name}` is not an environment variable name"),
                help: "use letters, digits and `_`, not starting with a digit, e.g. `${env.DESKTAG_VAR_COST_CENTER}`".into(),
                offset,
            });
        }
        let Some(allow) = allow else {
            return Ok(Reference::Env(name.to_string()));
        };
        if !has_prefix(name) && !allow.iter().any(|a| a == name) {
            let suggested = if name.starts_with(ENV_PREFIX) {
                format!("{ENV_PREFIX}COST_CENTER")
            } else {
                format!("{ENV_PREFIX}{name}")
            };
            return Err(TemplateError {
                message: format!(
                    "`${{env.{name}}}` cannot be read: templates read only environment variables named {ENV_PREFIX}* or listed in desktag.toml's `env`"
                ),
                help: format!(
                    "export the value under that prefix in the job (`{suggested}=…`) and write `${{env.{suggested}}}`; \
                     other variables of a CI job (credentials among them) are never readable from a manifest"
                ),
                offset,
            });
        }
        if is_secret_name(name) {
            return Err(TemplateError {
                message: format!("`${{env.{name}}}` looks like a credential; tags are not secret"),
                help: "templates may not read variables whose names contain SECRET, TOKEN, PASSWORD or end in _AK, _SK, _KEY".into(),
                offset,
            });
        }
        return Ok(Reference::Env(name.to_string()));
    }
    let near = crate::suggest::closest(inner, &["desktop.user_name", "desktop.name", "desktop.id"])
        .map(String::from);
    Err(unknown(near))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desktop(attr: Attr) -> Option<String> {
        match attr {
            Attr::UserName => Some("ann".into()),
            Attr::Name => Some("FIN-1".into()),
            Attr::Id => Some("d1".into()),
            Attr::EnterpriseProjectId => None,
        }
    }

    fn env(name: &str) -> Option<String> {
        (name == "DESKTAG_VAR_TEAM").then(|| "finance".to_string())
    }

    #[test]
    fn every_variable_renders_and_dollars_double() {
        let r = |v: &str| Template::parse(v).unwrap().render(&desktop, &env);
        assert_eq!(r("${desktop.user_name}").unwrap(), "ann");
        assert_eq!(r("${desktop.name}-${desktop.id}").unwrap(), "FIN-1-d1");
        assert_eq!(r("team ${env.DESKTAG_VAR_TEAM}").unwrap(), "team finance");
        assert_eq!(r("a$$b").unwrap(), "a$b");
        assert_eq!(
            r("${desktop.enterprise_project_id}")
                .unwrap_err()
                .to_string(),
            "`${desktop.enterprise_project_id}` has no value for this desktop \
             (give it a fallback: `${desktop.enterprise_project_id:-VALUE}`)"
        );
        assert_eq!(
            r("${env.DESKTAG_VAR_NOPE}").unwrap_err().to_string(),
            "`${env.DESKTAG_VAR_NOPE}`: the environment variable `DESKTAG_VAR_NOPE` is not set"
        );
    }

    #[test]
    fn a_fallback_stands_in_for_a_missing_or_empty_value() {
        let r = |v: &str| Template::parse(v).unwrap().render(&desktop, &env);
        assert_eq!(
            r("${desktop.enterprise_project_id:-shared-pool}").unwrap(),
            "shared-pool"
        );
        assert_eq!(r("${desktop.user_name:-pool}").unwrap(), "ann");
        assert_eq!(r("t-${env.DESKTAG_VAR_NOPE:-none}").unwrap(), "t-none");
        assert_eq!(r("${env.DESKTAG_VAR_TEAM:-none}").unwrap(), "finance");
        assert_eq!(r("${desktop.enterprise_project_id:-}").unwrap(), "");
        let empty = |_: &str| Some(String::new());
        let t = Template::parse("${env.DESKTAG_VAR_E:-x}/${env.DESKTAG_VAR_E}").unwrap();
        assert_eq!(t.render(&desktop, &empty).unwrap(), "x/");
        let t = Template::parse("${desktop.id:-a} ${env.DESKTAG_VAR_B:-b c}").unwrap();
        let fallbacks: Vec<(&Reference, &str)> = t.fallbacks().collect();
        assert_eq!(
            fallbacks,
            [
                (&Reference::Desktop(Attr::Id), "a"),
                (&Reference::Env("DESKTAG_VAR_B".into()), "b c")
            ]
        );
        assert_eq!(t.literal(), " ");
        // The reference before `:-` is checked as ever.
        assert_eq!(
            check("${desktop.nmae:-x}").unwrap_err().help,
            "did you mean `${desktop.name}`?"
        );
    }

    fn check(value: &str) -> Result<Template, TemplateError> {
        Template::parse(value)
    }

    #[test]
    fn mistakes_are_located_and_suggest_the_fix() {
        let e = check("x ${desktop.nmae}").unwrap_err();
        assert_eq!(e.offset, 2);
        assert_eq!(e.message, "unknown reference `${desktop.nmae}`");
        assert_eq!(e.help, "did you mean `${desktop.name}`?");
        assert_eq!(
            check("${desktop.user_name").unwrap_err().message,
            "`${` is not closed"
        );
        assert!(check("${foo}").unwrap_err().help.starts_with("use one of"));
        assert_eq!(check("5$").unwrap_err().offset, 1);
        assert!(check("${env.DESKTAG_VAR_SECRET_KEY}")
            .unwrap_err()
            .message
            .contains("looks like a credential"));
        assert!(check("${env.1X}").is_err());
        assert!(check("${env.DESKTAG_VAR_COST_CENTER}").is_ok());
    }

    #[test]
    fn env_is_read_only_under_the_desktag_var_prefix() {
        // What a CI runner holds besides the repository's own values: none is readable.
        for name in [
            "DATABASE_URL",
            "APIKEY",
            "SK",
            "AWS_ACCESS_KEY_ID",
            "CI_JOB_JWT",
            "DB_PASS",
            "GITHUB_TOKEN",
            "TEAM",
            "DESKTAG_VAR_",
            "DESKTAG_ENDPOINT",
        ] {
            let e = check(&format!("${{env.{name}}}")).unwrap_err();
            assert!(
                e.message.contains("cannot be read") && e.help.contains("DESKTAG_VAR_"),
                "{name}: {e:?}"
            );
            assert!(!may_read_env(name, &[]), "{name}");
        }
        let e = check("${env.DATABASE_URL}").unwrap_err();
        assert!(
            e.help.contains("`DESKTAG_VAR_DATABASE_URL=…`"),
            "{}",
            e.help
        );
        assert!(check("${env.DESKTAG_VAR_TEAM}").is_ok());
        assert!(may_read_env("DESKTAG_VAR_TEAM", &[]));
        // Under the prefix, names that look like credentials stay refused.
        assert!(!may_read_env("DESKTAG_VAR_API_TOKEN", &[]));
        // desktag.toml's `env` allows a name exactly, never one that looks like a credential.
        let allow = ["BUILD_ID".to_string(), "DEPLOY_TOKEN".to_string()];
        assert!(may_read_env("BUILD_ID", &allow));
        assert!(!may_read_env("BUILD_ID_2", &allow));
        assert!(!may_read_env("DEPLOY_TOKEN", &allow));
        assert!(Template::parse_allowing("${env.BUILD_ID}", &allow).is_ok());
        let e = Template::parse_allowing("${env.DEPLOY_TOKEN}", &allow).unwrap_err();
        assert!(e.message.contains("looks like a credential"), "{e:?}");
        // The syntax alone, for values the loader checked: any name parses.
        assert!(Template::parse_checked("${env.BUILD_ID}").is_ok());
    }

    #[test]
    fn references_and_literal_text_are_listed_in_order() {
        let t = check("${env.DESKTAG_VAR_A}/${desktop.id}$$x").unwrap();
        let refs: Vec<&Reference> = t.references().collect();
        assert_eq!(
            refs,
            [
                &Reference::Env("DESKTAG_VAR_A".into()),
                &Reference::Desktop(Attr::Id)
            ]
        );
        assert_eq!(t.literal(), "/$x");
        // `$${` is a dollar then text, not a reference.
        assert_eq!(check("$${x}").unwrap().literal(), "${x}");
        assert_eq!(check("plain").unwrap().references().count(), 0);
    }
}
