//! The account's place in AWS Organizations, for OU and organization
//! entries: read through the [`Organizations`] port, cached for a bounded
//! age, and turned into a [`Membership`] that never fails. A failed read
//! is a fact the decision states (and fails closed on), not an error.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};
use gate_core::{AccountId, Membership, Placement, Timestamp};

use crate::ports::Organizations;

/// How long a placement read from Organizations is trusted: an account
/// moved to another OU is decided by its new OU within this time.
pub const DEFAULT_MAX_AGE_SECS: i64 = 15 * 60;

/// After a failed read, how long no account is asked about: when
/// Organizations refuses or throttles, a sweep over thousands of accounts
/// must not ask (and be retried by the SDK) once per account.
pub const FAILURE_PAUSE_SECS: i64 = 60;

/// Placements by account, read once and kept for a bounded age. Built once
/// per cold start; a sweep therefore reads each account's path at most
/// once. A failure is kept only for [`FAILURE_PAUSE_SECS`], for every
/// account not already known.
pub struct Placements {
    port: Arc<dyn Organizations>,
    max_age_secs: i64,
    concurrency: usize,
    /// `None`: the account is outside the organization.
    cache: Mutex<HashMap<AccountId, (Timestamp, Option<Placement>)>>,
    last_failure: Mutex<Option<(Timestamp, String)>>,
}

impl std::fmt::Debug for Placements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Placements").field("max_age_secs", &self.max_age_secs).finish_non_exhaustive()
    }
}

fn membership(placement: Option<Placement>) -> Membership {
    placement.map_or(Membership::Outside, Membership::Known)
}

impl Placements {
    pub fn new(port: Arc<dyn Organizations>, max_age_secs: i64) -> Self {
        Self {
            port,
            max_age_secs,
            concurrency: 8,
            cache: Mutex::new(HashMap::new()),
            last_failure: Mutex::new(None),
        }
    }

    /// The port itself, for what is not a placement (an OU's accounts).
    pub fn organizations(&self) -> &dyn Organizations {
        self.port.as_ref()
    }

    fn cached(&self, account: AccountId, now: Timestamp) -> Option<Option<Placement>> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&account)
            .filter(|(at, _)| now.unix() - at.unix() < self.max_age_secs)
            .map(|(_, p)| p.clone())
    }

    /// Each distinct account's membership, reading Organizations only for
    /// those not cached, a few at a time.
    pub async fn memberships(
        &self,
        accounts: impl IntoIterator<Item = AccountId>,
        now: Timestamp,
    ) -> HashMap<AccountId, Membership> {
        let distinct: BTreeSet<AccountId> = accounts.into_iter().collect();
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        for account in distinct {
            match self.cached(account, now) {
                Some(p) => {
                    out.insert(account, membership(p));
                }
                None => missing.push(account),
            }
        }
        let paused = {
            let failure = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
            failure.as_ref().filter(|(at, _)| now.unix() - at.unix() < FAILURE_PAUSE_SECS).cloned()
        };
        // The same words as the failure itself: the reason is the same.
        if let Some((_, why)) = paused {
            out.extend(missing.into_iter().map(|a| (a, Membership::Unreadable(why.clone()))));
            return out;
        }
        let read: Vec<(AccountId, Membership)> = stream::iter(missing)
            .map(|account| async move {
                let membership = match self.port.placement(account).await {
                    Ok(p) => {
                        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                        cache.insert(account, (now, p.clone()));
                        membership(p)
                    }
                    Err(e) => {
                        tracing::warn!(owner = %account, error = %e.chain(), "AWS Organizations could not be read; OU and organization entries do not apply");
                        let mut failure = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
                        *failure = Some((now, e.what.clone()));
                        Membership::Unreadable(e.what.clone())
                    }
                };
                (account, membership)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        out.extend(read);
        out
    }

    /// One account's membership.
    pub async fn membership(&self, account: AccountId, now: Timestamp) -> Membership {
        self.memberships([account], now).await.remove(&account).unwrap_or(Membership::NotConfigured)
    }
}
