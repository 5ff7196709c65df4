//! Sharing equal values between desktops: the wants, sources and changes that every desktop one
//! name glob selects has in common are held once, however many desktops the glob selects.

use std::sync::Arc;

/// The values shared last: a value equal to one of them is replaced by a handle on it.
pub struct Recent<T: ?Sized> {
    recent: Vec<Arc<T>>,
}

impl<T: ?Sized> Default for Recent<T> {
    fn default() -> Self {
        Recent { recent: Vec::new() }
    }
}

impl<T: ?Sized + PartialEq> Recent<T> {
    /// Values kept to compare with: enough for the globs of a manifest taking turns.
    const KEPT: usize = 16;

    /// `value`, or an equal value shared earlier.
    pub fn share(&mut self, value: Arc<T>) -> Arc<T> {
        match self.find(&value) {
            Some(hit) => hit,
            None => self.keep(value),
        }
    }

    /// An earlier value equal to `value`, or a new one `make` makes of it.
    pub fn share_from(&mut self, value: &T, make: impl FnOnce(&T) -> Arc<T>) -> Arc<T> {
        match self.find(value) {
            Some(hit) => hit,
            None => self.keep(make(value)),
        }
    }

    /// The value shared earlier that equals `value`, if one is kept.
    pub fn find(&mut self, value: &T) -> Option<Arc<T>> {
        let at = self.recent.iter().position(|r| **r == *value)?;
        let hit = self.recent.remove(at);
        self.recent.insert(0, hit.clone());
        Some(hit)
    }

    /// Keeps `value` to share with the values after it (one not found equal to a kept one).
    pub fn keep(&mut self, value: Arc<T>) -> Arc<T> {
        self.recent.insert(0, value.clone());
        self.recent.truncate(Self::KEPT);
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_allocation_and_others_keep_theirs() {
        let mut recent: Recent<[u32]> = Recent::default();
        let a = recent.share(Arc::from(vec![1, 2]));
        let b = recent.share(Arc::from(vec![1, 2]));
        assert!(Arc::ptr_eq(&a, &b));
        let c = recent.share(Arc::from(vec![3]));
        assert!(!Arc::ptr_eq(&a, &c));
        // Taking turns with another value still hits.
        assert!(Arc::ptr_eq(&a, &recent.share(Arc::from(vec![1, 2]))));
        let made = recent.share_from(&[1, 2], |_| unreachable!("an equal value is shared"));
        assert!(Arc::ptr_eq(&a, &made));
        let new = recent.share_from(&[4, 5], |v| Arc::from(v));
        assert_eq!(*new, [4, 5]);
        assert!(recent.find(&[6]).is_none(), "find keeps nothing new");
        let kept = recent.keep(Arc::from(vec![6]));
        assert!(Arc::ptr_eq(&kept, &recent.find(&[6]).unwrap()));
    }

    #[test]
    fn only_the_last_sixteen_values_are_kept() {
        let mut recent: Recent<u32> = Recent::default();
        let first = recent.share(Arc::new(0));
        for k in 1..=16 {
            recent.share(Arc::new(k));
        }
        assert!(!Arc::ptr_eq(&first, &recent.share(Arc::new(0))));
    }
}
