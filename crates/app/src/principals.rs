//! Allowed principals as code: what each managed service's allowed
//! principals should be (its policy's `principals:`), against what EC2 has,
//! and converging them. Nothing changes for a service whose principals
//! cannot be computed: a guess could shut out accounts the allowlist admits
//! or admit accounts it does not.

use std::collections::HashMap;

use gate_core::principals::{PrincipalsSpec, desired_principals, digest, principal_changes};
use gate_core::{AccountId, AllowEntry, Principal, ServiceId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::ports::{AppliedPrincipals, Organizations, PrincipalsRecord, ServicePermissions};

/// One service's allowed principals: what to add and remove, or why they
/// cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalsPlan {
    pub service: ServiceId,
    pub add: Vec<String>,
    pub remove: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The digest and size of the list once applied, kept for the sweep.
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub count: usize,
}

impl PrincipalsPlan {
    /// Nothing to change and nothing wrong.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty() && self.error.is_none()
    }
}

/// Plans every managed service's principals from the file's entries. OU
/// and organization entries are resolved once each, through `orgs`.
pub async fn plan(
    specs: &[(ServiceId, PrincipalsSpec)],
    entries: &[AllowEntry],
    orgs: Option<&dyn Organizations>,
    permissions: &dyn ServicePermissions,
    now: Timestamp,
) -> Vec<PrincipalsPlan> {
    let (resolved, unresolved) = resolve_groups(specs, entries, orgs).await;
    let mut out = Vec::new();
    for (service, spec) in specs {
        let failed = |error: String| PrincipalsPlan {
            service: service.clone(),
            add: vec![],
            remove: vec![],
            error: Some(error),
            digest: String::new(),
            count: 0,
        };
        let desired = match desired_principals(spec, entries, service, &resolved, now) {
            Ok(d) => d,
            Err(e) => {
                let why = unresolved.get(&e.0).map(|w| format!(" ({w})")).unwrap_or_default();
                out.push(failed(format!("{e}{why}")));
                continue;
            }
        };
        match permissions.allowed(service).await {
            Ok(live) => {
                let (add, remove) = principal_changes(&desired, &live);
                out.push(PrincipalsPlan {
                    service: service.clone(),
                    add,
                    remove,
                    error: None,
                    digest: digest(&desired),
                    count: desired.len(),
                });
            }
            Err(e) => out.push(failed(e.chain())),
        }
    }
    out
}

/// The accounts of every OU and organization an `allowlist` service's
/// entries name, and why the others are not known.
async fn resolve_groups(
    specs: &[(ServiceId, PrincipalsSpec)],
    entries: &[AllowEntry],
    orgs: Option<&dyn Organizations>,
) -> (HashMap<Principal, Vec<AccountId>>, HashMap<Principal, String>) {
    let (mut resolved, mut unresolved) = (HashMap::new(), HashMap::new());
    let from_allowlist = |e: &&AllowEntry| {
        specs.iter().any(|(s, spec)| *spec == PrincipalsSpec::Allowlist && e.scope.covers(s))
    };
    for entry in entries.iter().filter(from_allowlist) {
        let group = &entry.principal;
        if group.account().is_some() || resolved.contains_key(group) || unresolved.contains_key(group) {
            continue;
        }
        match orgs {
            None => {
                unresolved.insert(group.clone(), "no Organizations role is configured".to_owned());
            }
            Some(orgs) => match orgs.members(group).await {
                Ok(members) => {
                    resolved.insert(group.clone(), members);
                }
                Err(e) => {
                    unresolved.insert(group.clone(), e.chain());
                }
            },
        }
    }
    (resolved, unresolved)
}

/// Makes EC2's allowed principals what the plans say, service by service,
/// and records each list set, converged ones included, for the sweep's
/// drift check. The services changed so far are returned with the first
/// failure.
pub async fn apply(
    plans: &[PrincipalsPlan],
    permissions: &dyn ServicePermissions,
    record: &dyn PrincipalsRecord,
    now: Timestamp,
) -> Result<Vec<ServiceId>, (Vec<ServiceId>, PortError)> {
    let mut done = Vec::new();
    for p in plans.iter().filter(|p| p.error.is_none()) {
        if !p.is_empty() {
            if let Err(e) = permissions.change(&p.service, &p.add, &p.remove).await {
                return Err((done, e));
            }
            done.push(p.service.clone());
        }
        let applied = AppliedPrincipals {
            service: p.service.clone(),
            digest: p.digest.clone(),
            count: p.count,
            applied_at: now,
        };
        if let Err(e) = record.record_applied(&applied).await {
            return Err((done, e));
        }
    }
    Ok(done)
}

/// A service whose allowed principals in EC2 are no longer what apply set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub service: ServiceId,
    /// How many principals apply set, and how many EC2 lists now.
    pub applied: usize,
    pub live: usize,
}

/// The sweep's look at the allowed principals apply manages: someone
/// changed them in the console or the API, outside the file.
pub struct PrincipalsWatch {
    pub record: std::sync::Arc<dyn PrincipalsRecord>,
    pub permissions: std::sync::Arc<dyn ServicePermissions>,
}

impl std::fmt::Debug for PrincipalsWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrincipalsWatch").finish_non_exhaustive()
    }
}

impl PrincipalsWatch {
    /// The services whose live list differs from what apply set; each is
    /// logged as a warning. One unreadable service fails the whole look,
    /// since "no drift" must mean every list was read.
    pub async fn drift(&self) -> Result<Vec<Drift>, PortError> {
        let mut out = Vec::new();
        for applied in self.record.applied().await? {
            let live = self.permissions.allowed(&applied.service).await?;
            if digest(&live) != applied.digest {
                tracing::warn!(
                    service = %applied.service,
                    applied = applied.count,
                    live = live.len(),
                    "the service's allowed principals changed outside the policy file; apply sets them back"
                );
                out.push(Drift { service: applied.service, applied: applied.count, live: live.len() });
            }
        }
        Ok(out)
    }
}
