//! The emulator's desktops and the service's tag rules: key/value checks, overwrite on an existing
//! key, deleting a missing key is success, and the per-desktop cap with all-or-nothing batches.
//! Each desktop has its own lock, so writes to different desktops never wait for each other. No
//! I/O here; every write that changes something gets a version number for the state file.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::inventory::Desktop;
use crate::tags::{check_key, check_value, is_system_key};

use super::errors::ApiError;
use super::seed::Seed;

/// The state of one emulated project.
#[derive(Debug)]
pub(crate) struct Store {
    project_id: String,
    max_tags: usize,
    /// The set of desktops never changes after start, so the map itself needs no lock.
    desktops: BTreeMap<String, Mutex<Desktop>>,
    /// Bumped (under the desktop's lock, after the change) by every write that changed state.
    version: AtomicU64,
}

/// Which desktops a list request wants. Empty vectors mean "no filter".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ListFilter {
    pub desktop_ids: Vec<String>,
    /// Exact computer names; a desktop matching any of them is listed.
    pub computer_names: Vec<String>,
    /// Substring of the user name (the real API's fuzzy match).
    pub user_names: Vec<String>,
    pub statuses: Vec<String>,
}

impl ListFilter {
    fn matches(&self, d: &Desktop) -> bool {
        (self.desktop_ids.is_empty() || self.desktop_ids.contains(&d.id))
            && (self.computer_names.is_empty() || self.computer_names.contains(&d.name))
            && (self.user_names.is_empty()
                || self.user_names.iter().any(|u| {
                    d.user
                        .as_deref()
                        .is_some_and(|have| have.contains(u.as_str()))
                }))
            && (self.statuses.is_empty() || self.statuses.contains(&d.status))
    }
}

/// The result of a write: `Some(version)` if it changed state, `None` if it was a no-op.
pub(crate) type WriteOutcome = Result<Option<u64>, ApiError>;

impl Store {
    pub fn new(seed: Seed, max_tags: usize) -> Store {
        Store {
            project_id: seed.project_id,
            max_tags,
            desktops: seed
                .desktops
                .into_iter()
                .map(|d| (d.id.clone(), Mutex::new(d)))
                .collect(),
            version: AtomicU64::new(0),
        }
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    fn lock<'a>(&'a self, id: &str) -> Result<MutexGuard<'a, Desktop>, ApiError> {
        let cell = self
            .desktops
            .get(id)
            .ok_or_else(|| ApiError::desktop_not_found(id))?;
        // A panic while holding the lock cannot leave a half-applied change (changes are built
        // first and swapped in), so a poisoned lock is still consistent.
        Ok(cell.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Matching desktops sorted by id: the total count and the page `[offset, offset+limit)`.
    pub fn list(&self, filter: &ListFilter, offset: usize, limit: usize) -> (usize, Vec<Desktop>) {
        let mut total = 0;
        let mut page = Vec::new();
        for cell in self.desktops.values() {
            let d = cell.lock().unwrap_or_else(|p| p.into_inner());
            if filter.matches(&d) {
                if total >= offset && page.len() < limit {
                    page.push(d.clone());
                }
                total += 1;
            }
        }
        (total, page)
    }

    pub fn tags(&self, id: &str) -> Result<Vec<(String, String)>, ApiError> {
        let d = self.lock(id)?;
        Ok(d.tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// Creates or overwrites tags on one desktop, all or nothing. A later duplicate key in
    /// `tags` wins. Rejected if a key or value is invalid, or if a new key would take the desktop
    /// past the cap (system `_sys_` keys do not count; overwrites are always fine).
    pub fn create(&self, id: &str, tags: &[(String, String)]) -> WriteOutcome {
        for (key, value) in tags {
            check_key(key).map_err(|e| ApiError::invalid_tag(key, &e))?;
            check_value(value).map_err(|e| ApiError::invalid_tag(key, &e))?;
        }
        let mut d = self.lock(id)?;
        let mut next = d.tags.clone();
        let mut added = Vec::new();
        for (key, value) in tags {
            if next.insert(key.into(), value.into()).is_none() {
                added.push(key.as_str());
            }
        }
        let before = count_user_tags(d.tags.keys());
        let after = count_user_tags(next.keys());
        if !added.is_empty() && after > self.max_tags {
            return Err(ApiError::tag_cap(id, before, &added, self.max_tags));
        }
        if next == d.tags {
            return Ok(None);
        }
        d.tags = next;
        Ok(Some(self.bump()))
    }

    /// Deletes keys from one desktop; keys it does not have are a success.
    pub fn delete(&self, id: &str, keys: &[String]) -> WriteOutcome {
        for key in keys {
            check_key(key).map_err(|e| ApiError::invalid_tag(key, &e))?;
        }
        let mut d = self.lock(id)?;
        let mut changed = false;
        for key in keys {
            changed |= d.tags.remove(key.as_str()).is_some();
        }
        Ok(changed.then(|| self.bump()))
    }

    /// The version of the last change made (0 before any).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// Must be called while the changed desktop is still locked (see `snapshot`).
    fn bump(&self) -> u64 {
        self.version.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// A consistent copy for the state file: it contains at least every change whose version is
    /// ≤ the returned version. (The version is read first; a change with a version ≤ it finished
    /// under its desktop's lock before the bump, so taking that lock afterwards sees it.)
    pub fn snapshot(&self) -> (u64, Seed) {
        let version = self.version.load(Ordering::SeqCst);
        (
            version,
            Seed {
                project_id: self.project_id.clone(),
                desktops: self.desktops(),
            },
        )
    }

    /// Every desktop, sorted by id.
    pub fn desktops(&self) -> Vec<Desktop> {
        self.desktops
            .values()
            .map(|c| c.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }
}

fn count_user_tags<'a>(keys: impl Iterator<Item = &'a compact_str::CompactString>) -> usize {
    keys.filter(|k| !is_system_key(k)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(max: usize) -> Store {
        let seed = Seed::from_yaml(
            "project_id: p\ndesktops:\n  - {id: a, name: A, user: alice, tags: {x: \"1\", _sys_s: \"s\"}}\n  - {id: b, name: B, user: bob, status: SHUTOFF}\n",
        )
        .unwrap();
        Store::new(seed, max)
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn create_overwrites_and_reports_no_op_writes() {
        let s = store(10);
        assert_eq!(s.create("a", &pairs(&[("y", "2")])).unwrap(), Some(1));
        assert_eq!(s.create("a", &pairs(&[("y", "3")])).unwrap(), Some(2));
        assert_eq!(s.create("a", &pairs(&[("y", "3")])).unwrap(), None);
        assert_eq!(
            s.tags("a").unwrap(),
            pairs(&[("_sys_s", "s"), ("x", "1"), ("y", "3")])
        );
    }

    #[test]
    fn cap_rejects_new_keys_but_not_overwrites_and_ignores_system_tags() {
        let s = store(2);
        s.create("a", &pairs(&[("y", "2")])).unwrap();
        let err = s.create("a", &pairs(&[("z", "3")])).unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        assert!(
            err.message.contains("`z`") && err.message.contains("limit of 2"),
            "{}",
            err.message
        );
        s.create("a", &pairs(&[("x", "changed")])).unwrap();
        assert_eq!(s.tags("a").unwrap().len(), 3);
    }

    #[test]
    fn a_batch_is_all_or_nothing() {
        let s = store(3);
        let before = s.tags("a").unwrap();
        assert!(s
            .create(
                "a",
                &pairs(&[("x", "new"), ("w", "0"), ("y", "1"), ("z", "2")])
            )
            .is_err());
        assert!(s
            .create("a", &pairs(&[("ok", "1"), ("bad/key", "2")]))
            .is_err());
        assert_eq!(s.tags("a").unwrap(), before);
    }

    #[test]
    fn delete_of_a_missing_key_succeeds_without_a_change() {
        let s = store(10);
        assert_eq!(s.delete("a", &["nope".to_string()]).unwrap(), None);
        assert_eq!(s.delete("a", &["x".to_string()]).unwrap(), Some(1));
        assert!(s.delete("a", &["_sys_s".to_string()]).is_err());
    }

    #[test]
    fn unknown_desktops_are_404() {
        let s = store(10);
        assert_eq!(s.tags("zz").unwrap_err().status.as_u16(), 404);
        assert_eq!(
            s.create("zz", &pairs(&[("k", "v")]))
                .unwrap_err()
                .status
                .as_u16(),
            404
        );
    }

    #[test]
    fn list_filters_and_pages_sorted_by_id() {
        let s = store(10);
        let all = ListFilter::default();
        let (total, page) = s.list(&all, 1, 10);
        assert_eq!((total, page.len(), page[0].id.as_str()), (2, 1, "b"));
        let (total, page) = s.list(&all, 0, 0);
        assert_eq!((total, page.len()), (2, 0));
        let f = ListFilter {
            user_names: vec!["lic".into()],
            ..ListFilter::default()
        };
        assert_eq!(s.list(&f, 0, 10).1[0].id, "a");
        let f = ListFilter {
            statuses: vec!["SHUTOFF".into()],
            computer_names: vec!["A".into(), "B".into()],
            ..ListFilter::default()
        };
        assert_eq!(s.list(&f, 0, 10).0, 1);
    }
}
