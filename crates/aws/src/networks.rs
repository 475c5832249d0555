//! Reads a consumer VPC's CIDRs through a read-only role in the consumer
//! account. A refusal (no role, a role that denies, a bad external id) is
//! lasting and becomes `Discovery::Unavailable`, so the policy decides what
//! it means; anything that may pass (throttling, 5xx, timeouts, a lost
//! connection, to STS or to EC2) is an error, so the connection stays
//! pending and is decided on a later try.
//!
//! A cross-region consumer's endpoint and VPC live in the connection's
//! region (`VpcEndpointRegion`), so they are read there: the role is
//! assumed once per account (IAM is global) and EC2 is asked in that region.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Vpc;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use gate_app::PortError;
use gate_app::ports::ConsumerNetworks;
use gate_core::{AccountId, Cidr, Discovery, EndpointId, Region};
use tokio::sync::Mutex;

use crate::error::port_error;

#[derive(Debug)]
pub struct AssumeRoleNetworks {
    base: SdkConfig,
    /// Role ARN with `{account}` where the consumer account goes.
    role_template: String,
    external_id: Option<String>,
    /// One credentials provider per consumer account, shared by its regions'
    /// clients so that they share cached credentials: one AssumeRole each.
    roles: Mutex<HashMap<AccountId, SharedCredentialsProvider>>,
    /// One client per consumer account and region, kept across warm
    /// invocations; the provider refreshes credentials itself.
    clients: Mutex<HashMap<(AccountId, Region), Client>>,
    /// Accounts whose role was refused recently, so a sweep over thousands
    /// of their endpoints asks STS once rather than once per endpoint. Only
    /// refusals are kept: a passing failure must not outlive itself.
    refused: Mutex<HashMap<AccountId, (Instant, String)>>,
    /// Accounts whose role has answered once; until then their reads go
    /// one at a time behind the account's probe, so a sweep's first page
    /// asks STS once per account, not once per concurrent read.
    settled: Mutex<HashSet<AccountId>>,
    probes: Mutex<HashMap<AccountId, Arc<Mutex<()>>>>,
}

/// How long a refused role is remembered before STS is asked again.
const REFUSED_TTL: Duration = Duration::from_secs(300);

/// How many consumer accounts the caches hold. An execution environment
/// lives for hours and a provider may serve tens of thousands of accounts,
/// each with a credentials provider and an EC2 client: a full cache is
/// emptied, which costs its accounts one AssumeRole again, and memory stays
/// bounded in a 128 MB function.
pub const CACHED_ACCOUNTS: usize = 1_000;

/// Makes room for one more entry: an emptied map when it is full.
fn make_room<K, V>(map: &mut HashMap<K, V>) {
    if map.len() >= CACHED_ACCOUNTS {
        map.clear();
    }
}

/// Why CIDRs could not be read, and whether the account refused us (its
/// role, or the role's permissions), which is worth remembering.
struct Unreadable {
    why: String,
    role_refused: bool,
}

/// EC2 codes that mean the role exists but may not describe: a refusal.
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>
/// (`AuthFailure` is about the credentials themselves, so it is not one.)
const EC2_REFUSALS: &[&str] = &["UnauthorizedOperation", "AccessDenied"];

impl AssumeRoleNetworks {
    pub fn new(base: SdkConfig, role_template: String, external_id: Option<String>) -> Self {
        Self {
            base,
            role_template,
            external_id,
            roles: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
            settled: Mutex::new(HashSet::new()),
            probes: Mutex::new(HashMap::new()),
        }
    }

    pub fn role_arn(&self, account: AccountId) -> String {
        self.role_template.replace("{account}", account.as_str())
    }

    /// The account's role, assumed through STS in the provider's region.
    async fn role(&self, account: AccountId) -> SharedCredentialsProvider {
        let mut roles = self.roles.lock().await;
        if let Some(p) = roles.get(&account) {
            return p.clone();
        }
        let mut provider =
            AssumeRoleProvider::builder(self.role_arn(account)).session_name("endpoint-gate-cidr-read");
        if let Some(id) = &self.external_id {
            provider = provider.external_id(id);
        }
        let provider = SharedCredentialsProvider::new(provider.configure(&self.base).build().await);
        make_room(&mut roles);
        roles.insert(account, provider.clone());
        provider
    }

    /// EC2 in `region` as the account's role. The region is a validated
    /// name, so the endpoint the SDK builds from it is AWS's own.
    async fn client(&self, account: AccountId, region: &Region) -> Client {
        let key = (account, region.clone());
        if let Some(c) = self.clients.lock().await.get(&key) {
            return c.clone();
        }
        let role = self.role(account).await;
        let mut config = aws_sdk_ec2::config::Builder::from(&self.base)
            .region(aws_sdk_ec2::config::Region::new(region.as_str().to_owned()));
        config.set_credentials_provider(Some(role));
        let client = Client::from_conf(config.build());
        let mut clients = self.clients.lock().await;
        if !clients.contains_key(&key) {
            make_room(&mut clients);
        }
        clients.entry(key).or_insert(client).clone()
    }

    /// How many accounts' roles and clients are held now.
    pub async fn cached(&self) -> (usize, usize) {
        (self.roles.lock().await.len(), self.clients.lock().await.len())
    }

    async fn read(
        &self,
        owner: AccountId,
        region: &Region,
        endpoint: &EndpointId,
    ) -> Result<Result<Vec<Cidr>, Unreadable>, PortError> {
        let client = self.client(owner, region).await;
        let endpoints = match client.describe_vpc_endpoints().vpc_endpoint_ids(endpoint.as_str()).send().await
        {
            Ok(out) => out,
            Err(e) => {
                return lasting_or_retry(port_error(
                    format!("DescribeVpcEndpoints {endpoint} in account {owner} ({region}) failed"),
                    e,
                ));
            }
        };
        // Only the endpoint asked about, and below only its VPC: nothing else
        // an answer might hold is judged in their place.
        let asked = endpoints.vpc_endpoints().iter().find(|e| e.vpc_endpoint_id() == Some(endpoint.as_str()));
        let Some(vpc) = asked.and_then(|e| e.vpc_id()).map(str::to_owned) else {
            let why = format!("endpoint {endpoint} not found in account {owner} in {region}");
            return Ok(Err(Unreadable { why, role_refused: false }));
        };
        let vpcs = match client.describe_vpcs().vpc_ids(&vpc).send().await {
            Ok(out) => out,
            Err(e) => {
                return lasting_or_retry(port_error(
                    format!("DescribeVpcs {vpc} in account {owner} ({region}) failed"),
                    e,
                ));
            }
        };
        Ok(Ok(cidrs_of(vpcs.vpcs(), &vpc)))
    }
}

/// The CIDRs of `vpc` among `vpcs`, IPv4 and IPv6, each once; blocks
/// being taken away (or that failed) are not the VPC's.
fn cidrs_of(vpcs: &[Vpc], vpc: &str) -> Vec<Cidr> {
    let mut cidrs = Vec::new();
    for v in vpcs.iter().filter(|v| v.vpc_id() == Some(vpc)) {
        let v4 = v
            .cidr_block_association_set()
            .iter()
            .filter(|a| a.cidr_block_state().and_then(|s| s.state()).is_none_or(|s| in_use(s.as_str())))
            .filter_map(|a| a.cidr_block());
        let v6 = v
            .ipv6_cidr_block_association_set()
            .iter()
            .filter(|a| a.ipv6_cidr_block_state().and_then(|s| s.state()).is_none_or(|s| in_use(s.as_str())))
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
    cidrs
}

/// Whether a CIDR block in this association state counts as the VPC's:
/// one still `associating` will be in a moment, and overlap rules must not
/// miss it ("VpcCidrBlockStateCode": associating, associated,
/// disassociating, disassociated, failing, failed; Amazon EC2 API
/// Reference, "VpcCidrBlockState").
fn in_use(state: &str) -> bool {
    matches!(state, "associated" | "associating")
}

/// Sorts a failed consumer-side read: a refusal or another lasting reason
/// becomes `Ok(Err(..))`; anything that may pass is returned as a transient
/// error, to be retried.
///
/// `AssumeRoleProvider` reports every STS failure as a `CredentialsError`,
/// throttling and refusals alike, so the STS error beneath it decides: STS
/// answers a missing role, a trust policy that does not admit us and a wrong
/// external id with a 4xx `AccessDenied`
/// (<https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html#API_AssumeRole_Errors>,
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_roles.html>);
/// throttling, 5xx, timeouts and dispatch failures are transient
/// (<https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html>).
fn lasting_or_retry<T>(mut e: PortError) -> Result<Result<T, Unreadable>, PortError> {
    let first = e.source.as_deref().map(|s| s as &(dyn StdError + 'static));
    let chain: Vec<&(dyn StdError + 'static)> =
        std::iter::successors(first, |s: &&(dyn StdError + 'static)| (*s).source()).collect();
    let assume = chain.iter().find_map(|s| s.downcast_ref::<CredentialsError>());
    if let Some(credentials) = assume {
        let sts = chain.iter().find_map(|s| s.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>());
        return match sts_refusal(credentials, sts) {
            Some(code) => Ok(Err(Unreadable {
                why: format!("the read-only role was refused ({code})"),
                role_refused: true,
            })),
            None => {
                e.transient = true;
                Err(e)
            }
        };
    }
    if e.transient {
        return Err(e);
    }
    let refused = chain.iter().find_map(|s| ec2_code(*s)).filter(|c| EC2_REFUSALS.contains(c));
    let why = match refused {
        Some(code) => format!("the read-only role may not read the VPC ({code})"),
        None => e.chain(),
    };
    Ok(Err(Unreadable { why, role_refused: refused.is_some() }))
}

/// The STS code when STS refused the role for good; `None` when the failure
/// may pass (or cannot be told apart from one that may).
fn sts_refusal(
    credentials: &CredentialsError,
    sts: Option<&SdkError<AssumeRoleError, HttpResponse>>,
) -> Option<String> {
    if let CredentialsError::InvalidConfiguration(_) = credentials {
        // RegionDisabledException, MalformedPolicyDocument: our setup, lasting.
        return Some(sts.and_then(|e| e.code()).unwrap_or("InvalidConfiguration").to_owned());
    }
    // Only the consumer's refusal is lasting. Other 4xx codes (ExpiredToken,
    // InvalidClientTokenId, SignatureDoesNotMatch) are about the provider's
    // own credentials: not the consumer's doing, and not to be remembered.
    let SdkError::ServiceError(context) = sts? else { return None };
    let code = context.err().code()?;
    STS_REFUSALS.contains(&code).then(|| code.to_owned())
}

/// What STS answers when the consumer's role is missing, does not trust
/// us, or wants another external id.
const STS_REFUSALS: &[&str] = &["AccessDenied", "AccessDeniedException"];

/// The service error code of a failed EC2 read in the consumer account.
fn ec2_code<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a str> {
    use aws_sdk_ec2::operation::{
        describe_vpc_endpoints::DescribeVpcEndpointsError, describe_vpcs::DescribeVpcsError,
    };
    if let Some(e) = err.downcast_ref::<SdkError<DescribeVpcEndpointsError, HttpResponse>>() {
        return e.code();
    }
    err.downcast_ref::<SdkError<DescribeVpcsError, HttpResponse>>().and_then(|e| e.code())
}

impl AssumeRoleNetworks {
    /// Why the account's role was refused, while that is remembered.
    async fn refusal(&self, owner: AccountId) -> Option<String> {
        let refused = self.refused.lock().await;
        refused.get(&owner).filter(|(at, _)| at.elapsed() < REFUSED_TTL).map(|(_, why)| why.clone())
    }

    /// The account's turn to read, while its role has not answered yet;
    /// `None` once it has, and reads run side by side.
    async fn probe(&self, owner: AccountId) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        if self.settled.lock().await.contains(&owner) {
            return None;
        }
        let gate = {
            let mut probes = self.probes.lock().await;
            if !probes.contains_key(&owner) {
                make_room(&mut probes);
            }
            probes.entry(owner).or_default().clone()
        };
        let guard = gate.lock_owned().await;
        (!self.settled.lock().await.contains(&owner)).then_some(guard)
    }
}

#[async_trait]
impl ConsumerNetworks for AssumeRoleNetworks {
    async fn vpc_cidrs(
        &self,
        owner: AccountId,
        region: Option<&Region>,
        endpoint: &EndpointId,
    ) -> Result<Discovery, PortError> {
        // Never guess a region: reading the provider's would find nothing,
        // or another VPC of the account.
        let Some(region) = region else {
            return Ok(Discovery::Unavailable("EC2 reported no usable region for the endpoint".into()));
        };
        if let Some(why) = self.refusal(owner).await {
            return Ok(Discovery::Unavailable(why));
        }
        let _probe = match self.probe(owner).await {
            Some(guard) => match self.refusal(owner).await {
                // Refused while this read waited its turn.
                Some(why) => return Ok(Discovery::Unavailable(why)),
                None => Some(guard),
            },
            None => None,
        };
        Ok(match self.read(owner, region, endpoint).await? {
            Ok(cidrs) => {
                let mut settled = self.settled.lock().await;
                if settled.len() >= CACHED_ACCOUNTS {
                    settled.clear();
                }
                settled.insert(owner);
                Discovery::Read(cidrs)
            }
            Err(Unreadable { why, role_refused }) => {
                // The role is named: a wrong template refuses every consumer alike.
                tracing::warn!(
                    owner = %owner,
                    endpoint_id = %endpoint,
                    role = %self.role_arn(owner),
                    reason = %why,
                    "consumer CIDRs unavailable"
                );
                if role_refused {
                    let mut refused = self.refused.lock().await;
                    make_room(&mut refused);
                    refused.insert(owner, (Instant::now(), why.clone()));
                }
                Discovery::Unavailable(why)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn sts(status: u16, code: &str) -> SdkError<AssumeRoleError, HttpResponse> {
        let err = AssumeRoleError::generic(ErrorMetadata::builder().code(code).message("x").build());
        let status = StatusCode::try_from(status).unwrap_or_else(|_| unreachable!("a valid status"));
        SdkError::service_error(err, HttpResponse::new(status, SdkBody::empty()))
    }

    fn vpc(id: &str, blocks: &[(&str, &str)]) -> Vpc {
        use aws_sdk_ec2::types::{VpcCidrBlockAssociation, VpcCidrBlockState, VpcCidrBlockStateCode};
        let associations = blocks.iter().map(|(cidr, state)| {
            let state = VpcCidrBlockState::builder().state(VpcCidrBlockStateCode::from(*state)).build();
            VpcCidrBlockAssociation::builder().cidr_block(*cidr).cidr_block_state(state).build()
        });
        Vpc::builder().vpc_id(id).set_cidr_block_association_set(Some(associations.collect())).build()
    }

    #[test]
    fn only_the_asked_vpcs_blocks_count_and_one_being_added_does() {
        let answer = [
            vpc("vpc-0aaa", &[("10.1.0.0/16", "associated"), ("10.9.0.0/16", "associating")]),
            vpc("vpc-0bbb", &[("192.168.0.0/16", "associated")]),
            vpc("vpc-0aaa", &[("10.7.0.0/16", "disassociated"), ("10.8.0.0/16", "failed")]),
        ];
        let cidrs: Vec<String> = cidrs_of(&answer, "vpc-0aaa").iter().map(ToString::to_string).collect();
        assert_eq!(cidrs, ["10.1.0.0/16", "10.9.0.0/16"]);
        assert!(cidrs_of(&answer, "vpc-0ccc").is_empty(), "a VPC not in the answer has no CIDRs");
    }

    /// A first sweep over tens of thousands of consumer accounts keeps at
    /// most CACHED_ACCOUNTS of them, whatever the number it meets.
    #[tokio::test]
    async fn the_caches_of_consumer_accounts_stay_bounded() {
        let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await;
        let networks = AssumeRoleNetworks::new(base, "arn:aws:iam::{account}:role/Reader".into(), None);
        let region: Region = "eu-west-1".parse().expect("region");
        for n in 0..CACHED_ACCOUNTS + 10 {
            let account: AccountId = format!("{:012}", 100_000_000_000 + n).parse().expect("account");
            networks.client(account, &region).await;
            let (roles, clients) = networks.cached().await;
            assert!(
                roles <= CACHED_ACCOUNTS && clients <= CACHED_ACCOUNTS,
                "{roles} roles, {clients} clients"
            );
        }
        // Emptied once full, then filled again: the last accounts are held.
        assert_eq!(networks.cached().await, (10, 10));
    }

    #[test]
    fn only_the_consumers_refusal_is_lasting() {
        let provider = |e| CredentialsError::provider_error(e);
        for (status, code, lasting) in [
            (403, "AccessDenied", true),
            (400, "Throttling", false),
            (500, "InternalFailure", false),
            (503, "ServiceUnavailable", false),
            (403, "ExpiredTokenException", false),
            (403, "InvalidClientTokenId", false),
            (403, "SignatureDoesNotMatch", false),
        ] {
            let err = sts(status, code);
            let got = sts_refusal(&provider("wrapped"), Some(&err));
            assert_eq!(got.is_some(), lasting, "{status} {code}");
        }
        assert_eq!(sts_refusal(&provider("no STS answer"), None), None, "a lost connection may pass");
        let timed_out = CredentialsError::provider_timed_out(std::time::Duration::from_secs(5));
        assert_eq!(sts_refusal(&timed_out, None), None);
        let misconfigured = CredentialsError::invalid_configuration("region disabled");
        assert!(sts_refusal(&misconfigured, None).is_some(), "our own setup does not fix itself");
    }
}
