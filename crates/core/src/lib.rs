//! Endpoint Gate's domain: identifiers, CIDR sets, the operator's policy,
//! the decision and the request state machine. Pure and synchronous: no
//! AWS, no I/O, no async, so every rule is tested as a plain function.

pub mod caller;
pub mod cidr;
pub mod decision;
pub mod id;
pub mod link;
pub mod notice;
pub mod policy;
pub mod principals;
pub mod registry;
pub mod request;
pub mod revocation;
pub mod shadow;
pub mod slack;
pub mod time;

pub use cidr::{Cidr, CidrError, CidrSet};
pub use decision::{
    Decision, Discovery, Offer, Outcome, Reason, Request, Rule, consumer_overlap, decide, denial, offer,
};
pub use id::{AccountId, EndpointId, IdError, OrgId, OuId, Principal, Region, Scope, ServiceId, scan_ids};
pub use notice::{Contact, Notice, NoticeKind};
pub use policy::{
    AllowEntry, Answerer, Approver, DeclaredCidrs, Effect, Level, Membership, Mode, OnExpiry, OuStep,
    OverlapMode, Placement, PolicyBook, ProtectedRange, Revoke, ServicePolicy, UnknownCidr, Unlisted,
    check_slack_channel,
};
pub use registry::{Attribution, Merge, Observation, RegistryEntry, ViewPosition};
pub use request::{
    Action, Connection, ConnectionState, DnsEntry, RequestRecord, RequestState, ReviewStep, SlackMessage,
    review_step,
};
pub use revocation::{Standing, standing};
pub use shadow::{Actual, Agreement, ShadowVerdict, Would, compare};
pub use time::Timestamp;
