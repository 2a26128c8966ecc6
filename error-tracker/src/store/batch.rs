//! What every store does with a batch before it speaks SQL: fold it per
//! group (one upsert per group, not per occurrence), per group and hour,
//! and pick the occurrences that can survive the per-group cap (count-only
//! entries are never stored as rows).

use std::collections::HashMap;

use super::{Grouped, hour_of};
use crate::occurrence::Occurrence;
use crate::timestamp::Timestamp;

/// What one batch does to one group.
pub(crate) struct GroupWrite<'a> {
    /// The newest occurrence of the group in the batch captured in detail,
    /// else (the batch only counts repeats of the group) the newest entry's.
    pub(crate) latest: &'a Occurrence,
    /// Whether `latest` was captured in detail. When not, the group's
    /// detail is kept, and `latest` only gives it one if the store has
    /// none (see [`Grouped::count_only`]).
    pub(crate) detailed: bool,
    /// The time of its oldest occurrence in the batch.
    pub(crate) first: Timestamp,
    /// The time of its newest occurrence in the batch, count-only ones included.
    pub(crate) last_seen: Timestamp,
    /// How many occurrences the batch adds (folded ones included).
    pub(crate) times: u64,
    /// How many entries of the batch can be stored as occurrence rows.
    pub(crate) in_batch: u32,
}

/// A batch folded per group and per hour.
pub(crate) struct FoldedBatch<'a> {
    batch: &'a [Grouped],
    /// The groups in the order they first appear in the batch.
    pub(crate) order: Vec<&'a str>,
    pub(crate) groups: HashMap<&'a str, GroupWrite<'a>>,
    /// Occurrences per (group, hour since the epoch).
    pub(crate) hours: HashMap<(&'a str, i64), u64>,
}

impl<'a> FoldedBatch<'a> {
    pub(crate) fn new(batch: &'a [Grouped]) -> Self {
        let mut f = FoldedBatch { batch, order: Vec::new(), groups: HashMap::new(), hours: HashMap::new() };
        for g in batch {
            let o = &g.occurrence;
            let detailed = !g.count_only;
            *f.hours.entry((g.hash.as_str(), hour_of(o.timestamp))).or_default() += g.times;
            f.groups
                .entry(&g.hash)
                .and_modify(|w| {
                    w.times += g.times;
                    w.in_batch += u32::from(detailed);
                    w.first = w.first.min(o.timestamp);
                    w.last_seen = w.last_seen.max(o.timestamp);
                    // Detail beats a count; among equals, the newest.
                    if (detailed, o.timestamp) >= (w.detailed, w.latest.timestamp) {
                        w.latest = o;
                        w.detailed = detailed;
                    }
                })
                .or_insert_with(|| {
                    f.order.push(&g.hash);
                    GroupWrite {
                        latest: o,
                        detailed,
                        first: o.timestamp,
                        last_seen: o.timestamp,
                        times: g.times,
                        in_batch: u32::from(detailed),
                    }
                });
        }
        f
    }

    /// The entries worth inserting, in batch order: only the newest `cap` of
    /// each group can survive the trim that follows, so the rest are skipped.
    pub(crate) fn to_store(&self, cap: u32) -> impl Iterator<Item = &'a Grouped> + '_ {
        let mut seen: HashMap<&str, u32> = HashMap::new();
        self.batch.iter().filter(move |g| {
            if g.count_only {
                return false;
            }
            let n = seen.entry(&g.hash).or_default();
            *n += 1;
            self.groups[g.hash.as_str()].in_batch - *n < cap
        })
    }
}
