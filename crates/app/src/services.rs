//! Services as code: the endpoint services the policy file lists are
//! managed without a stack update. For each one EC2 keeps a connection
//! notification to the stack's connection topic and the tag that scopes
//! the functions' Accept/Reject permission; the table keeps the list,
//! which the functions read beside the stack's `SERVICE_IDS`.

use async_trait::async_trait;
use gate_core::ServiceId;
use serde::{Deserialize, Serialize};

use crate::error::PortError;

/// The tag `apply` puts on each managed service. The functions may accept
/// and reject connections only on services carrying it, so whoever may tag
/// a service may hand it to Endpoint Gate.
pub const MANAGED_TAG_KEY: &str = "endpoint-gate:managed";
pub const MANAGED_TAG_VALUE: &str = "true";

/// The events the stack's own notifications publish: decide acts on
/// Connect, record keeps the registry on all four.
pub const CONNECTION_EVENTS: [&str; 4] = ["Connect", "Accept", "Reject", "Delete"];

/// The managed services as the table keeps them.
#[async_trait]
pub trait ManagedServices: Send + Sync {
    /// The services the policy file manages now (empty when none).
    async fn managed(&self) -> Result<Vec<ServiceId>, PortError>;
    async fn set_managed(&self, services: &[ServiceId]) -> Result<(), PortError>;
}

/// A connection notification of an endpoint service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionNotification {
    pub id: String,
    /// The SNS topic it publishes to.
    pub topic: String,
}

/// What EC2 keeps for a managed service: its connection notifications and
/// the managing tag.
#[async_trait]
pub trait ServiceNotifications: Send + Sync {
    async fn notifications(&self, service: &ServiceId) -> Result<Vec<ConnectionNotification>, PortError>;
    /// Creates a notification of [`CONNECTION_EVENTS`] to `topic`.
    async fn create(&self, service: &ServiceId, topic: &str) -> Result<String, PortError>;
    async fn delete(&self, notification: &str) -> Result<(), PortError>;
    /// Whether the service carries the managing tag.
    async fn tagged(&self, service: &ServiceId) -> Result<bool, PortError>;
    async fn set_tag(&self, service: &ServiceId, on: bool) -> Result<(), PortError>;
}

/// How the managed services and their notifications and tags follow the
/// file. Services EC2 could not be read for are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicesPlan {
    /// The connection topic, when given: without it notifications are not planned.
    pub topic: Option<String>,
    /// The managed list to write, when it changes.
    pub write: Option<Vec<ServiceId>>,
    pub add: Vec<ServiceId>,
    pub remove: Vec<ServiceId>,
    /// Managed in the table but not in the file: kept unless `--prune`.
    pub unmanaged: Vec<ServiceId>,
    pub tag: Vec<ServiceId>,
    pub untag: Vec<ServiceId>,
    pub notify: Vec<ServiceId>,
    pub unnotify: Vec<(ServiceId, String)>,
    /// Services not planned, and why.
    pub errors: Vec<(ServiceId, String)>,
}

impl ServicesPlan {
    /// Nothing to change and nothing wrong.
    pub fn is_empty(&self) -> bool {
        self.write.is_none()
            && self.tag.is_empty()
            && self.untag.is_empty()
            && self.notify.is_empty()
            && self.unnotify.is_empty()
            && self.errors.is_empty()
    }
}

/// Plans the file's services (`None`: the file manages none, nothing
/// changes) against the table's list and what EC2 has.
pub async fn plan(
    desired: Option<&[ServiceId]>,
    store: &dyn ManagedServices,
    ec2: &dyn ServiceNotifications,
    topic: Option<&str>,
    prune: bool,
) -> Result<Option<ServicesPlan>, PortError> {
    let Some(desired) = desired else { return Ok(None) };
    let live = store.managed().await?;
    let mut plan = ServicesPlan { topic: topic.map(str::to_owned), ..ServicesPlan::default() };
    let mut list: Vec<ServiceId> = Vec::new();
    for service in desired {
        match look(ec2, service, topic).await {
            Ok((tagged, ours)) => {
                if !tagged {
                    plan.tag.push(service.clone());
                }
                if topic.is_some() && ours.is_empty() {
                    plan.notify.push(service.clone());
                }
                if !live.contains(service) {
                    plan.add.push(service.clone());
                }
                list.push(service.clone());
            }
            // A service not yet managed stays out until EC2 can be read;
            // one already managed stays in.
            Err(e) => {
                if live.contains(service) {
                    list.push(service.clone());
                }
                plan.errors.push((service.clone(), e.chain()));
            }
        }
    }
    for service in live.iter().filter(|s| !desired.contains(s)) {
        if !prune {
            plan.unmanaged.push(service.clone());
            list.push(service.clone());
            continue;
        }
        match look(ec2, service, topic).await {
            Ok((tagged, ours)) => {
                if tagged {
                    plan.untag.push(service.clone());
                }
                plan.unnotify.extend(ours.into_iter().map(|n| (service.clone(), n.id)));
                plan.remove.push(service.clone());
            }
            Err(e) => {
                list.push(service.clone());
                plan.errors.push((service.clone(), e.chain()));
            }
        }
    }
    if !plan.add.is_empty() || !plan.remove.is_empty() {
        plan.write = Some(list);
    }
    Ok(Some(plan))
}

/// Whether the service is tagged, and its notifications to `topic`.
async fn look(
    ec2: &dyn ServiceNotifications,
    service: &ServiceId,
    topic: Option<&str>,
) -> Result<(bool, Vec<ConnectionNotification>), PortError> {
    let tagged = ec2.tagged(service).await?;
    let ours = match topic {
        Some(topic) => ec2.notifications(service).await?.into_iter().filter(|n| n.topic == topic).collect(),
        None => Vec::new(),
    };
    Ok((tagged, ours))
}

/// Converges: new services are tagged and notified before the list names
/// them, and leave the list before their notification and tag go, so the
/// functions never hold a service they may not act on. What was done is
/// returned, with the first failure.
pub async fn apply(
    plan: &ServicesPlan,
    store: &dyn ManagedServices,
    ec2: &dyn ServiceNotifications,
) -> Result<Vec<String>, (Vec<String>, PortError)> {
    let mut done = Vec::new();
    macro_rules! step {
        ($call:expr, $what:expr) => {
            match $call.await {
                Ok(_) => done.push($what),
                Err(e) => return Err((done, e)),
            }
        };
    }
    for service in &plan.tag {
        step!(ec2.set_tag(service, true), format!("tag on {service}"));
    }
    if let Some(topic) = &plan.topic {
        for service in &plan.notify {
            step!(ec2.create(service, topic), format!("notification of {service}"));
        }
    }
    if let Some(list) = &plan.write {
        step!(store.set_managed(list), format!("managed services ({})", list.len()));
    }
    for (service, id) in &plan.unnotify {
        step!(ec2.delete(id), format!("removal of {service}'s notification {id}"));
    }
    for service in &plan.untag {
        step!(ec2.set_tag(service, false), format!("removal of the tag on {service}"));
    }
    Ok(done)
}

/// In-memory ports for tests: the table's list and EC2's notifications
/// and tags, each with a switch that fails every call.
#[cfg(any(test, feature = "test-util"))]
pub mod memory {
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;

    use super::*;

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[derive(Debug, Default)]
    pub struct InMemoryManagedServices {
        pub services: Mutex<Vec<ServiceId>>,
        pub fail: Mutex<bool>,
        pub reads: Mutex<usize>,
    }

    impl InMemoryManagedServices {
        pub fn with(services: impl IntoIterator<Item = ServiceId>) -> Self {
            let me = Self::default();
            lock(&me.services).extend(services);
            me
        }

        pub fn fail(&self, on: bool) {
            *lock(&self.fail) = on;
        }

        pub fn list(&self) -> Vec<ServiceId> {
            lock(&self.services).clone()
        }

        pub fn read_count(&self) -> usize {
            *lock(&self.reads)
        }
    }

    #[async_trait]
    impl ManagedServices for InMemoryManagedServices {
        async fn managed(&self) -> Result<Vec<ServiceId>, PortError> {
            *lock(&self.reads) += 1;
            if *lock(&self.fail) {
                return Err(PortError::plain("reading the managed services failed", true));
            }
            Ok(self.list())
        }

        async fn set_managed(&self, services: &[ServiceId]) -> Result<(), PortError> {
            if *lock(&self.fail) {
                return Err(PortError::plain("writing the managed services failed", true));
            }
            *lock(&self.services) = services.to_vec();
            Ok(())
        }
    }

    /// EC2's connection notifications and managing tags.
    #[derive(Debug, Default)]
    pub struct InMemoryNotifications {
        pub notifications: Mutex<HashMap<String, (ServiceId, String)>>,
        pub tagged: Mutex<HashSet<ServiceId>>,
        pub fail: Mutex<bool>,
    }

    impl InMemoryNotifications {
        pub fn fail(&self, on: bool) {
            *lock(&self.fail) = on;
        }

        pub fn is_tagged(&self, service: &ServiceId) -> bool {
            lock(&self.tagged).contains(service)
        }

        /// The topics the service notifies, sorted.
        pub fn topics_of(&self, service: &ServiceId) -> Vec<String> {
            let mut out: Vec<String> = lock(&self.notifications)
                .values()
                .filter(|(s, _)| s == service)
                .map(|(_, t)| t.clone())
                .collect();
            out.sort();
            out
        }

        fn check(&self) -> Result<(), PortError> {
            match *lock(&self.fail) {
                true => Err(PortError::plain("EC2 refused", true)),
                false => Ok(()),
            }
        }
    }

    #[async_trait]
    impl ServiceNotifications for InMemoryNotifications {
        async fn notifications(&self, service: &ServiceId) -> Result<Vec<ConnectionNotification>, PortError> {
            self.check()?;
            let all = lock(&self.notifications);
            let mut out: Vec<ConnectionNotification> = all
                .iter()
                .filter(|(_, (s, _))| s == service)
                .map(|(id, (_, topic))| ConnectionNotification { id: id.clone(), topic: topic.clone() })
                .collect();
            out.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(out)
        }

        async fn create(&self, service: &ServiceId, topic: &str) -> Result<String, PortError> {
            self.check()?;
            let mut all = lock(&self.notifications);
            let id = format!("vpce-nfn-{:017x}", all.len() + 1);
            all.insert(id.clone(), (service.clone(), topic.to_owned()));
            Ok(id)
        }

        async fn delete(&self, notification: &str) -> Result<(), PortError> {
            self.check()?;
            lock(&self.notifications).remove(notification);
            Ok(())
        }

        async fn tagged(&self, service: &ServiceId) -> Result<bool, PortError> {
            self.check()?;
            Ok(self.is_tagged(service))
        }

        async fn set_tag(&self, service: &ServiceId, on: bool) -> Result<(), PortError> {
            self.check()?;
            let mut tagged = lock(&self.tagged);
            if on {
                tagged.insert(service.clone());
            } else {
                tagged.remove(service);
            }
            Ok(())
        }
    }
}
