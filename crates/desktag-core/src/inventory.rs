//! The observed state: the desktops of one project and the tags they carry now, as read from the
//! Workspace API (or the emulator). Plain data; no I/O here.

use serde::{Deserialize, Serialize};

use crate::tags::{CompactString, Tags};

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

/// Sorts desktops by name, then id, as a reviewer reads them. Ids are unique, so the order is
/// the one order; sorting in place spares a scratch copy of 100,000 plans.
pub fn sort_by_name<T: Named>(desktops: &mut [T]) {
    desktops.sort_unstable_by(|a, b| (a.name(), a.id()).cmp(&(b.name(), b.id())));
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

/// One desktop as the list API reports it. Names, users and statuses are short: they are kept
/// inline (no allocation each), for the 100,000 desktops a run can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desktop {
    pub id: String,
    /// `computer_name`.
    pub name: CompactString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<CompactString>,
    /// The enterprise project the desktop belongs to, when the listing says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_project_id: Option<String>,
    #[serde(default = "default_status")]
    pub status: CompactString,
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

fn default_status() -> CompactString {
    CompactString::const_new("ACTIVE")
}

/// The desktops of one project, sorted by id: one vector, found by binary search (a map would
/// hold every id twice and a node per few desktops, for 100,000 desktops read at once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Sorted by id, ids unique.
    desktops: Vec<Desktop>,
}

impl Inventory {
    /// Of desktops with the same id, the last one is kept (as a map built from them would).
    /// Desktops already sorted by id, as the client returns them, are taken as they are.
    pub fn new(desktops: impl IntoIterator<Item = Desktop>) -> Self {
        let mut desktops: Vec<Desktop> = desktops.into_iter().collect();
        if !desktops.is_sorted_by(|a, b| a.id < b.id) {
            // Stable, so of equal ids the one listed last can win.
            desktops.sort_by(|a, b| a.id.cmp(&b.id));
            desktops.dedup_by(|later, kept| {
                let same = later.id == kept.id;
                if same {
                    std::mem::swap(later, kept);
                }
                same
            });
        }
        desktops.shrink_to_fit();
        Inventory { desktops }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Desktop> {
        self.desktops
            .binary_search_by(|d| d.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.desktops[i])
    }

    /// Desktops sorted by id.
    pub fn iter(&self) -> impl Iterator<Item = &Desktop> {
        self.desktops.iter()
    }

    pub fn len(&self) -> usize {
        self.desktops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.desktops.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn insert(&mut self, desktop: Desktop) {
        match self
            .desktops
            .binary_search_by(|d| d.id.as_str().cmp(&desktop.id))
        {
            Ok(i) => self.desktops[i] = desktop,
            Err(i) => self.desktops.insert(i, desktop),
        }
    }
}

/// Desktops sorted by id, moved out (the planner takes a desktop's tags instead of copying them),
/// the inventory shrinking as they go.
impl IntoIterator for Inventory {
    type Item = Desktop;
    type IntoIter = Draining<Desktop>;

    fn into_iter(self) -> Self::IntoIter {
        Draining::new(self.desktops)
    }
}

/// The items of a vector in order, each moved out, with the vector's buffer shrinking as they
/// go: what was taken is freed while the rest is worked on, not held to the end (as
/// `vec::IntoIter` holds it). For the inventory and the wants of 100,000 desktops, which the
/// plan replaces as it grows.
#[derive(Debug)]
pub struct Draining<T> {
    /// The items not taken yet, last first.
    rest: Vec<T>,
}

impl<T> Draining<T> {
    pub fn new(mut items: Vec<T>) -> Self {
        items.reverse();
        Draining { rest: items }
    }
}

impl<T> Iterator for Draining<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let item = self.rest.pop()?;
        // Halving: a few reallocations in all, each of what is left.
        if self.rest.len() <= self.rest.capacity() / 2 {
            self.rest.shrink_to_fit();
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.rest.len(), Some(self.rest.len()))
    }
}

impl FromIterator<Desktop> for Inventory {
    fn from_iter<I: IntoIterator<Item = Desktop>>(iter: I) -> Self {
        Inventory::new(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktops_are_kept_by_id_and_the_last_of_an_id_wins() {
        let inventory = Inventory::new([
            Desktop::new("c", "C-old", &[]),
            Desktop::new("a", "A", &[("env", "dev")]),
            Desktop::new("c", "C", &[]),
            Desktop::new("b", "B", &[]),
        ]);
        let ids: Vec<&str> = inventory.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(inventory.get("c").unwrap().name, "C");
        assert_eq!(inventory.get("a").unwrap().tags.get("env").unwrap(), "dev");
        assert!(inventory.get("d").is_none());
        assert_eq!(inventory.len(), 3);
        let moved: Vec<CompactString> = inventory.into_iter().map(|d| d.name).collect();
        assert_eq!(moved, ["A", "B", "C"]);
    }

    #[test]
    fn draining_gives_the_items_in_order_and_frees_what_was_taken() {
        let mut drain = Draining::new((0..100).collect::<Vec<u32>>());
        let first: Vec<u32> = drain.by_ref().take(60).collect();
        assert_eq!(first, (0..60).collect::<Vec<_>>());
        assert_eq!(drain.size_hint(), (40, Some(40)));
        assert!(drain.rest.capacity() < 100, "{}", drain.rest.capacity());
        assert_eq!(drain.collect::<Vec<_>>(), (60..100).collect::<Vec<_>>());
    }

    #[test]
    fn a_sorted_listing_is_taken_as_it_is_and_inserts_keep_the_order() {
        let mut inventory =
            Inventory::new([Desktop::new("a", "A", &[]), Desktop::new("c", "C", &[])]);
        inventory.insert(Desktop::new("b", "B", &[]));
        inventory.insert(Desktop::new("a", "A2", &[]));
        let names: Vec<&str> = inventory.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["A2", "B", "C"]);
        assert!(Inventory::new([]).is_empty());
    }
}
