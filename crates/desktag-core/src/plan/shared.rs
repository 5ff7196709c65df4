//! Sharing equal values between desktops: the wants, sources and changes that desktops have in
//! common (every desktop one name glob selects; every desktop whose id entry wants the same) are
//! held once, however many desktops have them.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

/// The distinct values of one run, each once: a value equal to one of them is replaced by a
/// handle on it. Holds only handles: the values live as long as some desktop holds them. Once
/// thousands of values were kept and hardly any was found again (every desktop different), it
/// keeps no more, so a run with nothing in common pays a hash per value and no growing set.
pub struct Shared<T: ?Sized> {
    kept: HashSet<Arc<T>>,
    found: usize,
    missed: usize,
}

impl<T: ?Sized> Default for Shared<T> {
    fn default() -> Self {
        Shared {
            kept: HashSet::new(),
            found: 0,
            missed: 0,
        }
    }
}

impl<T: ?Sized + Hash + Eq> Shared<T> {
    /// Values always kept; past them, a value is kept while at least one lookup in
    /// `KEEP_WHILE_ONE_IN` finds an equal one.
    const ALWAYS_KEPT: usize = 4096;
    const KEEP_WHILE_ONE_IN: usize = 8;

    /// `value`, or an equal value shared earlier.
    pub fn share(&mut self, value: Arc<T>) -> Arc<T> {
        match self.find(&value) {
            Some(hit) => hit,
            None => self.keep(value),
        }
    }

    /// The value in `buffer`, shared: an equal value kept earlier (the buffer is then `emptied`,
    /// its room kept for the next value), or the buffer's own value, moved into an `Arc` by
    /// `into` (not copied).
    pub fn share_buffer<B: Borrow<T> + Default>(
        &mut self,
        buffer: &mut B,
        emptied: impl FnOnce(&mut B),
        into: impl FnOnce(B) -> Arc<T>,
    ) -> Arc<T> {
        match self.find((*buffer).borrow()) {
            Some(hit) => {
                emptied(buffer);
                hit
            }
            None => self.keep(into(std::mem::take(buffer))),
        }
    }

    fn find(&mut self, value: &T) -> Option<Arc<T>> {
        let hit = self.kept.get(value).cloned();
        match hit {
            Some(_) => self.found += 1,
            None => self.missed += 1,
        }
        hit
    }

    /// Keeps `value`, one `find` did not find, to share with the values after it.
    fn keep(&mut self, value: Arc<T>) -> Arc<T> {
        if self.kept.len() < Self::ALWAYS_KEPT
            || self.found * Self::KEEP_WHILE_ONE_IN >= self.missed
        {
            self.kept.insert(value.clone());
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_allocation_and_others_keep_theirs() {
        let mut shared: Shared<[u32]> = Shared::default();
        let a = shared.share(Arc::from(vec![1, 2]));
        let b = shared.share(Arc::from(vec![1, 2]));
        assert!(Arc::ptr_eq(&a, &b));
        let c = shared.share(Arc::from(vec![3]));
        assert!(!Arc::ptr_eq(&a, &c));
        // Taking turns with another value still hits.
        assert!(Arc::ptr_eq(&a, &shared.share(Arc::from(vec![1, 2]))));
        // A buffer equal to a kept value is emptied and keeps its room; another moves in whole.
        let mut buffer = vec![1, 2];
        buffer.reserve(8);
        let made = shared.share_buffer(&mut buffer, Vec::clear, |_| unreachable!("shared"));
        assert!(Arc::ptr_eq(&a, &made));
        assert!(buffer.is_empty() && buffer.capacity() >= 10);
        buffer.extend([4, 5]);
        let moved = shared.share_buffer(&mut buffer, Vec::clear, Arc::from);
        assert_eq!(*moved, [4, 5]);
        assert_eq!(buffer.capacity(), 0, "moved, not copied");
        let again = shared.share_buffer(&mut vec![4, 5], Vec::clear, Arc::from);
        assert!(Arc::ptr_eq(&moved, &again), "and kept");
    }

    #[test]
    fn values_nothing_equals_stop_being_kept_and_shared_ones_still_are() {
        let mut shared: Shared<u32> = Shared::default();
        let often = shared.share(Arc::new(u32::MAX));
        for k in 0..10_000 {
            shared.share(Arc::new(k));
        }
        assert_eq!(shared.kept.len(), 4096, "no more than the first values");
        assert!(Arc::ptr_eq(&often, &shared.share(Arc::new(u32::MAX))));
        // Hits keep it keeping.
        let mut shared: Shared<u32> = Shared::default();
        for k in 0..10_000 {
            shared.share(Arc::new(k % 5_000));
        }
        assert_eq!(shared.kept.len(), 5_000);
    }

    #[test]
    fn a_value_is_found_however_many_others_came_since() {
        let mut shared: Shared<u32> = Shared::default();
        let first = shared.share(Arc::new(0));
        for k in 1..=1000 {
            shared.share(Arc::new(k));
        }
        assert!(Arc::ptr_eq(&first, &shared.share(Arc::new(0))));
    }
}
