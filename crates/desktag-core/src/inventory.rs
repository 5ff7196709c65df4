//! The observed state: the desktops of one project and the tags they carry now, as read from the
//! Workspace API (or the emulator). Plain data; no I/O here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::tags::Tags;

/// A desktop as people read it: by computer name, and by id where it has none. The one
/// definition of "name, then id" order and of "name or id" display, for every list of desktops
/// desktag prints (plans, reports, audits, exported manifests).
pub trait Named {
    /// The computer name; empty when unknown.
    fn name(&self) -> &str;
    fn id(&self) -> &str;

    /// The name, or the id of a desktop without one.
    fn label(&self) -> &str {
        if self.name().is_empty() {
            self.id()
        } else {
            self.name()
        }
    }
}

/// Sorts desktops by name, then id, as a reviewer reads them.
pub fn sort_by_name<T: Named>(desktops: &mut [T]) {
    desktops.sort_by(|a, b| (a.name(), a.id()).cmp(&(b.name(), b.id())));
}

impl Named for Desktop {
    fn name(&self) -> &str {
        &self.name
    }
    fn id(&self) -> &str {
        &self.id
    }
}

impl<T: Named> Named for &T {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn id(&self) -> &str {
        (**self).id()
    }
}

/// One desktop as the list API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desktop {
    pub id: String,
    /// `computer_name`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The enterprise project the desktop belongs to, when the listing says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_project_id: Option<String>,
    #[serde(default = "default_status")]
    pub status: String,
    #[serde(default)]
    pub tags: Tags,
}

impl Desktop {
    /// An ACTIVE desktop with no user, as examples, tests and benches build them.
    pub fn new(id: &str, name: &str, tags: &[(&str, &str)]) -> Desktop {
        Desktop {
            id: id.into(),
            name: name.into(),
            user: None,
            enterprise_project_id: None,
            status: default_status(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        }
    }
}

fn default_status() -> String {
    "ACTIVE".to_string()
}

/// The desktops of one project, indexed by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    desktops: BTreeMap<String, Desktop>,
}

impl Inventory {
    pub fn new(desktops: impl IntoIterator<Item = Desktop>) -> Self {
        Inventory {
            desktops: desktops.into_iter().map(|d| (d.id.clone(), d)).collect(),
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Desktop> {
        self.desktops.get(id)
    }

    /// Desktops sorted by id.
    pub fn iter(&self) -> impl Iterator<Item = &Desktop> {
        self.desktops.values()
    }

    pub fn len(&self) -> usize {
        self.desktops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.desktops.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn insert(&mut self, desktop: Desktop) {
        self.desktops.insert(desktop.id.clone(), desktop);
    }
}

impl FromIterator<Desktop> for Inventory {
    fn from_iter<I: IntoIterator<Item = Desktop>>(iter: I) -> Self {
        Inventory::new(iter)
    }
}
