//! SLA targets: each channel's and team's policy, set by admins.
//!
//! A conversation takes, when it is created, its effective team's policy if that team has
//! one, else its channel's (`switchboard_domain::sla`); its due times are then fixed: a
//! policy set, changed or removed later applies to conversations created from then on,
//! never to those already open (what was promised to a customer does not move). The
//! ingest sets the due times, a person's first reply and the resolution decide whether
//! each target was met, and the scheduler fires the warnings and breaches
//! ([`crate::scheduler`]).

use chrono::{DateTime, Utc};
use switchboard_domain::sla::{SlaPolicy, SlaPolicyInput};
use switchboard_store::{SlaScope, Store, StoreError};

use crate::AdminError;
use crate::inbox::Invalid;

const fn what(scope: SlaScope) -> &'static str {
    match scope {
        SlaScope::Channel(_) => "channel",
        SlaScope::Team(_) => "team",
    }
}

fn not_found(scope: SlaScope) -> impl Fn(StoreError) -> AdminError {
    move |e| match e {
        StoreError::NotFound => AdminError::NotFound { what: what(scope) },
        e => AdminError::Store(e),
    }
}

/// A channel's or team's policy (`None`: none set).
pub async fn policy(store: &dyn Store, scope: SlaScope) -> Result<Option<SlaPolicy>, AdminError> {
    store.sla_policy(scope).await.map_err(not_found(scope))
}

/// Sets a channel's or team's policy from what an admin wrote: every field that breaks a
/// rule is named (as in the body).
pub async fn set_policy(
    store: &dyn Store,
    scope: SlaScope,
    input: SlaPolicyInput,
    at: DateTime<Utc>,
) -> Result<SlaPolicy, AdminError> {
    let policy = SlaPolicy::parse(input)
        .map_err(|e| AdminError::Invalid(e.errors.into_iter().map(|f| Invalid::new(f.path, f.message)).collect()))?;
    store.put_sla_policy(scope, Some(&policy), at).await.map_err(not_found(scope))?;
    Ok(policy)
}

/// Removes a channel's or team's policy (nothing to remove is fine).
pub async fn remove_policy(store: &dyn Store, scope: SlaScope, at: DateTime<Utc>) -> Result<(), AdminError> {
    store.put_sla_policy(scope, None, at).await.map_err(not_found(scope))
}
