//! The emulator's desktops and the service's tag rules: key/value checks, overwrite on an existing
//! key, deleting a missing key is success, and the per-desktop cap with all-or-nothing batches.
//! Each desktop has its own lock, so writes to different desktops never wait for each other; a
//! cross-desktop batch takes its desktops' locks in id order (the map's order), so two batches
//! cannot deadlock. No I/O here; every write that changes something gets a version number for
//! the state file.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use desktag_core::tags::{check_key, check_value, is_system_key, Tags};

use super::errors::ServiceError;
use super::seed::{EmulatedDesktop, Seed};

/// The state of one emulated project.
#[derive(Debug)]
pub(crate) struct Store {
    project_id: String,
    max_tags: usize,
    /// The set of desktops never changes after start, so the map itself needs no lock.
    desktops: BTreeMap<String, Mutex<EmulatedDesktop>>,
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
    fn matches(&self, d: &EmulatedDesktop) -> bool {
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

/// Most desktops one cross-desktop batch call may name.
pub const MAX_BATCH_DESKTOPS: usize = 100;
/// Most tags one desktop entry of a cross-desktop batch call may carry.
pub const MAX_BATCH_TAGS: usize = 20;

/// What a cross-desktop batch create does when it would take one desktop past the tag cap. The
/// real service does not document it, so clients must converge under either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BatchCap {
    /// Fail the whole call (400), changing nothing.
    #[default]
    Reject,
    /// Leave that desktop unchanged and apply the rest; the answer is still 204.
    Skip,
}

/// The result of a write: `Some(version)` if it changed state, `None` if it was a no-op.
pub(crate) type WriteOutcome = Result<Option<u64>, ServiceError>;

impl Store {
    pub(crate) fn new(seed: Seed, max_tags: usize) -> Store {
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

    pub(crate) fn project_id(&self) -> &str {
        &self.project_id
    }

    fn lock<'a>(&'a self, id: &str) -> Result<MutexGuard<'a, EmulatedDesktop>, ServiceError> {
        let cell = self
            .desktops
            .get(id)
            .ok_or_else(|| ServiceError::desktop_not_found(id))?;
        // A panic while holding the lock cannot leave a half-applied change (changes are built
        // first and swapped in), so a poisoned lock is still consistent.
        Ok(cell.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Matching desktops sorted by id: the total count and the page `[offset, offset+limit)`.
    /// With `desktop_id` filters only those desktops are looked at (O(ids), not a scan).
    pub(crate) fn list(
        &self,
        filter: &ListFilter,
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<EmulatedDesktop>) {
        let cells: Box<dyn Iterator<Item = &Mutex<EmulatedDesktop>>> =
            if filter.desktop_ids.is_empty() {
                Box::new(self.desktops.values())
            } else {
                let ids: BTreeSet<&str> = filter.desktop_ids.iter().map(String::as_str).collect();
                Box::new(ids.into_iter().filter_map(|id| self.desktops.get(id)))
            };
        let mut total = 0;
        let mut page = Vec::new();
        for cell in cells {
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

    pub(crate) fn tags(&self, id: &str) -> Result<Vec<(String, String)>, ServiceError> {
        let d = self.lock(id)?;
        Ok(d.tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// Creates or overwrites tags on one desktop, all or nothing. A later duplicate key in
    /// `tags` wins. Rejected if a key or value is invalid, or if a new key would take the desktop
    /// past the cap (system `_sys_` keys do not count; overwrites are always fine).
    pub(crate) fn create(&self, id: &str, tags: &[(String, String)]) -> WriteOutcome {
        for (key, value) in tags {
            check_key(key).map_err(|e| ServiceError::invalid_tag(key, &e))?;
            check_value(value).map_err(|e| ServiceError::invalid_tag(key, &e))?;
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
            return Err(ServiceError::tag_cap(id, before, &added, self.max_tags));
        }
        if next == d.tags {
            return Ok(None);
        }
        d.tags = next;
        Ok(Some(self.bump()))
    }

    /// Deletes keys from one desktop; keys it does not have are a success.
    pub(crate) fn delete(&self, id: &str, keys: &[String]) -> WriteOutcome {
        for key in keys {
            check_key(key).map_err(|e| ServiceError::invalid_tag(key, &e))?;
        }
        let mut d = self.lock(id)?;
        let mut changed = false;
        for key in keys {
            changed |= d.tags.remove(key.as_str()).is_some();
        }
        Ok(changed.then(|| self.bump()))
    }

    /// Creates or overwrites tags on many desktops in one call (the cross-desktop batch):
    /// unknown desktop ids are silently left out, a later entry for the same desktop wins over an
    /// earlier one, and a bad tag (or, with `BatchCap::Reject`, one desktop pushed past the cap)
    /// fails the whole call without changing anything.
    pub(crate) fn batch_create(
        &self,
        entries: &[(String, Vec<(String, String)>)],
        cap: BatchCap,
    ) -> WriteOutcome {
        check_batch_shape(entries)?;
        for (_, tags) in entries {
            for (key, value) in tags {
                check_key(key).map_err(|e| ServiceError::invalid_tag(key, &e))?;
                check_value(value).map_err(|e| ServiceError::invalid_tag(key, &e))?;
            }
        }
        self.batch(entries, |id, current, tags| {
            let mut next = current.clone();
            let mut added = Vec::new();
            for (key, value) in tags {
                if next.insert(key.into(), value.into()).is_none() {
                    added.push(key.as_str());
                }
            }
            let before = count_user_tags(current.keys());
            if !added.is_empty() && count_user_tags(next.keys()) > self.max_tags {
                return match cap {
                    BatchCap::Reject => {
                        Err(ServiceError::tag_cap(id, before, &added, self.max_tags))
                    }
                    BatchCap::Skip => Ok(current.clone()),
                };
            }
            Ok(next)
        })
    }

    /// Deletes keys from many desktops in one call; unknown desktop ids are silently left out and
    /// keys a desktop does not have are a success. A bad key fails the whole call.
    pub(crate) fn batch_delete(&self, entries: &[(String, Vec<String>)]) -> WriteOutcome {
        check_batch_shape(entries)?;
        for (_, keys) in entries {
            for key in keys {
                check_key(key).map_err(|e| ServiceError::invalid_tag(key, &e))?;
            }
        }
        self.batch(entries, |_, current, keys| {
            let mut next = current.clone();
            for key in keys {
                next.remove(key.as_str());
            }
            Ok(next)
        })
    }

    /// Locks every known desktop of `entries` in id order, computes each one's next tags with
    /// `change` (called once per entry, in order), and swaps them all in only if none failed.
    fn batch<T>(
        &self,
        entries: &[(String, Vec<T>)],
        change: impl Fn(&str, &Tags, &[T]) -> Result<Tags, ServiceError>,
    ) -> WriteOutcome {
        let mut by_id: BTreeMap<&str, Vec<&[T]>> = BTreeMap::new();
        for (id, items) in entries {
            if self.desktops.contains_key(id.as_str()) {
                by_id.entry(id).or_default().push(items);
            }
        }
        let mut locked = Vec::with_capacity(by_id.len());
        for (id, parts) in by_id {
            let guard = self.lock(id)?;
            let mut next = guard.tags.clone();
            for items in parts {
                next = change(id, &next, items)?;
            }
            locked.push((guard, next));
        }
        let mut changed = false;
        for (guard, next) in &mut locked {
            if guard.tags != *next {
                guard.tags = std::mem::take(next);
                changed = true;
            }
        }
        // Bumped while every changed desktop is still locked (see `snapshot`).
        Ok(changed.then(|| self.bump()))
    }

    /// The version of the last change made (0 before any).
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// Must be called while the changed desktop is still locked (see `snapshot`).
    fn bump(&self) -> u64 {
        self.version.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// A consistent copy for the state file: it contains at least every change whose version is
    /// ≤ the returned version. (The version is read first; a change with a version ≤ it finished
    /// under its desktop's lock before the bump, so taking that lock afterwards sees it.)
    pub(crate) fn snapshot(&self) -> (u64, Seed) {
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
    pub(crate) fn desktops(&self) -> Vec<EmulatedDesktop> {
        self.desktops
            .values()
            .map(|c| c.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }
}

fn check_batch_shape<T>(entries: &[(String, Vec<T>)]) -> Result<(), ServiceError> {
    if entries.len() > MAX_BATCH_DESKTOPS {
        return Err(ServiceError::bad_request(format!(
            "{} desktops given; at most {MAX_BATCH_DESKTOPS} are allowed per batch call",
            entries.len()
        )));
    }
    if let Some((id, items)) = entries.iter().find(|(_, t)| t.len() > MAX_BATCH_TAGS) {
        return Err(ServiceError::bad_request(format!(
            "desktop `{id}` has {} tags in this call; at most {MAX_BATCH_TAGS} are allowed per \
             desktop per batch call",
            items.len()
        )));
    }
    Ok(())
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
