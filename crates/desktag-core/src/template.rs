//! Templated tag values: a value may take the desktop's own attributes, `${desktop.user_name}`,
//! `${desktop.name}`, `${desktop.id}`, `${desktop.enterprise_project_id}`, and values from the
//! environment at plan time, `${env.NAME}`; `$$` writes a dollar. Parsed and checked where
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

/// Why a template has no value for one desktop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Missing {
    #[error("`${{desktop.{}}}` has no value for this desktop", .0.as_str())]
    Desktop(Attr),
    #[error("`${{env.{0}}}`: the environment variable `{0}` is not set")]
    Env(String),
}

/// Whether `value` is a template (anything with a `$`; plain values cost one scan).
pub(crate) fn is_template(value: &str) -> bool {
    value.contains('$')
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Ref(Reference),
}

/// A parsed template: text (with `$$` already a `$`) and references, in order. Parse once with
/// [`Template::parse`], then render it for as many desktops as select it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template(Vec<Piece>);

impl Template {
    /// Parses a value written in a manifest: every reference known, every `${` closed.
    pub(crate) fn parse(value: &str) -> Result<Template, TemplateError> {
        parse(value).map(Template)
    }

    /// The text around the references, as it will appear in every rendered value.
    pub(crate) fn literal(&self) -> String {
        self.0
            .iter()
            .filter_map(|p| match p {
                Piece::Text(text) => Some(text.as_str()),
                Piece::Ref(_) => None,
            })
            .collect()
    }

    /// The references, in order.
    pub(crate) fn references(&self) -> impl Iterator<Item = &Reference> {
        self.0.iter().filter_map(|p| match p {
            Piece::Ref(r) => Some(r),
            Piece::Text(_) => None,
        })
    }

    /// Renders the template for one desktop. `desktop` answers attributes (`None`: the desktop
    /// has no such value), `env` the environment captured at plan time. The error names what is
    /// missing.
    pub(crate) fn render(
        &self,
        desktop: &dyn Fn(Attr) -> Option<String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, Missing> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Ref(Reference::Desktop(attr)) => match desktop(*attr) {
                    Some(v) if !v.is_empty() => out.push_str(&v),
                    _ => return Err(Missing::Desktop(*attr)),
                },
                Piece::Ref(Reference::Env(name)) => match env(name) {
                    Some(v) => out.push_str(&v),
                    None => return Err(Missing::Env(name.clone())),
                },
            }
        }
        Ok(out)
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

fn parse(value: &str) -> Result<Vec<Piece>, TemplateError> {
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
                let reference = reference(&inner, i)?;
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Ref(reference));
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

fn reference(inner: &str, offset: usize) -> Result<Reference, TemplateError> {
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
                help: "use letters, digits and `_`, not starting with a digit, e.g. `${env.COST_CENTER}`".into(),
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
        (name == "TEAM").then(|| "finance".to_string())
    }

    #[test]
    fn every_variable_renders_and_dollars_double() {
        let r = |v: &str| Template::parse(v).unwrap().render(&desktop, &env);
        assert_eq!(r("${desktop.user_name}").unwrap(), "ann");
        assert_eq!(r("${desktop.name}-${desktop.id}").unwrap(), "FIN-1-d1");
        assert_eq!(r("team ${env.TEAM}").unwrap(), "team finance");
        assert_eq!(r("a$$b").unwrap(), "a$b");
        assert_eq!(
            r("${desktop.enterprise_project_id}")
                .unwrap_err()
                .to_string(),
            "`${desktop.enterprise_project_id}` has no value for this desktop"
        );
        assert_eq!(
            r("${env.NOPE}").unwrap_err().to_string(),
            "`${env.NOPE}`: the environment variable `NOPE` is not set"
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
        assert!(check("${env.HW_SECRET_KEY}")
            .unwrap_err()
            .message
            .contains("looks like a credential"));
        assert!(check("${env.1X}").is_err());
        assert!(check("${env.COST_CENTER}").is_ok());
    }

    #[test]
    fn references_and_literal_text_are_listed_in_order() {
        let t = check("${env.A}/${desktop.id}$$x").unwrap();
        let refs: Vec<&Reference> = t.references().collect();
        assert_eq!(
            refs,
            [&Reference::Env("A".into()), &Reference::Desktop(Attr::Id)]
        );
        assert_eq!(t.literal(), "/$x");
        // `$${` is a dollar then text, not a reference.
        assert_eq!(check("$${x}").unwrap().literal(), "${x}");
        assert_eq!(check("plain").unwrap().references().count(), 0);
    }
}
