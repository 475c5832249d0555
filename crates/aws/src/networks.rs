//! Reads a consumer VPC's CIDRs through a read-only role in the consumer
//! account. Anything lasting (no role, access denied, endpoint not found)
//! becomes `Discovery::Unavailable`, so the policy decides what it means.

use std::collections::HashMap;

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_ec2::Client;
use gate_app::PortError;
use gate_app::ports::ConsumerNetworks;
use gate_core::{AccountId, Cidr, Discovery, EndpointId};
use tokio::sync::Mutex;

use crate::error::port_error;

#[derive(Debug)]
pub struct AssumeRoleNetworks {
    base: SdkConfig,
    /// Role ARN with `{account}` where the consumer account goes.
    role_template: String,
    external_id: Option<String>,
    /// One client per consumer account, kept across warm invocations; the
    /// provider refreshes credentials itself.
    clients: Mutex<HashMap<AccountId, Client>>,
    /// Accounts whose role was refused recently, so a sweep over thousands
    /// of their endpoints asks STS once rather than once per endpoint.
    refused: Mutex<HashMap<AccountId, (Instant, String)>>,
}

/// How long a refused role is remembered before STS is asked again.
const REFUSED_TTL: Duration = Duration::from_secs(300);

/// Why CIDRs could not be read, and whether the role itself was refused.
struct Unreadable {
    why: String,
    role_refused: bool,
}

impl AssumeRoleNetworks {
    pub fn new(base: SdkConfig, role_template: String, external_id: Option<String>) -> Self {
        Self {
            base,
            role_template,
            external_id,
            clients: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
        }
    }

    pub fn role_arn(&self, account: AccountId) -> String {
        self.role_template.replace("{account}", account.as_str())
    }

    async fn client(&self, account: AccountId) -> Client {
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(&account) {
            return c.clone();
        }
        let mut provider =
            AssumeRoleProvider::builder(self.role_arn(account)).session_name("endpoint-gate-cidr-read");
        if let Some(id) = &self.external_id {
            provider = provider.external_id(id);
        }
        let provider = provider.configure(&self.base).build().await;
        let config = aws_sdk_ec2::config::Builder::from(&self.base).credentials_provider(provider).build();
        let client = Client::from_conf(config);
        clients.insert(account, client.clone());
        client
    }

    async fn read(
        &self,
        owner: AccountId,
        endpoint: &EndpointId,
    ) -> Result<Result<Vec<Cidr>, Unreadable>, PortError> {
        let client = self.client(owner).await;
        let endpoints = match client.describe_vpc_endpoints().vpc_endpoint_ids(endpoint.as_str()).send().await
        {
            Ok(out) => out,
            Err(e) => {
                return lasting_or_retry(port_error(
                    format!("DescribeVpcEndpoints {endpoint} in account {owner} failed"),
                    e,
                ));
            }
        };
        let Some(vpc) = endpoints.vpc_endpoints().first().and_then(|e| e.vpc_id()).map(str::to_owned) else {
            let why = format!("endpoint {endpoint} not found in account {owner}");
            return Ok(Err(Unreadable { why, role_refused: false }));
        };
        let vpcs = match client.describe_vpcs().vpc_ids(&vpc).send().await {
            Ok(out) => out,
            Err(e) => {
                return lasting_or_retry(port_error(
                    format!("DescribeVpcs {vpc} in account {owner} failed"),
                    e,
                ));
            }
        };
        let mut cidrs = Vec::new();
        for v in vpcs.vpcs() {
            let v4 = v
                .cidr_block_association_set()
                .iter()
                .filter(|a| {
                    a.cidr_block_state().and_then(|s| s.state()).is_none_or(|s| s.as_str() == "associated")
                })
                .filter_map(|a| a.cidr_block());
            let v6 = v
                .ipv6_cidr_block_association_set()
                .iter()
                .filter(|a| {
                    a.ipv6_cidr_block_state()
                        .and_then(|s| s.state())
                        .is_none_or(|s| s.as_str() == "associated")
                })
                .filter_map(|a| a.ipv6_cidr_block());
            for text in v4.chain(v6).chain(v.cidr_block()) {
                match text.parse::<Cidr>() {
                    Ok(c) if !cidrs.contains(&c) => cidrs.push(c),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(vpc_id = %vpc, error = %e, "consumer VPC reported an unusable CIDR")
                    }
                }
            }
        }
        Ok(Ok(cidrs))
    }
}

/// Transient errors are retried; everything else is a lasting reason the
/// CIDRs cannot be read. A role that cannot be assumed surfaces as a
/// dispatch failure wrapping a credentials error: lasting, not transient
/// (the STS client has already retried any throttling).
fn lasting_or_retry<T>(e: PortError) -> Result<Result<T, Unreadable>, PortError> {
    let first = e.source.as_deref().map(|s| s as &(dyn StdError + 'static));
    let assume_failed = std::iter::successors(first, |s: &&(dyn StdError + 'static)| (*s).source())
        .filter_map(|s| s.downcast_ref::<CredentialsError>())
        .any(|c| !matches!(c, CredentialsError::ProviderTimedOut(_)));
    if e.transient && !assume_failed {
        return Err(e);
    }
    let why = if assume_failed {
        format!("the read-only role could not be assumed: {}", e.chain())
    } else {
        e.chain()
    };
    Ok(Err(Unreadable { why, role_refused: assume_failed }))
}

#[async_trait]
impl ConsumerNetworks for AssumeRoleNetworks {
    async fn vpc_cidrs(&self, owner: AccountId, endpoint: &EndpointId) -> Result<Discovery, PortError> {
        if let Some((at, why)) = self.refused.lock().await.get(&owner)
            && at.elapsed() < REFUSED_TTL
        {
            return Ok(Discovery::Unavailable(why.clone()));
        }
        Ok(match self.read(owner, endpoint).await? {
            Ok(cidrs) => Discovery::Read(cidrs),
            Err(Unreadable { why, role_refused }) => {
                tracing::warn!(owner = %owner, endpoint_id = %endpoint, reason = %why, "consumer CIDRs unavailable");
                if role_refused {
                    self.refused.lock().await.insert(owner, (Instant::now(), why.clone()));
                }
                Discovery::Unavailable(why)
            }
        })
    }
}
