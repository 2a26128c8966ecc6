//! [`MemoryStore`]: a store in memory, for tests and short-lived programs.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use super::{
    ChangeKind, DELIVERED, Group, GroupChange, GroupQuery, GroupSort, GroupSummary, Grouped, OccurrenceAt, Page,
    PageRequest, PendingNotification, Pruned, Retention, Status, StoreError, StoreQuery, StoreWrite, hour_of,
    hours_since, lease_clock, render_traceback,
};
use crate::occurrence::Occurrence;
use crate::timestamp::Timestamp;

/// A [`Store`] that keeps everything in memory, with the same rules as the
/// SQLite store: exact counts, a fixed `created_on`, capped occurrences.
///
/// ```
/// use error_tracker::{GroupQuery, MemoryStore, StoreQuery};
/// let store = MemoryStore::new(100);
/// assert_eq!(store.list_groups(&GroupQuery::default()).unwrap().total, 0);
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    cap: usize,
    groups: Mutex<HashMap<String, Entry>>,
    /// The notification outbox, with each row's `lease_until`.
    outbox: Mutex<Vec<(PendingNotification, i64)>>,
}

#[derive(Debug)]
struct Entry {
    group: Group,
    occurrences: VecDeque<Occurrence>,
    hours: HashMap<i64, u64>,
    /// The time of the occurrence the group's detail comes from.
    detail_at: Timestamp,
}

impl MemoryStore {
    /// A store keeping at most `occurrences_per_group` occurrences per group.
    pub fn new(occurrences_per_group: u32) -> Self {
        Self {
            cap: occurrences_per_group.max(1) as usize,
            groups: Mutex::new(HashMap::new()),
            outbox: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn outbox(&self) -> std::sync::MutexGuard<'_, Vec<(PendingNotification, i64)>> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(100)
    }
}

fn page_of<T: Clone>(all: &[T], page: PageRequest) -> Page<T> {
    let start = (page.offset() as usize).min(all.len());
    let end = (start + page.limit() as usize).min(all.len());
    Page::exact(all[start..end].to_vec(), all.len() as u64, page)
}

impl StoreWrite for MemoryStore {
    fn write(&self, batch: &[Grouped]) -> Result<Vec<GroupChange>, StoreError> {
        let mut groups = self.lock();
        let mut changes: Vec<GroupChange> = Vec::new();
        for g in batch {
            let o = &g.occurrence;
            let kind = match groups.get_mut(&g.hash) {
                None => {
                    let summary = summary_of(&g.hash, o, g.times);
                    groups.insert(
                        g.hash.clone(),
                        Entry {
                            group: Group { summary, traceback: render_traceback(o), request_data: request_data(o) },
                            occurrences: VecDeque::new(),
                            hours: HashMap::new(),
                            detail_at: o.timestamp,
                        },
                    );
                    ChangeKind::New
                }
                Some(e) => {
                    let s = &mut e.group.summary;
                    s.count += g.times;
                    s.last_seen = s.last_seen.max(o.timestamp);
                    let kind = if s.status == Status::Resolved {
                        s.status = Status::Unresolved;
                        ChangeKind::Regressed
                    } else {
                        ChangeKind::Recurring
                    };
                    if !g.count_only && o.timestamp >= e.detail_at {
                        let fresh = summary_of(&g.hash, o, 0);
                        e.detail_at = o.timestamp;
                        s.message = fresh.message;
                        s.method = fresh.method;
                        s.path = fresh.path;
                        s.host = fresh.host;
                        e.group.traceback = render_traceback(o);
                        e.group.request_data = request_data(o);
                    }
                    kind
                }
            };
            let e = groups.get_mut(&g.hash).expect("inserted above");
            if !g.count_only {
                e.occurrences.push_front(o.clone());
                e.occurrences.truncate(self.cap);
            }
            *e.hours.entry(hour_of(o.timestamp)).or_default() += g.times;
            let count = e.group.summary.count;
            match changes.iter_mut().find(|c| c.hash == g.hash) {
                Some(c) => {
                    c.count = count;
                    c.added += g.times;
                    if kind == ChangeKind::Regressed {
                        c.kind = kind;
                    }
                }
                None => changes.push(GroupChange { hash: g.hash.clone(), kind, count, added: g.times }),
            }
        }
        Ok(changes)
    }

    /// By age, then past the group cap, least recently seen first (no size cap).
    fn prune(&self, r: &Retention) -> Result<Pruned, StoreError> {
        let mut groups = self.lock();
        let mut out = Pruned::default();
        if let Some(age) = r.max_age {
            let cutoff = Timestamp::now().saturating_sub(age);
            groups.retain(|_, e| {
                let keep = e.group.summary.last_seen >= cutoff;
                if !keep {
                    out.add(e.group.summary.count);
                }
                keep
            });
        }
        if let Some(max) = r.max_groups {
            let excess = (groups.len() as u64).saturating_sub(max) as usize;
            let mut oldest: Vec<(Timestamp, String)> =
                groups.iter().map(|(h, e)| (e.group.summary.last_seen, h.clone())).collect();
            oldest.sort();
            for (_, hash) in oldest.into_iter().take(excess) {
                if let Some(e) = groups.remove(&hash) {
                    out.add(e.group.summary.count);
                }
            }
        }
        Ok(out)
    }
}

impl StoreQuery for MemoryStore {
    fn list_groups(&self, q: &GroupQuery) -> Result<Page<GroupSummary>, StoreError> {
        let groups = self.lock();
        // ASCII case only, as SQLite's LIKE and its search index fold it.
        let needle = q.search.as_deref().map(str::to_ascii_lowercase).filter(|s| !s.is_empty());
        let mut all: Vec<GroupSummary> = groups
            .values()
            .map(|e| &e.group.summary)
            .filter(|s| q.status.is_none_or(|st| s.status == st))
            .filter(|s| {
                needle.as_deref().is_none_or(|n| {
                    s.exception_name.to_ascii_lowercase().contains(n)
                        || s.message.to_ascii_lowercase().contains(n)
                        || s.path.as_deref().unwrap_or("").to_ascii_lowercase().contains(n)
                })
            })
            .filter(|s| q.host.as_deref().is_none_or(|h| s.host == h))
            .filter(|s| {
                q.release
                    .as_deref()
                    .is_none_or(|r| groups[&s.hash].occurrences.iter().any(|o| o.release.as_deref() == Some(r)))
            })
            .cloned()
            .collect();
        all.sort_by(|a, b| {
            match q.sort {
                GroupSort::LastSeen => b.last_seen.cmp(&a.last_seen),
                GroupSort::FirstSeen => b.created_on.cmp(&a.created_on),
                GroupSort::Count => b.count.cmp(&a.count),
            }
            .then_with(|| a.hash.cmp(&b.hash))
        });
        Ok(page_of(&all, q.page))
    }

    fn group(&self, hash: &str) -> Result<Option<Group>, StoreError> {
        Ok(self.lock().get(hash).map(|e| e.group.clone()))
    }

    fn occurrences(&self, hash: &str, page: PageRequest) -> Result<Page<Occurrence>, StoreError> {
        let groups = self.lock();
        let all: Vec<Occurrence> =
            groups.get(hash).map(|e| e.occurrences.iter().cloned().collect()).unwrap_or_default();
        Ok(page_of(&all, page))
    }

    fn occurrence(&self, hash: &str, event_id: &str) -> Result<Option<OccurrenceAt>, StoreError> {
        let groups = self.lock();
        let Some(all) = groups.get(hash).map(|e| &e.occurrences) else { return Ok(None) };
        // Newest first, as the SQL stores' history.
        let Some(i) = all.iter().position(|o| o.id == event_id) else { return Ok(None) };
        let id_at = |j: usize| all.get(j).map(|o| o.id.clone());
        Ok(Some(OccurrenceAt::new(
            all[i].clone(),
            i as u64 + 1,
            all.len() as u64,
            i.checked_sub(1).and_then(id_at),
            id_at(i + 1),
        )))
    }

    fn hourly_counts(&self, hash: &str, since: Timestamp) -> Result<Vec<u64>, StoreError> {
        let groups = self.lock();
        let hours = groups.get(hash).map(|e| &e.hours);
        Ok(hours_since(since).map(|h| hours.and_then(|m| m.get(&h)).copied().unwrap_or(0)).collect())
    }

    fn delete_group(&self, hash: &str) -> Result<bool, StoreError> {
        Ok(self.lock().remove(hash).is_some())
    }

    fn set_status(&self, hash: &str, status: Status) -> Result<bool, StoreError> {
        Ok(self.lock().get_mut(hash).map(|e| e.group.summary.status = status).is_some())
    }

    fn set_notification_sent(&self, hash: &str, sent: bool) -> Result<bool, StoreError> {
        Ok(self.lock().get_mut(hash).map(|e| e.group.summary.notification_sent = sent).is_some())
    }

    fn set_ticket(&self, hash: &str, ticket: Option<&str>) -> Result<bool, StoreError> {
        Ok(self.lock().get_mut(hash).map(|e| e.group.summary.ticket_raised = ticket.map(str::to_owned)).is_some())
    }

    // The notification outbox, as the SQL stores keep it.

    fn put_pending_notifications(&self, items: &[PendingNotification], lease: Duration) -> Result<(), StoreError> {
        let (_, until) = lease_clock(lease);
        let mut groups = self.lock();
        let mut outbox = self.outbox();
        for i in items {
            let Some(e) = groups.get_mut(&i.hash) else { continue };
            e.group.summary.notification_sent = false;
            let same = |(p, _): &&mut (PendingNotification, i64)| {
                (&p.channel, &p.hash, &p.kind) == (&i.channel, &i.hash, &i.kind)
            };
            match outbox.iter_mut().find(same) {
                Some(row) => {
                    let created_on = row.0.created_on;
                    *row = (PendingNotification { created_on, ..i.clone() }, until);
                }
                None => outbox.push((i.clone(), until)),
            }
        }
        Ok(())
    }

    fn claim_pending_notifications(
        &self,
        channel: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        let (now, until) = lease_clock(lease);
        let groups = self.lock();
        let mut outbox = self.outbox();
        // Rows of deleted groups go, as ON DELETE CASCADE does.
        outbox.retain(|(p, _)| groups.contains_key(&p.hash));
        let mut free: Vec<&mut (PendingNotification, i64)> =
            outbox.iter_mut().filter(|(p, at)| p.channel == channel && *at <= now).collect();
        free.sort_by_key(|a| a.0.created_on);
        Ok(free
            .into_iter()
            .take(limit as usize)
            .map(|row| {
                row.1 = until;
                row.0.clone()
            })
            .collect())
    }

    fn release_pending_notification(&self, channel: &str, id: &str) -> Result<(), StoreError> {
        for row in self.outbox().iter_mut().filter(|(p, at)| p.channel == channel && p.id == id && *at < DELIVERED) {
            row.1 = 0;
        }
        Ok(())
    }

    fn finish_pending_notification(&self, channel: &str, id: &str, delivered: bool) -> Result<bool, StoreError> {
        let mut groups = self.lock();
        let mut outbox = self.outbox();
        let Some(at) = outbox.iter().position(|(p, at)| p.channel == channel && p.id == id && *at < DELIVERED) else {
            return Ok(false);
        };
        let hash = outbox[at].0.hash.clone();
        if delivered {
            outbox[at].1 = DELIVERED;
        } else {
            outbox.remove(at);
        }
        if !outbox.iter().any(|(o, at)| o.hash == hash && *at < DELIVERED) {
            let reached = outbox.iter().any(|(o, at)| o.hash == hash && *at == DELIVERED);
            if reached && let Some(e) = groups.get_mut(&hash) {
                e.group.summary.notification_sent = true;
            }
            outbox.retain(|(o, _)| o.hash != hash);
        }
        Ok(true)
    }
}

/// The list row of a group whose latest occurrence is `o`.
pub(crate) fn summary_of(hash: &str, o: &Occurrence, count: u64) -> GroupSummary {
    let req = o.request.as_ref();
    GroupSummary {
        hash: hash.to_owned(),
        exception_name: o.exception_name.clone(),
        message: o.message.clone(),
        method: req.map(|r| r.method.clone()),
        path: req.map(|r| r.path.clone()),
        host: o.host.clone(),
        count,
        created_on: o.timestamp,
        last_seen: o.timestamp,
        status: Status::Unresolved,
        notification_sent: false,
        ticket_raised: None,
    }
}

/// The `request_data` column: the request context as JSON text.
pub(crate) fn request_data(o: &Occurrence) -> Option<String> {
    o.request.as_ref().and_then(|r| crate::json::to_string(r).ok())
}
