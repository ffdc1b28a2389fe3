//! A Maglev lookup table (Eisenbud et al., NSDI 2016): every backend owns a near-equal share of
//! the slots (times its weight), and the table depends only on the backends' addresses and
//! weights, never on their order in the file.

use super::hash::hash64;

/// Slots in the table: a prime well above any pool size, as in Envoy's default.
pub(super) const SIZE: usize = 65_537;

/// Slot → backend index (as in the config), built once per upstream.
#[derive(Debug)]
pub(super) struct Table {
    slots: Vec<u32>,
}

impl Table {
    /// Builds the table for backends given as `(address, weight)` in config order.
    pub(super) fn build(backends: &[(&str, u32)]) -> Self {
        Self::with_size(backends, SIZE)
    }

    fn with_size(backends: &[(&str, u32)], size: usize) -> Self {
        let mut slots = vec![u32::MAX; size];
        if backends.is_empty() {
            return Self { slots: Vec::new() };
        }
        // Sorted by address so that reordering the file moves no key; a repeated address
        // gets its own permutation from its occurrence number.
        let mut order: Vec<usize> = (0..backends.len()).collect();
        order.sort_by_key(|&i| (backends[i].0, i));
        let size64 = size as u64;
        let mut entries: Vec<Entry> = Vec::with_capacity(order.len());
        for (k, &i) in order.iter().enumerate() {
            let (address, weight) = backends[i];
            let repeat = order[..k]
                .iter()
                .filter(|&&j| backends[j].0 == address)
                .count() as u64;
            let seed = repeat << 8;
            entries.push(Entry {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                offset: hash64(seed | 1, address.as_bytes()) % size64,
                skip: hash64(seed | 2, address.as_bytes()) % (size64 - 1) + 1,
                next: 0,
                weight: u64::from(weight.max(1)),
                target: 0,
            });
        }
        let max_weight = entries.iter().map(|e| e.weight).max().unwrap_or(1);
        // Weighted population as in Envoy: a backend of weight max/k claims a slot every k-th
        // iteration, so shares follow the weights.
        let mut filled = 0;
        let mut iteration = 1u64;
        while filled < size {
            for e in entries.iter_mut() {
                if filled == size {
                    break;
                }
                if iteration * e.weight < e.target {
                    continue;
                }
                e.target += max_weight;
                loop {
                    let slot = ((e.offset + e.next * e.skip) % size64) as usize;
                    e.next += 1;
                    if slots[slot] == u32::MAX {
                        slots[slot] = e.index;
                        filled += 1;
                        break;
                    }
                }
            }
            iteration += 1;
        }
        Self { slots }
    }

    /// Backend indices starting at the key's slot and walking on, for skipping ineligible
    /// ones; the walk visits every slot once.
    pub(super) fn walk(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let n = self.slots.len();
        let start = if n == 0 { 0 } else { (key % n as u64) as usize };
        (0..n).map(move |k| self.slots[(start + k) % n] as usize)
    }
}

#[derive(Debug)]
struct Entry {
    index: u32,
    offset: u64,
    skip: u64,
    next: u64,
    weight: u64,
    target: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(t: &Table, n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for &s in &t.slots {
            c[s as usize] += 1;
        }
        c
    }

    #[test]
    fn shares_are_near_equal_and_follow_weights() {
        let t = Table::build(&[("a:1", 1), ("b:1", 1), ("c:1", 2)]);
        let c = counts(&t, 3);
        assert_eq!(c.iter().sum::<usize>(), SIZE);
        let quarter = SIZE / 4;
        assert!(
            c[0].abs_diff(quarter) <= 2 && c[1].abs_diff(quarter) <= 2,
            "{c:?}"
        );
        assert!(c[2].abs_diff(2 * quarter) <= 3, "{c:?}");
    }

    #[test]
    fn order_in_the_file_does_not_matter() {
        let a = Table::build(&[("a:1", 1), ("b:1", 2)]);
        let b = Table::build(&[("b:1", 2), ("a:1", 1)]);
        let remap: Vec<u32> = b.slots.iter().map(|&s| 1 - s).collect();
        assert_eq!(a.slots, remap);
    }

    #[test]
    fn repeated_addresses_each_get_slots() {
        let t = Table::with_size(&[("a:1", 1), ("a:1", 1)], 101);
        let c = counts(&t, 2);
        assert!(c[0] >= 50 && c[1] >= 50, "{c:?}");
    }
}
