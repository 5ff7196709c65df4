//! The emulator's projects and desktops and the service's tag rules: key/value checks, overwrite
//! on an existing key, deleting a missing key is success, and the per-desktop cap with
//! all-or-nothing batches. A project's desktops are a vector sorted by id, built once: what never
//! changes (id, name, user, status) is read without a lock, so a list page is a slice (O(page),
//! whatever its offset), a `desktop_id` filter a hash lookup, and only tags are locked — each
//! desktop's on its own, so writes to different desktops never wait for each other; a
//! cross-desktop batch takes its desktops' locks in id order, so two batches cannot deadlock. No
//! I/O here; every write that changes something gets a version number for the state file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use desktag_core::tags::{check_key, check_value, is_system_key, Tags};

use super::errors::ServiceError;
use super::seed::{EmulatedDesktop, ProjectSeed, Seed};

/// The state of every emulated project.
#[derive(Debug)]
pub(crate) struct Store {
    /// In the seed's order; the first is the one the identity side's project lookup names.
    projects: Vec<(String, Desktops)>,
    /// Project id → index in `projects`.
    index: BTreeMap<String, usize>,
    max_tags: usize,
    /// Bumped (under the desktop's lock, after the change) by every write that changed state.
    version: AtomicU64,
}

/// One project's desktops, sorted by id, with an index from id to position (a hash lookup: a
/// binary search over 100,000 desktops costs a cache miss per step).
#[derive(Debug)]
struct Desktops {
    slots: Vec<Slot>,
    by_id: HashMap<String, usize>,
}

impl Desktops {
    fn new(desktops: Vec<EmulatedDesktop>) -> Desktops {
        let mut slots: Vec<Slot> = desktops.into_iter().map(Slot::new).collect();
        slots.sort_by(|a, b| a.id.cmp(&b.id));
        let by_id = slots
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        Desktops { slots, by_id }
    }
}

/// One desktop: what the list API reports never changes after start, so only its tags are
/// behind a lock.
#[derive(Debug)]
struct Slot {
    id: String,
    name: String,
    user: Option<String>,
    enterprise_project_id: Option<String>,
    status: String,
    tags: Mutex<Tags>,
}

impl Slot {
    fn new(d: EmulatedDesktop) -> Slot {
        Slot {
            id: d.id,
            name: d.name,
            user: d.user,
            enterprise_project_id: d.enterprise_project_id,
            status: d.status,
            tags: Mutex::new(d.tags),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tags> {
        // A panic while holding the lock cannot leave a half-applied change (changes are built
        // first and swapped in), so a poisoned lock is still consistent.
        self.tags.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn to_desktop(&self) -> EmulatedDesktop {
        EmulatedDesktop {
            id: self.id.clone(),
            name: self.name.clone(),
            user: self.user.clone(),
            enterprise_project_id: self.enterprise_project_id.clone(),
            status: self.status.clone(),
            tags: self.lock().clone(),
        }
    }
}

/// One project of the store: what the tag API's calls act on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Project<'a> {
    store: &'a Store,
    desktops: &'a Desktops,
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
    /// Whether the filters other than `desktop_ids` (which `list` resolves by lookup) match.
    fn matches(&self, d: &Slot) -> bool {
        (self.computer_names.is_empty() || self.computer_names.contains(&d.name))
            && (self.user_names.is_empty()
                || self.user_names.iter().any(|u| {
                    d.user
                        .as_deref()
                        .is_some_and(|have| have.contains(u.as_str()))
                }))
            && (self.statuses.is_empty() || self.statuses.contains(&d.status))
    }

    fn is_empty(&self) -> bool {
        self.desktop_ids.is_empty()
            && self.computer_names.is_empty()
            && self.user_names.is_empty()
            && self.statuses.is_empty()
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
        let first = ProjectSeed {
            project_id: seed.project_id,
            desktops: seed.desktops,
        };
        let projects: Vec<(String, Desktops)> = std::iter::once(first)
            .chain(seed.more_projects)
            .map(|p| (p.project_id, Desktops::new(p.desktops)))
            .collect();
        Store {
            index: projects
                .iter()
                .enumerate()
                .map(|(i, (id, _))| (id.clone(), i))
                .collect(),
            projects,
            max_tags,
            version: AtomicU64::new(0),
        }
    }

    /// The first project's id: the one a single-project seed names.
    pub(crate) fn project_id(&self) -> &str {
        &self.projects[0].0
    }

    /// Every project id, in the seed's order.
    pub(crate) fn project_ids(&self) -> impl Iterator<Item = &str> {
        self.projects.iter().map(|(id, _)| id.as_str())
    }

    /// The project the tag API's path names; 404 `project_not_found` for one this store lacks.
    pub(crate) fn project(&self, id: &str) -> Result<Project<'_>, ServiceError> {
        let &i = self
            .index
            .get(id)
            .ok_or_else(|| ServiceError::project_not_found(id))?;
        Ok(Project {
            store: self,
            desktops: &self.projects[i].1,
        })
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
        let mut projects = self.projects.iter().map(|(id, desktops)| ProjectSeed {
            project_id: id.clone(),
            desktops: desktops.slots.iter().map(Slot::to_desktop).collect(),
        });
        let first = projects.next().expect("a store has at least one project");
        (
            version,
            Seed {
                project_id: first.project_id,
                desktops: first.desktops,
                more_projects: projects.collect(),
            },
        )
    }

    /// Every desktop of a project, sorted by id; `None` for a project this store lacks.
    pub(crate) fn desktops(&self, project_id: &str) -> Option<Vec<EmulatedDesktop>> {
        let project = self.project(project_id).ok()?;
        Some(project.slots().iter().map(Slot::to_desktop).collect())
    }
}

impl<'a> Project<'a> {
    /// Sorted by id.
    fn slots(&self) -> &'a [Slot] {
        &self.desktops.slots
    }

    fn slot(&self, id: &str) -> Option<&'a Slot> {
        let &i = self.desktops.by_id.get(id)?;
        Some(&self.desktops.slots[i])
    }

    fn lock(&self, id: &str) -> Result<MutexGuard<'a, Tags>, ServiceError> {
        let slot = self
            .slot(id)
            .ok_or_else(|| ServiceError::desktop_not_found(id))?;
        Ok(slot.lock())
    }

    /// Matching desktops sorted by id: the total count and the page `[offset, offset+limit)`.
    /// Unfiltered, the page is a slice of the sorted desktops (O(limit), whatever the offset);
    /// with `desktop_id` filters only those desktops are looked up (O(ids)); the other
    /// filters scan the unlocked attributes. Only the page's desktops are locked and copied.
    pub(crate) fn list(
        &self,
        filter: &ListFilter,
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<EmulatedDesktop>) {
        if filter.is_empty() {
            let total = self.slots().len();
            let start = offset.min(total);
            let end = start.saturating_add(limit).min(total);
            let page = self.slots()[start..end].iter().map(Slot::to_desktop);
            return (total, page.collect());
        }
        let matching: Vec<&Slot> = if filter.desktop_ids.is_empty() {
            self.slots().iter().filter(|d| filter.matches(d)).collect()
        } else {
            let ids: BTreeSet<&str> = filter.desktop_ids.iter().map(String::as_str).collect();
            ids.into_iter()
                .filter_map(|id| self.slot(id))
                .filter(|d| filter.matches(d))
                .collect()
        };
        let page = matching.iter().skip(offset).take(limit);
        (matching.len(), page.map(|d| d.to_desktop()).collect())
    }

    pub(crate) fn tags(&self, id: &str) -> Result<Vec<(String, String)>, ServiceError> {
        let tags = self.lock(id)?;
        Ok(tags
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
        let mut current = self.lock(id)?;
        let mut next = current.clone();
        let mut added = Vec::new();
        for (key, value) in tags {
            if next.insert(key.into(), value.into()).is_none() {
                added.push(key.as_str());
            }
        }
        let before = count_user_tags(current.keys());
        let after = count_user_tags(next.keys());
        if !added.is_empty() && after > self.store.max_tags {
            return Err(ServiceError::tag_cap(
                id,
                before,
                &added,
                self.store.max_tags,
            ));
        }
        if next == *current {
            return Ok(None);
        }
        *current = next;
        Ok(Some(self.store.bump()))
    }

    /// Deletes keys from one desktop; keys it does not have are a success.
    pub(crate) fn delete(&self, id: &str, keys: &[String]) -> WriteOutcome {
        for key in keys {
            check_key(key).map_err(|e| ServiceError::invalid_tag(key, &e))?;
        }
        let mut tags = self.lock(id)?;
        let mut changed = false;
        for key in keys {
            changed |= tags.remove(key.as_str()).is_some();
        }
        Ok(changed.then(|| self.store.bump()))
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
            if !added.is_empty() && count_user_tags(next.keys()) > self.store.max_tags {
                return match cap {
                    BatchCap::Reject => Err(ServiceError::tag_cap(
                        id,
                        before,
                        &added,
                        self.store.max_tags,
                    )),
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
            if self.slot(id).is_some() {
                by_id.entry(id).or_default().push(items);
            }
        }
        let mut locked = Vec::with_capacity(by_id.len());
        for (id, parts) in by_id {
            let guard = self.lock(id)?;
            let mut next = guard.clone();
            for items in parts {
                next = change(id, &next, items)?;
            }
            locked.push((guard, next));
        }
        let mut changed = false;
        for (guard, next) in &mut locked {
            if **guard != *next {
                **guard = std::mem::take(next);
                changed = true;
            }
        }
        // Bumped while every changed desktop is still locked (see `snapshot`).
        Ok(changed.then(|| self.store.bump()))
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
        let st = store(10);
        let s = st.project("p").unwrap();
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
        let st = store(2);
        let s = st.project("p").unwrap();
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
        let st = store(3);
        let s = st.project("p").unwrap();
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
        let st = store(10);
        let s = st.project("p").unwrap();
        assert_eq!(s.delete("a", &["nope".to_string()]).unwrap(), None);
        assert_eq!(s.delete("a", &["x".to_string()]).unwrap(), Some(1));
        assert!(s.delete("a", &["_sys_s".to_string()]).is_err());
    }

    #[test]
    fn unknown_desktops_are_404() {
        let st = store(10);
        let s = st.project("p").unwrap();
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
        let st = store(10);
        let s = st.project("p").unwrap();
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

    fn many(n: usize) -> Store {
        let desktops = (0..n)
            .rev()
            .map(|i| EmulatedDesktop::new(&format!("d{i:04}"), &format!("N{i}"), &[]))
            .collect();
        Store::new(Seed::single("p", desktops), 10)
    }

    #[test]
    fn unfiltered_pages_are_slices_at_any_offset_and_past_the_end_is_empty() {
        let st = many(2500);
        let s = st.project("p").unwrap();
        let all = ListFilter::default();
        let (total, page) = s.list(&all, 2000, 1000);
        assert_eq!((total, page.len()), (2500, 500));
        assert_eq!(page[0].id, "d2000");
        assert_eq!(page[499].id, "d2499");
        let (total, page) = s.list(&all, 7000, 1000);
        assert_eq!((total, page.len()), (2500, 0));
        let (_, page) = s.list(&all, usize::MAX, 1000);
        assert!(page.is_empty());
    }

    #[test]
    fn desktop_id_filters_are_lookups_combined_with_the_other_filters() {
        let st = many(50);
        let s = st.project("p").unwrap();
        let f = ListFilter {
            desktop_ids: vec![
                "d0042".into(),
                "d0007".into(),
                "nope".into(),
                "d0007".into(),
            ],
            ..ListFilter::default()
        };
        let (total, page) = s.list(&f, 0, 10);
        let ids: Vec<&str> = page.iter().map(|d| d.id.as_str()).collect();
        assert_eq!((total, ids), (2, vec!["d0007", "d0042"]));
        let f = ListFilter {
            computer_names: vec!["N7".into()],
            ..f
        };
        assert_eq!(s.list(&f, 0, 10).0, 1);
        assert_eq!(s.list(&f, 1, 10).1.len(), 0);
    }

    #[test]
    fn each_project_has_its_own_desktops_and_one_version_counts_all_changes() {
        let seed = Seed::from_yaml(
            "projects:\n  - project_id: p1\n    desktops: [{id: a, name: A}]\n  - project_id: p2\n    desktops: [{id: a, name: A}, {id: b, name: B}]\n",
        )
        .unwrap();
        let st = Store::new(seed, 10);
        let (p1, p2) = (st.project("p1").unwrap(), st.project("p2").unwrap());
        assert_eq!(p1.create("a", &pairs(&[("env", "one")])).unwrap(), Some(1));
        assert_eq!(p2.create("a", &pairs(&[("env", "two")])).unwrap(), Some(2));
        assert_eq!(p1.tags("a").unwrap(), pairs(&[("env", "one")]));
        assert_eq!(p2.tags("a").unwrap(), pairs(&[("env", "two")]));
        assert_eq!(p1.tags("b").unwrap_err().status.as_u16(), 404);
        assert_eq!(p2.list(&ListFilter::default(), 0, 10).0, 2);
        let err = st.project("p3").unwrap_err();
        assert_eq!(err.status.as_u16(), 404);
        let (version, snapshot) = st.snapshot();
        assert_eq!(version, 2);
        assert_eq!(snapshot.project_id, "p1");
        assert_eq!(snapshot.more_projects[0].desktops[0].tags.len(), 1);
        assert_eq!(st.project_ids().collect::<Vec<_>>(), vec!["p1", "p2"]);
    }
}
