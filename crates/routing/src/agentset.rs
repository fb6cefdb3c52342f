//! A set of agent indexes as a bit set with its size kept: adding and
//! removing an agent touch one word, and reading the set visits its
//! members in index order (as an ordered set would), skipping empty words.

use fixedbitset::FixedBitSet;

#[derive(Debug, Default, Clone)]
pub(crate) struct AgentSet {
    bits: FixedBitSet,
    len: usize,
}

impl AgentSet {
    /// Adds `ai`; false if it was already there.
    pub(crate) fn insert(&mut self, ai: usize) -> bool {
        if ai >= self.bits.len() {
            // Grow by at least half again, so that agents added one by one
            // do not reallocate each time.
            self.bits.grow((ai + 1).max(self.bits.len() * 3 / 2));
        }
        let was = self.bits.put(ai);
        if !was {
            self.len += 1;
        }
        !was
    }

    /// Removes `ai`; false if it was not there.
    pub(crate) fn remove(&mut self, ai: usize) -> bool {
        if self.contains(ai) {
            self.bits.set(ai, false);
            self.len -= 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn contains(&self, ai: usize) -> bool {
        self.bits.contains(ai)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The members, lowest index first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits.ones()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_members_in_order_and_counts_them() {
        let mut s = AgentSet::default();
        assert!(s.insert(70));
        assert!(s.insert(3));
        assert!(!s.insert(3));
        assert!(s.insert(200));
        assert_eq!(s.len(), 3);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![3, 70, 200]);
        assert!(s.remove(70));
        assert!(!s.remove(70));
        assert!(!s.remove(10_000));
        assert!(!s.contains(70) && s.contains(200));
        assert_eq!(s.len(), 2);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![3, 200]);
    }
}
