//! Where an account sits in AWS Organizations, read through a read-only
//! role in the management account or a delegated administrator.
//!
//! AWS behaviour relied on (Organizations API reference,
//! <https://docs.aws.amazon.com/organizations/latest/APIReference/>):
//!
//! - `ListParents` (`/API_ListParents.html`) lists the root or OU that is the
//!   immediate parent of an account or OU; "in the current release, a child
//!   can have only a single parent". It is paginated, and "List* operations
//!   can occasionally return an empty set of results even when more are
//!   available": pages are read until `NextToken` is null. Each parent has an
//!   `Id` and a `Type` of `ROOT` or `ORGANIZATIONAL_UNIT`; the walk stops at
//!   the root. Callable only from the management account or a delegated
//!   administrator.
//! - `DescribeOrganizationalUnit` gives an OU's `Name`; `DescribeOrganization`
//!   the organization's `Id` (`o-…`).
//! - `ListAccountsForParent` and `ListOrganizationalUnitsForParent` (both
//!   paginated the same way) count the accounts under an OU for `plan`.
//! - Errors: `AccessDeniedException` (the role may not), `TooManyRequestsException`
//!   (throttled, "try again later"), `AWSOrganizationsNotInUseException` (the
//!   caller's account is in no organization), `ChildNotFoundException` /
//!   `ParentNotFoundException` / `OrganizationalUnitNotFoundException`. Every
//!   one of them is an error here: the use case decides without OU entries
//!   and says why, and never guesses a path. The one exception is the
//!   account's own `ListParents` answering `ChildNotFoundException` (or
//!   `AccountNotFoundException`): Organizations saying the account is
//!   outside the organization, a definite answer, so no OU entry applies.
//!
//! OU names and parents change rarely; they are kept for a bounded age so
//! that 10,000 accounts under 1,000 OUs do not walk the same OUs again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::ParentType;
use gate_app::PortError;
use gate_app::ports::Organizations;
use gate_core::{AccountId, OrgId, OuId, OuStep, Placement, Principal};
use tokio::sync::Mutex;

use crate::error::{code, port_error};

/// OUs nest at most five levels below the root (Organizations quotas); a
/// longer walk means the answers are not what AWS documents.
const MAX_DEPTH: usize = 8;

/// How long an OU's name and parent, and the organization's id, are kept.
pub const OU_CACHE_AGE: Duration = Duration::from_secs(15 * 60);

/// What is known about one OU: its name and its parent (`None`: the root).
#[derive(Debug, Clone)]
struct Ou {
    name: String,
    parent: Option<OuId>,
}

#[derive(Debug)]
pub struct AwsOrganizations {
    client: Client,
    max_age: Duration,
    org: Mutex<Option<(Instant, OrgId)>>,
    ous: Mutex<HashMap<OuId, (Instant, Ou)>>,
}

/// A parent as `ListParents` gives it.
enum Parent {
    Root,
    Ou(OuId),
    /// The child is not in the organization.
    Unknown,
}

/// What `ListParents` answers for a child the organization does not hold.
const NOT_A_MEMBER: &[&str] = &["ChildNotFoundException", "AccountNotFoundException"];

fn invalid(what: String) -> PortError {
    PortError::plain(what, false)
}

impl AwsOrganizations {
    pub fn new(client: Client) -> Self {
        Self { client, max_age: OU_CACHE_AGE, org: Mutex::new(None), ous: Mutex::new(HashMap::new()) }
    }

    /// Organizations through `role_arn` (read-only, in the management or a
    /// delegated administrator account).
    pub async fn assuming(base: &SdkConfig, role_arn: &str) -> Self {
        let provider = AssumeRoleProvider::builder(role_arn)
            .session_name("endpoint-gate-org-read")
            .configure(base)
            .build()
            .await;
        let config =
            aws_sdk_organizations::config::Builder::from(base).credentials_provider(provider).build();
        Self::new(Client::from_conf(config))
    }

    async fn org_id(&self) -> Result<OrgId, PortError> {
        let mut org = self.org.lock().await;
        if let Some((_, id)) = org.as_ref().filter(|(at, _)| at.elapsed() < self.max_age) {
            return Ok(id.clone());
        }
        let out = self
            .client
            .describe_organization()
            .send()
            .await
            .map_err(|e| port_error("DescribeOrganization failed", e))?;
        let text = out.organization().and_then(|o| o.id()).unwrap_or_default();
        let id: OrgId = text
            .parse()
            .map_err(|e| invalid(format!("DescribeOrganization gave no organization id: {e}")))?;
        *org = Some((Instant::now(), id.clone()));
        Ok(id)
    }

    /// The single parent of an account or OU, reading every page.
    async fn parent(&self, child: &str) -> Result<Parent, PortError> {
        let pages: Result<Vec<_>, _> =
            self.client.list_parents().child_id(child).into_paginator().send().try_collect().await;
        let pages = match pages {
            Ok(pages) => pages,
            Err(e) if code(&e).is_some_and(|c| NOT_A_MEMBER.contains(&c)) => return Ok(Parent::Unknown),
            Err(e) => return Err(port_error(format!("ListParents of {child} failed"), e)),
        };
        let parents: Vec<_> = pages.iter().flat_map(|p| p.parents()).collect();
        let [parent] = parents.as_slice() else {
            return Err(invalid(format!("ListParents of {child} gave {} parents, not one", parents.len())));
        };
        match parent.r#type() {
            Some(ParentType::Root) => Ok(Parent::Root),
            Some(ParentType::OrganizationalUnit) => {
                let id = parent.id().unwrap_or_default();
                id.parse()
                    .map(Parent::Ou)
                    .map_err(|e| invalid(format!("ListParents of {child} gave a bad OU id: {e}")))
            }
            other => Err(invalid(format!("ListParents of {child} gave a parent of type {other:?}"))),
        }
    }

    async fn ou(&self, id: &OuId) -> Result<Ou, PortError> {
        if let Some((at, ou)) = self.ous.lock().await.get(id)
            && at.elapsed() < self.max_age
        {
            return Ok(ou.clone());
        }
        let described = self
            .client
            .describe_organizational_unit()
            .organizational_unit_id(id.as_str())
            .send()
            .await
            .map_err(|e| port_error(format!("DescribeOrganizationalUnit {id} failed"), e))?;
        let name = described.organizational_unit().and_then(|o| o.name()).unwrap_or_default().to_owned();
        let parent = match self.parent(id.as_str()).await? {
            Parent::Root => None,
            Parent::Ou(p) => Some(p),
            Parent::Unknown => return Err(invalid(format!("ListParents of {id} found no such OU"))),
        };
        let ou = Ou { name, parent };
        self.ous.lock().await.insert(id.clone(), (Instant::now(), ou.clone()));
        Ok(ou)
    }

    async fn accounts_under(&self, ou: &OuId) -> Result<Vec<AccountId>, PortError> {
        let mut members = Vec::new();
        let mut todo = vec![ou.clone()];
        while let Some(next) = todo.pop() {
            let accounts: Vec<_> = self
                .client
                .list_accounts_for_parent()
                .parent_id(next.as_str())
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| port_error(format!("ListAccountsForParent {next} failed"), e))?;
            for listed in accounts.iter().flat_map(|p| p.accounts()) {
                let id = listed.id().unwrap_or_default();
                members.push(
                    id.parse().map_err(|e| invalid(format!("an account under {next} has a bad id: {e}")))?,
                );
            }
            let pages: Vec<_> = self
                .client
                .list_organizational_units_for_parent()
                .parent_id(next.as_str())
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| port_error(format!("ListOrganizationalUnitsForParent {next} failed"), e))?;
            for child in pages.iter().flat_map(|p| p.organizational_units()) {
                let id = child.id().unwrap_or_default();
                todo.push(id.parse().map_err(|e| invalid(format!("an OU under {next} has a bad id: {e}")))?);
            }
        }
        Ok(members)
    }

    /// Every account of the organization (`ListAccounts`, every page).
    async fn all_accounts(&self) -> Result<Vec<AccountId>, PortError> {
        let pages: Vec<_> = self
            .client
            .list_accounts()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| port_error("ListAccounts failed", e))?;
        pages
            .iter()
            .flat_map(|p| p.accounts())
            .map(|a| {
                let id = a.id().unwrap_or_default();
                id.parse().map_err(|e| invalid(format!("ListAccounts gave a bad account id: {e}")))
            })
            .collect()
    }
}

#[async_trait]
impl Organizations for AwsOrganizations {
    async fn placement(&self, account: AccountId) -> Result<Option<Placement>, PortError> {
        let org = self.org_id().await?;
        let mut path = Vec::new();
        let mut next = match self.parent(account.as_str()).await? {
            Parent::Root => None,
            Parent::Ou(id) => Some(id),
            Parent::Unknown => return Ok(None),
        };
        while let Some(id) = next {
            if path.len() >= MAX_DEPTH {
                return Err(invalid(format!("the OU path of account {account} is deeper than {MAX_DEPTH}")));
            }
            let ou = self.ou(&id).await?;
            next = ou.parent;
            path.push(OuStep { id, name: ou.name });
        }
        path.reverse();
        Ok(Some(Placement { org, path }))
    }

    async fn members(&self, group: &Principal) -> Result<Vec<AccountId>, PortError> {
        match group {
            Principal::Account(a) => Ok(vec![*a]),
            Principal::Ou(ou) => self.accounts_under(ou).await,
            Principal::Organization(org) if *org == self.org_id().await? => self.all_accounts().await,
            Principal::Organization(_) => Ok(Vec::new()),
        }
    }
}
