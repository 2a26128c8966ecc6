//! The detail budget of capture sites: what a failing thread skips in an
//! error storm.
//!
//! A capture site is a `record_exception!` call, or a tracked fn failing at
//! one line, for one error type: all its occurrences are one group under
//! the default fingerprint. Each site gets a slot here the first time it
//! records. Per second of the writer, its first
//! [`detail_budget`](crate::Config::detail_budget) occurrences are captured
//! in detail (by default `occurrences_per_group`: the store keeps no more
//! per group anyway). Past that, a repeat is only counted in the slot: no
//! stack walk, no rendering, no allocation, nothing queued. The writer
//! takes the counts every turn, once it knows the site's group from one of
//! its detailed occurrences, and adds them to the group
//! ([`Grouped::count_only`](crate::Grouped::count_only)); until then they
//! wait in the slot.
//!
//! So the first occurrences of every group keep their full detail, and
//! every occurrence is counted. A [custom fingerprint](crate::Config::fingerprint)
//! may put one site's occurrences in several groups: then every occurrence
//! is captured in detail.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// How many sites have a budget. Past that (a program with more failing
/// sites than this), a site is always captured in detail.
const SLOTS: usize = 4096;
/// How far a site's slot may be from where its key points.
const PROBES: usize = 16;

/// One site's budget. Aligned to a cache line: the failing threads of one
/// storm all write the slot of their site, and none other.
#[repr(align(64))]
struct Slot {
    /// The site's key; 0 while free.
    key: AtomicU64,
    /// Occurrences captured in detail since the writer last reset it.
    used: AtomicU32,
    /// Repeats counted without detail, not yet taken by the writer.
    repeats: AtomicU64,
}

impl Slot {
    const fn free() -> Self {
        Slot { key: AtomicU64::new(0), used: AtomicU32::new(0), repeats: AtomicU64::new(0) }
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::free() }; SLOTS];
/// The claimed slots, in the order claimed, as index + 1 (0: being written).
static CLAIMED: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];
static CLAIMED_LEN: AtomicUsize = AtomicUsize::new(0);

/// A site's slot in the table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct SiteSlot(u32);

impl SiteSlot {
    /// The slot's index, below [`SLOTS`].
    pub(crate) fn index(self) -> u32 {
        self.0
    }

    /// The slot at `index`; `None` past the table (no slot).
    pub(crate) fn from_index(index: u32) -> Option<Self> {
        ((index as usize) < SLOTS).then_some(SiteSlot(index))
    }
}

/// What the failing thread does with an occurrence.
pub(crate) enum Admission {
    /// Capture it in detail; `Some`: it is of the site in this slot.
    Detail(Option<SiteSlot>),
    /// It was counted: capture nothing.
    Counted,
}

/// The key of a site: the address of its static, the address of its error
/// type's name (one per type in a binary), and the line it failed at.
#[inline]
pub(crate) fn key(site: *const (), type_name: &'static str, line: u32) -> u64 {
    // Multiply-xorshift mixing: the addresses' low bits are alignment.
    let mut h = (site as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= (type_name.as_ptr() as u64).rotate_left(29).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    h ^= u64::from(line).wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 31;
    h | 1
}

/// Decides whether the occurrence of the site `key` is captured in detail,
/// with `budget` occurrences per site and second (`None`: every one).
#[inline]
pub(crate) fn admit(budget: Option<u32>, key: u64) -> Admission {
    let Some(budget) = budget else { return Admission::Detail(None) };
    let Some(i) = find(key) else { return Admission::Detail(None) };
    let s = &TABLE[i as usize];
    // The load first: in a storm the budget is spent, and the slot's line
    // is then only read (and `repeats` written) by the failing threads.
    if s.used.load(Ordering::Relaxed) < budget && s.used.fetch_add(1, Ordering::Relaxed) < budget {
        return Admission::Detail(Some(SiteSlot(i)));
    }
    s.repeats.fetch_add(1, Ordering::Relaxed);
    Admission::Counted
}

/// The slot of `key`, claimed if it has none yet; `None` when the table is
/// full around it.
#[inline]
fn find(key: u64) -> Option<u32> {
    let start = (key >> 32) as usize;
    for probe in 0..PROBES {
        let i = (start + probe) % SLOTS;
        let s = &TABLE[i];
        match s.key.load(Ordering::Acquire) {
            k if k == key => return Some(i as u32),
            0 => match s.key.compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    let n = CLAIMED_LEN.fetch_add(1, Ordering::AcqRel);
                    CLAIMED[n].store(i as u32 + 1, Ordering::Release);
                    return Some(i as u32);
                }
                Err(k) if k == key => return Some(i as u32),
                Err(_) => {}
            },
            _ => {}
        }
    }
    None
}

/// For the writer: takes the repeats counted since the last call from the
/// slots for which `take` says it took them (the writer knows their
/// groups), and, when `new_budget`, gives every site its budget again.
///
/// `take` is called before the repeats leave their slot (so that
/// [`has_repeats`] never misses repeats that are nowhere else yet).
pub(crate) fn take_repeats(new_budget: bool, mut take: impl FnMut(SiteSlot, u64) -> bool) {
    let len = CLAIMED_LEN.load(Ordering::Acquire).min(SLOTS);
    for c in &CLAIMED[..len] {
        // 0: claimed, its index not stored yet: the next turn sees it
        // (the writer cannot know its group yet).
        let Some(i) = c.load(Ordering::Acquire).checked_sub(1) else { continue };
        let s = &TABLE[i as usize];
        if new_budget && s.used.load(Ordering::Relaxed) != 0 {
            s.used.store(0, Ordering::Relaxed);
        }
        let n = s.repeats.load(Ordering::Acquire);
        if n != 0 && take(SiteSlot(i), n) {
            // Only the writer takes from `repeats`: it still holds `n`.
            s.repeats.fetch_sub(n, Ordering::AcqRel);
        }
    }
}

/// Whether some site counted repeats that the writer has not taken yet.
pub(crate) fn has_repeats() -> bool {
    let len = CLAIMED_LEN.load(Ordering::Acquire).min(SLOTS);
    CLAIMED[..len].iter().any(|c| {
        c.load(Ordering::Acquire).checked_sub(1).is_some_and(|i| TABLE[i as usize].repeats.load(Ordering::Acquire) != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key of its own for each case: the address of a static of its own.
    fn site_key(site: &'static u8, line: u32) -> u64 {
        key(std::ptr::from_ref(site).cast(), "test::Error", line)
    }

    /// The repeats `take_repeats` offers for `slot`, taken when `take`.
    fn repeats_of(slot: SiteSlot, take: bool) -> u64 {
        let mut seen = 0;
        take_repeats(false, |s, n| {
            if s == slot {
                seen = n;
                take
            } else {
                false
            }
        });
        seen
    }

    // One test: a new budget (`take_repeats(true, ..)`) is given to every
    // slot of the table, which is the process's.
    #[test]
    fn budgets_per_site_line_and_type_and_the_counts_past_them() {
        static SITE: u8 = 0;
        let k = site_key(&SITE, 1);
        let mut slots = Vec::new();
        for _ in 0..3 {
            match admit(Some(3), k) {
                Admission::Detail(Some(slot)) => slots.push(slot),
                _ => panic!("the first three are captured in detail, with a slot"),
            }
        }
        assert!(slots.windows(2).all(|w| w[0] == w[1]), "one site, one slot");
        let slot = slots[0];
        for _ in 0..5 {
            assert!(matches!(admit(Some(3), k), Admission::Counted));
        }
        // Not taken (the writer does not know the group yet): they wait.
        assert_eq!(repeats_of(slot, false), 5);
        assert!(has_repeats());
        assert_eq!(repeats_of(slot, true), 5);
        assert_eq!(repeats_of(slot, true), 0, "taken once");
        // A new second: the budget again.
        take_repeats(true, |_, _| false);
        assert!(matches!(admit(Some(3), k), Admission::Detail(Some(s)) if s == slot));

        // Another line, another error type: budgets of their own.
        static OTHER: u8 = 0;
        let a = site_key(&OTHER, 10);
        let b = site_key(&OTHER, 11);
        let c = key(std::ptr::from_ref(&OTHER).cast(), "test::OtherError", 10);
        assert!(a != b && a != c && b != c);
        assert!(matches!(admit(Some(1), a), Admission::Detail(Some(_))));
        assert!(matches!(admit(Some(1), a), Admission::Counted));
        assert!(matches!(admit(Some(1), b), Admission::Detail(Some(_))));
        assert!(matches!(admit(Some(1), c), Admission::Detail(Some(_))));

        // Without a budget (a custom fingerprint), everything in detail.
        for _ in 0..10 {
            assert!(matches!(admit(None, k), Admission::Detail(None)));
        }
    }
}
