//! The conversations report: counts and KPI figures over a date range in a time zone, per
//! local day and in all, optionally per channel, team, agent, label or link, and only an
//! agent's own conversations when an agent asks.
//!
//! The store answers for every local day of the range at once: days that ended more than
//! three hours ago as sums of cached 15-minute slots ([`ReportStore::cached_report_slots`],
//! kept valid by the store), the others from the facts ([`ReportStore::report_days`]);
//! the durations it lists become medians, 90th percentiles and averages here
//! ([`DurationStats`]), per day and for the whole range; the CSAT answers' counts per
//! scale and score become an average, a distribution and a response rate ([`CsatStats`]).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use switchboard_domain::AgentId;
use switchboard_domain::report::{CsatStats, DurationStats, ReportDay, ReportRange, SLOT_SECONDS, slots_of};
use switchboard_store::{
    ReportCounts, ReportDays, ReportGroupKey, ReportGrouping, ReportSpanCounts, ReportStore, Store, StoreError,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What to report on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportRequest {
    pub range: ReportRange,
    pub grouping: Option<ReportGrouping>,
    /// Only this agent's conversations (assigned to them, else first answered by them).
    pub agent: Option<AgentId>,
}

/// A duration's figures, wall-clock and in business hours; `None` when nothing was timed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TimeFigures {
    pub wall: Option<DurationStats>,
    pub business: Option<DurationStats>,
}

/// The figures of a day, a group or the whole range.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportFigures {
    pub started: u64,
    /// Of those started, how many are not resolved now.
    pub open: u64,
    pub resolved: u64,
    pub auto_replies: u64,
    /// Messages people sent per conversation started; `None` when none started.
    pub replies_per_conversation: Option<f64>,
    pub first_response: TimeFigures,
    pub resolution: TimeFigures,
    /// Of the CSAT surveys sent.
    pub csat: CsatStats,
    /// SLA targets met, of those decided.
    pub sla_first_response: SlaFigures,
    pub sla_resolution: SlaFigures,
}

/// How often an SLA target was met: of the conversations with the target decided (first
/// responses of those started, resolutions of those resolved).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SlaFigures {
    pub met: u64,
    pub breached: u64,
    /// `met / (met + breached)`, in percent; `None` when none was decided.
    pub percent_met: Option<f64>,
}

impl SlaFigures {
    #[must_use]
    pub fn of(met: u64, breached: u64) -> Self {
        let all = met + breached;
        #[allow(clippy::cast_precision_loss)]
        let percent_met = (all > 0).then(|| 100.0 * met as f64 / all as f64);
        Self { met, breached, percent_met }
    }
}

impl ReportFigures {
    /// The figures of `counts`, whose lists it reorders.
    #[must_use]
    pub fn of(counts: &mut ReportCounts) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let replies_per_conversation = (counts.started > 0).then(|| counts.replies as f64 / counts.started as f64);
        Self {
            started: counts.started,
            open: counts.open,
            resolved: counts.resolved,
            auto_replies: counts.auto_replies,
            replies_per_conversation,
            first_response: TimeFigures {
                wall: DurationStats::of(&mut counts.first_response),
                business: DurationStats::of(&mut counts.first_response_business),
            },
            resolution: TimeFigures {
                wall: DurationStats::of(&mut counts.resolution),
                business: DurationStats::of(&mut counts.resolution_business),
            },
            sla_first_response: SlaFigures::of(counts.sla.first_response_met, counts.sla.first_response_breached),
            sla_resolution: SlaFigures::of(counts.sla.resolution_met, counts.sla.resolution_breached),
            csat: CsatStats::of(counts.csat_surveys, &counts.csat_answers),
        }
    }
}

/// One local day's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct DayFigures {
    pub date: NaiveDate,
    pub figures: ReportFigures,
}

/// A group's figures over the whole range.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupFigures {
    pub key: ReportGroupKey,
    pub figures: ReportFigures,
}

/// The report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub request: ReportRequest,
    pub summary: ReportFigures,
    /// Every day of the range, in order (days with nothing have zeros).
    pub days: Vec<DayFigures>,
    /// When grouped: each group with anything in it, by name.
    pub groups: Vec<GroupFigures>,
}

/// How far back [`warm_cache`] fills the cache, in days: a quarter and a day (older days
/// are computed, and kept, when a report first asks for them).
pub const WARM_DAYS: i64 = 92;

/// The slots [`warm_cache`] computes at once: 32 days (the store splits them into
/// statements of the size that suits it, its `SPANS_PER_STATEMENT`).
const WARM_SLOTS: i64 = 32 * 96;

/// Every kind the cache keeps (`None`: in all).
const KINDS: [Option<ReportGrouping>; 6] = [
    None,
    Some(ReportGrouping::Channel),
    Some(ReportGrouping::Team),
    Some(ReportGrouping::Agent),
    Some(ReportGrouping::Label),
    Some(ReportGrouping::Link),
];

/// Merges the cache's marks ([`ReportStore::compact_report_marks`]), then fills the slots
/// the cache lacks, of every kind, over the [`WARM_DAYS`] days before
/// `now` (from the first conversation's slot on; only slots a report would read from the
/// cache), so that a report seldom computes any: after an install, an upgrade, or a change
/// of what groups mean (a channel's team, a group deleted). [`WARM_SLOTS`] at a time, each
/// batch followed by a pause as long as it took, so it takes at most half a core; stops
/// after the batch in hand once `stop` is cancelled. Returns how many slots it computed.
///
/// # Errors
/// The store's.
pub async fn warm_cache(store: &dyn Store, now: DateTime<Utc>, stop: &CancellationToken) -> Result<u64, StoreError> {
    store.compact_report_marks().await?;
    let Some(first) = store.first_conversation_at().await? else { return Ok(0) };
    let slot = |t: DateTime<Utc>| t.timestamp().div_euclid(SLOT_SECONDS);
    let end = slot(now - CACHED_AFTER);
    let start = slot(first).max(slot(now - TimeDelta::days(WARM_DAYS)));
    let mut filled = 0;
    for kind in KINDS {
        let mut from = start;
        while from < end {
            if stop.is_cancelled() {
                return Ok(filled);
            }
            let chunk = from..(from + WARM_SLOTS).min(end);
            let began = std::time::Instant::now();
            let cached = store.valid_report_slots(kind, chunk.clone()).await?;
            let missing: Vec<i64> = chunk.clone().filter(|s| cached.binary_search(s).is_err()).collect();
            if !missing.is_empty() {
                store.fill_report_slots(kind, &missing).await?;
                tracing::debug!(
                    ?kind,
                    slots = missing.len(),
                    micros = began.elapsed().as_micros() as u64,
                    "report slots filled"
                );
                filled += missing.len() as u64;
                tokio::select! {
                    () = tokio::time::sleep(began.elapsed()) => {}
                    () = stop.cancelled() => {}
                }
            }
            from = chunk.end;
        }
    }
    Ok(filled)
}

/// Slots that ended this long ago come from the cache: the triggers that keep it mark
/// changes to instants more than an hour old, so a slot this old has no unmarked change
/// still to commit.
const CACHED_AFTER: TimeDelta = TimeDelta::hours(3);

/// Builds the report at `now`: the counts of every day, the past ones summed from the
/// cached slots ([`ReportStore::cached_report_slots`], the missing ones computed and
/// cached), the rest from the facts ([`ReportStore::report_days`]); when the groups
/// overlap (labels), the days' own counts too.
///
/// # Errors
/// The store's.
pub async fn report(store: &dyn ReportStore, request: ReportRequest, now: DateTime<Utc>) -> Result<Report, StoreError> {
    let range_days = request.range.days();
    // From the cache: the leading days that ended long enough ago, as runs of slots.
    let kind = cache_kind(&request);
    let cached_days = if kind.is_some() {
        range_days.iter().take_while(|d| d.end <= now - CACHED_AFTER && slots_of(d.start, d.end).is_some()).count()
    } else {
        0
    };
    let (past, recent) = range_days.split_at(cached_days);
    let grouped = request.grouping.is_some();
    let mut per_day = from_slots(store, past, kind.flatten(), request.agent, grouped).await?;
    let mut bounds: Vec<_> = recent.iter().map(|d| d.start).collect();
    bounds.extend(recent.last().map(|d| d.end));
    let query = ReportDays { bounds, grouping: request.grouping, agent: request.agent };
    per_day.extend(store.report_days(&query).await?);
    // Groups overlap (labels): the days' own figures, ungrouped.
    let own = match request.grouping {
        Some(g) if !g.partitions() => {
            let mut own = from_slots(store, past, None, None, false).await?;
            own.extend(store.report_days(&ReportDays { grouping: None, ..query }).await?);
            Some(own)
        }
        _ => None,
    };
    if per_day.len() != range_days.len() || own.as_ref().is_some_and(|o| o.len() != range_days.len()) {
        return Err(StoreError::corrupt("report days miscounted"));
    }
    let mut own = own.map(Vec::into_iter);
    let mut summary = ReportCounts::default();
    let mut days = Vec::with_capacity(range_days.len());
    let mut groups: BTreeMap<Option<Uuid>, ReportCounts> = BTreeMap::new();
    for (day, counts) in range_days.iter().zip(per_day) {
        let mut total = match counts {
            ReportSpanCounts::All(all) => all,
            ReportSpanCounts::Groups(per_group) => {
                let mut total = ReportCounts::default();
                for (id, counts) in per_group {
                    if own.is_none() {
                        total.add(&counts);
                    }
                    match groups.entry(id) {
                        Entry::Vacant(e) => {
                            e.insert(counts);
                        }
                        Entry::Occupied(mut e) => e.get_mut().add(&counts),
                    }
                }
                match own.as_mut().map(Iterator::next) {
                    None => total,
                    Some(Some(ReportSpanCounts::All(all))) => all,
                    Some(_) => return Err(StoreError::corrupt("grouped counts unasked")),
                }
            }
        };
        summary.add(&total);
        days.push(DayFigures { date: day.date, figures: ReportFigures::of(&mut total) });
    }
    let names: BTreeMap<Uuid, String> = match request.grouping {
        Some(g) => {
            let ids: Vec<Uuid> = groups.keys().flatten().copied().collect();
            store.report_group_names(g, &ids).await?.into_iter().collect()
        }
        None => BTreeMap::new(),
    };
    let mut groups: Vec<GroupFigures> = groups
        .into_iter()
        .map(|(id, mut counts)| GroupFigures {
            figures: ReportFigures::of(&mut counts),
            key: ReportGroupKey { id, name: id.and_then(|id| names.get(&id).cloned()) },
        })
        .collect();
    // Named groups by name, then the "none" group.
    groups.sort_by(|a, b| {
        (a.key.id.is_none(), a.key.name.as_deref().map(str::to_lowercase), a.key.id).cmp(&(
            b.key.id.is_none(),
            b.key.name.as_deref().map(str::to_lowercase),
            b.key.id,
        ))
    });
    Ok(Report { request, summary: ReportFigures::of(&mut summary), days, groups })
}

/// The cache's kind a request reads (`Some(None)`: in all), if the cache can answer it:
/// an agent's own figures are their group of the agents' kind.
fn cache_kind(request: &ReportRequest) -> Option<Option<ReportGrouping>> {
    match (request.agent, request.grouping) {
        (None, grouping) => Some(grouping),
        (Some(_), None | Some(ReportGrouping::Agent)) => Some(Some(ReportGrouping::Agent)),
        (Some(_), Some(_)) => None,
    }
}

/// The counts of `days` (each a run of slots, consecutive) of kind `kind` (`None`: in
/// all), summed from the cached slots; those not cached are computed and cached first.
/// With `agent` (`kind` is then the agents'), only their group counts: in all, or as
/// their group when `grouped`.
async fn from_slots(
    store: &dyn ReportStore,
    days: &[ReportDay],
    kind: Option<ReportGrouping>,
    agent: Option<AgentId>,
    grouped: bool,
) -> Result<Vec<ReportSpanCounts>, StoreError> {
    let (Some(first), Some(last)) = (days.first(), days.last()) else { return Ok(Vec::new()) };
    let Some(all) = slots_of(first.start, last.end) else { return Err(StoreError::corrupt("report days off slots")) };
    let mut slots: Vec<Option<ReportSpanCounts>> = vec![None; usize::try_from(all.end - all.start).unwrap_or(0)];
    let at = |slot: i64| usize::try_from(slot - all.start).ok();
    for (slot, counts) in store.cached_report_slots(kind, all.clone()).await? {
        if let Some(cell) = at(slot).and_then(|i| slots.get_mut(i)) {
            *cell = Some(counts);
        }
    }
    let missing: Vec<i64> = all.clone().filter(|&s| at(s).is_some_and(|i| slots[i].is_none())).collect();
    if !missing.is_empty() {
        for (slot, counts) in missing.iter().zip(store.fill_report_slots(kind, &missing).await?) {
            if let Some(cell) = at(*slot).and_then(|i| slots.get_mut(i)) {
                *cell = Some(counts);
            }
        }
    }
    let mut slots = slots.into_iter();
    let mut out = Vec::with_capacity(days.len());
    for day in days {
        let n = slots_of(day.start, day.end).map_or(0, |r| r.end - r.start);
        let mut all = ReportCounts::default();
        let mut groups: BTreeMap<Option<Uuid>, ReportCounts> = BTreeMap::new();
        for _ in 0..n {
            match slots.next().flatten() {
                Some(ReportSpanCounts::All(counts)) => all.add(&counts),
                Some(ReportSpanCounts::Groups(per_group)) => {
                    for (id, counts) in per_group {
                        match agent {
                            Some(agent) if id == Some(*agent.as_uuid()) => all.add(&counts),
                            Some(_) => {}
                            None => groups.entry(id).or_default().add(&counts),
                        }
                    }
                }
                None => return Err(StoreError::corrupt("a report slot missing")),
            }
        }
        out.push(match (grouped, agent) {
            (false, _) => ReportSpanCounts::All(all),
            // Grouped by agent, an agent's own: their group.
            (true, Some(agent)) => {
                let mine = (all.started + all.resolved + all.csat_surveys + all.auto_replies > 0)
                    .then(|| (Some(*agent.as_uuid()), all));
                ReportSpanCounts::Groups(mine.into_iter().collect())
            }
            (true, None) => ReportSpanCounts::Groups(groups.into_iter().collect()),
        });
    }
    Ok(out)
}
