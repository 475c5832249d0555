//! Every use case assembled from the AWS adapters, in one place: the four
//! functions, the CLI and the end-to-end tests build them here, once per
//! cold start.

use std::sync::Arc;

use aws_config::SdkConfig;
use gate_app::consumer_topic::ConsumerTopicWatch;
use gate_app::fanout::Fanout;
use gate_app::lookup::Lookup;
use gate_app::organizations::{DEFAULT_MAX_AGE_SECS, Placements};
use gate_app::ports::Notifier;
use gate_app::record::Recorder;
use gate_app::subscriptions::TopicWatch;
use gate_app::{Answer, Decide, Notices, PortError, Settings};
use gate_core::ServiceId;

use crate::{
    AssumeRoleNetworks, AwsOrganizations, DynamoStore, Ec2Catalogue, Ec2Connections, EmailLinks, LinkKeys,
    OnFirstUse, SlackNotifier, SlackSecrets, SnsConsumerNotices, SnsConsumerTopic, SnsNotifier,
    SnsReviewTopic,
};

/// Where approval links point and where their signing keys live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkConfig {
    pub respond_url: String,
    pub keys_secret_arn: String,
    pub ttl_secs: i64,
}

/// The Slack app: its secret (signing secret and bot token) and where
/// Slack's Web API is (Slack's own unless a local run points elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackConfig {
    pub secret_arn: String,
    pub api_url: String,
}

/// The role each consumer account grants for reading its VPCs' CIDRs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRole {
    /// An IAM role ARN with `{account}` in place of the account id.
    pub template: String,
    pub external_id: Option<String>,
}

/// The Slack app as the functions use it: messages, and the secret that
/// proves a request came from Slack.
pub struct SlackApp {
    pub notifier: SlackNotifier,
    pub signing_secret: Vec<u8>,
}

impl std::fmt::Debug for SlackApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackApp { signing_secret: [redacted], .. }")
    }
}

/// The clients every use case shares. Each service's SDK client is built
/// at most once per execution environment (a client is a handle; clones
/// share it): DynamoDB's at the cold start, EC2's and SNS's on the first
/// call that needs them.
#[derive(Debug, Clone)]
pub struct Wiring {
    sdk: SdkConfig,
    store: Arc<DynamoStore>,
    /// Built on first use, as SNS's: lookup needs EC2 only for the catalogue.
    ec2_client: OnFirstUse<aws_sdk_ec2::Client>,
    /// Built with the use cases that call EC2 on every invocation (decide,
    /// record, respond), so that their client is ready at init.
    ec2: OnFirstUse<Arc<Ec2Connections>>,
    /// Built on first use: record and lookup never publish, and decide
    /// accepts without publishing.
    sns: OnFirstUse<aws_sdk_sns::Client>,
}

impl Wiring {
    pub fn new(sdk: &SdkConfig, table: &str) -> Self {
        let ec2_client = {
            let sdk = sdk.clone();
            OnFirstUse::new(move || aws_sdk_ec2::Client::new(&sdk))
        };
        let ec2 = {
            let client = ec2_client.clone();
            OnFirstUse::new(move || Arc::new(Ec2Connections::new(client.get().clone())))
        };
        Self {
            sdk: sdk.clone(),
            store: Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table.to_owned())),
            ec2,
            ec2_client,
            sns: {
                let sdk = sdk.clone();
                OnFirstUse::new(move || aws_sdk_sns::Client::new(&sdk))
            },
        }
    }

    /// The table, for the CLI's policy commands and the tests.
    pub fn store(&self) -> &Arc<DynamoStore> {
        &self.store
    }

    /// Reviews by email through the topic, with approval links when the
    /// respond function is deployed, and in Slack when the app is set up.
    /// Reads the link-signing keys and the Slack bot token.
    pub async fn review_notifier(
        &self,
        topic_arn: &str,
        links: Option<&LinkConfig>,
        slack: Option<&SlackConfig>,
    ) -> Result<Arc<dyn Notifier>, PortError> {
        let slack = match slack {
            Some(config) => Some(self.slack(config).await?.notifier),
            None => None,
        };
        self.review_notifier_with(topic_arn, links, slack).await
    }

    /// [`Wiring::review_notifier`] with a Slack app already read, so that
    /// decision notices can share it.
    pub async fn review_notifier_with(
        &self,
        topic_arn: &str,
        links: Option<&LinkConfig>,
        slack: Option<SlackNotifier>,
    ) -> Result<Arc<dyn Notifier>, PortError> {
        let mut email = SnsNotifier::new(self.sns(), topic_arn.to_owned());
        if let Some(links) = links {
            let keys = LinkKeys::load(&self.secrets(), &links.keys_secret_arn).await?;
            email = email.with_links(EmailLinks {
                base_url: links.respond_url.clone(),
                keys,
                ttl_secs: links.ttl_secs,
            });
        }
        Ok(match slack {
            None => Arc::new(email),
            Some(slack) => {
                Arc::new(Fanout::new(vec![("email", Arc::new(email)), ("slack", Arc::new(slack))]))
            }
        })
    }

    /// Decision notices to consumers' contacts: by email through the
    /// consumer topic, and in Slack when the app is set up and a contact
    /// names a channel. Contacts and the notices' claims are in the table.
    pub fn notices(&self, consumer_topic_arn: &str, slack: Option<SlackNotifier>) -> Notices {
        let topic = SnsConsumerNotices::new(self.sns(), consumer_topic_arn.to_owned());
        let mut channels: Vec<(&'static str, Arc<dyn gate_app::ports::NoticeSender>)> =
            vec![("email", Arc::new(topic))];
        if let Some(slack) = slack {
            channels.push(("slack", Arc::new(slack)));
        }
        Notices { contacts: self.store.clone(), channels, ledger: self.store.clone() }
    }

    /// The Slack app, its secret read from Secrets Manager.
    pub async fn slack(&self, config: &SlackConfig) -> Result<SlackApp, PortError> {
        let secrets = SlackSecrets::load(&self.secrets(), &config.secret_arn).await?;
        Ok(SlackApp {
            notifier: SlackNotifier::new(&config.api_url, secrets.bot_token)?,
            signing_secret: secrets.signing_secret,
        })
    }

    /// Deciding; with `organizations_role` (the read-only role in the
    /// management or a delegated administrator account), OU and
    /// organization entries apply.
    pub async fn decide(
        &self,
        settings: Settings,
        role: &ConsumerRole,
        notifier: Arc<dyn Notifier>,
        organizations_role: Option<&str>,
    ) -> Decide {
        let networks =
            AssumeRoleNetworks::new(self.sdk.clone(), role.template.clone(), role.external_id.clone());
        let decide = Decide::new(
            self.ec2.get().clone(),
            Arc::new(networks),
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            notifier,
            settings,
        )
        .resuming(self.store.clone())
        .reading_together(self.store.clone())
        .with_shadows(self.store.clone())
        .with_managed(self.store.clone());
        match organizations_role {
            Some(arn) => decide.with_placements(self.placements(arn).await),
            None => decide,
        }
    }

    /// Accounts' places in the organization, read through `role_arn` and
    /// cached for a bounded age.
    pub async fn placements(&self, role_arn: &str) -> Arc<Placements> {
        let port = AwsOrganizations::assuming(&self.sdk, role_arn).await;
        Arc::new(Placements::new(Arc::new(port), DEFAULT_MAX_AGE_SECS))
    }

    /// Answers; `posted` is where reviews were posted (Slack), updated
    /// with each answer.
    pub fn answer(&self, posted: Option<Arc<dyn Notifier>>) -> Answer {
        Answer::new(
            self.ec2.get().clone(),
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            posted,
        )
    }

    pub fn recorder(&self, services: Vec<ServiceId>) -> Recorder {
        Recorder {
            connections: self.ec2.get().clone(),
            requests: self.store.clone(),
            registry: self.store.clone(),
            audit: self.store.clone(),
            services,
            checkpoints: Some(self.store.clone()),
            managed: Some(self.store.clone()),
            together: Some(self.store.clone()),
        }
    }

    /// Looking up; with `placements`, the catalogue says what OU and
    /// organization entries give an account.
    pub fn lookup(&self, services: Vec<ServiceId>, placements: Option<Arc<Placements>>) -> Lookup {
        Lookup {
            registry: self.store.clone(),
            requests: self.store.clone(),
            audit: self.store.clone(),
            catalogue: Arc::new(Ec2Catalogue::new(self.ec2_client.clone())),
            policies: self.store.clone(),
            placements,
            services,
            managed: Some(self.store.clone()),
        }
    }

    /// The allowed principals' watch: the sweep compares EC2's lists with
    /// what apply set.
    pub fn principals_watch(&self) -> gate_app::principals::PrincipalsWatch {
        gate_app::principals::PrincipalsWatch {
            record: self.store.clone(),
            permissions: Arc::new(crate::Ec2ServicePermissions::new(self.ec2_client.get().clone())),
        }
    }

    /// The review topic's watch: the sweep compares its subscriptions with
    /// the approvers the policies name.
    pub fn topic_watch(&self, topic_arn: &str) -> TopicWatch {
        TopicWatch {
            topic: Arc::new(SnsReviewTopic::new(self.sns(), topic_arn.to_owned())),
            config: self.store.clone(),
        }
    }

    /// The consumer topic's watch: the sweep compares its subscriptions
    /// with the contacts.
    pub fn consumer_topic_watch(&self, topic_arn: &str) -> ConsumerTopicWatch {
        ConsumerTopicWatch {
            topic: Arc::new(SnsConsumerTopic::new(self.sns(), topic_arn.to_owned())),
            config: self.store.clone(),
        }
    }

    fn sns(&self) -> OnFirstUse<aws_sdk_sns::Client> {
        self.sns.clone()
    }

    /// Secrets Manager, where the link keys and the Slack app's secret live.
    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk)
    }
}

#[cfg(test)]
mod tests {
    use aws_config::{BehaviorVersion, Region};

    use super::*;

    /// A configuration whose calls fail before they are sent: no
    /// credentials to sign with.
    fn without_credentials() -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build()
    }

    /// decide builds its review notifier, its notices and its topic
    /// watches on every cold start, and an allowlisted accept publishes
    /// nothing: the SNS client waits for the first call that needs it.
    #[tokio::test]
    async fn no_sns_client_is_built_until_a_call_needs_one() {
        let sdk = without_credentials();
        let wiring = Wiring::new(&sdk, "gate");
        let topic = "arn:aws:sns:us-east-1:111111111111:review";
        let _review = wiring.review_notifier_with(topic, None, None).await.expect("no links, no Slack");
        let _notices = wiring.notices(topic, None);
        let watch = wiring.topic_watch(topic);
        let _consumers = wiring.consumer_topic_watch(topic);
        assert!(!wiring.sns.is_built(), "built at start-up");

        // Without credentials the call fails before it is sent, after it
        // asked for its client.
        assert!(watch.topic.subscriptions().await.is_err());
        assert!(wiring.sns.is_built(), "a call that needs the client builds it");
    }

    /// lookup lists endpoints from the table: EC2 is for the catalogue.
    #[tokio::test]
    async fn lookup_builds_no_ec2_client_until_the_catalogue_is_read() {
        let sdk = without_credentials();
        let wiring = Wiring::new(&sdk, "gate");
        let lookup = wiring.lookup(vec![], None);
        assert!(!wiring.ec2_client.is_built() && !wiring.ec2.is_built(), "built at start-up");

        assert!(lookup.catalogue.services(&[]).await.is_err(), "no credentials");
        assert!(wiring.ec2_client.is_built(), "the catalogue's call builds it");
        let _ = wiring.recorder(vec![]);
        assert!(wiring.ec2.is_built(), "record's connections are EC2's");
    }
}
