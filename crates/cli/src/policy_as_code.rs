//! `plan` and `apply` against everything the policy file manages: the
//! table's policies and entries, the topics' subscriptions, the managed
//! services with their notifications and tags, the services' allowed
//! principals; and for a reviewer, the OU coverage and the
//! connections an edit would revoke. Each part is read from where it lives
//! and applied in that order, so a failure part way leaves the earlier
//! parts applied and says which.

use anyhow::Context;
use gate_app::PortError;
use gate_app::consumer_topic::ConsumerTopic;
use gate_app::organizations::Placements;
use gate_app::ports::{ConfigStore, LiveConfig};
use gate_app::subscriptions::ReviewTopic;
use gate_aws::{
    DynamoStore, Ec2Connections, Ec2ServiceNotifications, Ec2ServicePermissions, SnsConsumerTopic,
    SnsReviewTopic,
};
use gate_core::Timestamp;

use crate::answer::caller;
use crate::args::TopicArgs;
use crate::failure::Failure;
use crate::file::Desired;
use crate::plan::{
    self, Applied, ConsumerSubscriptionPlan, Plan, PrincipalsPlan, ServicesPlan, SubscriptionPlan,
};

/// What plan and apply read and write through.
#[derive(Debug)]
pub struct Planner<'a> {
    pub sdk: &'a aws_config::SdkConfig,
    pub store: &'a DynamoStore,
    /// Organizations through the read-only role, when OU entries are in
    /// use: one assumed session for every read of the plan.
    pub placements: Option<&'a Placements>,
    pub now: Timestamp,
}

impl Planner<'_> {
    /// The plan from the file. `for_review` adds what only informs a
    /// reviewer: the accounts each OU covers and the connections the edit
    /// would revoke.
    pub async fn plan(
        &self,
        desired: &Desired,
        prune: bool,
        topic: &TopicArgs,
        for_review: bool,
    ) -> Result<Plan, Failure> {
        let live = self.store.load_all().await.context("reading the live configuration")?;
        let mut plan = plan::plan(desired, &live, prune, &caller(self.sdk).await?, self.now);
        plan.subscriptions = self.review_topic(topic, desired, &live, prune).await?;
        plan.consumer_subscriptions = self.consumer_topic(topic, desired, &live, prune).await?;
        plan.principals = self.principals(desired).await;
        plan.services = self.services(desired, topic, prune).await?;
        if !for_review {
            return Ok(plan);
        }
        if let Some(placements) = self.placements {
            plan.coverage = plan::coverage(desired, placements.organizations()).await;
        }
        let ec2 = Ec2Connections::new(aws_sdk_ec2::Client::new(self.sdk));
        plan.revocations = plan::revocations(desired, &live, prune, &ec2, self.placements, self.now)
            .await
            .context("listing the available connections an edit may revoke")?;
        Ok(plan)
    }

    /// Applies the plan part by part: the table, the review topic, the
    /// consumer topic, the managed services, the allowed principals. What was done is returned
    /// with the first failure.
    pub async fn apply(&self, plan: &Plan) -> Result<Applied, (Applied, PortError)> {
        let mut done = plan::apply(plan, self.store).await?;
        if let Some(subs) = &plan.subscriptions {
            let topic = SnsReviewTopic::new(aws_sdk_sns::Client::new(self.sdk), subs.topic.clone());
            if let Err(e) = plan::apply_subscriptions(subs, &topic, &mut done).await {
                return Err((done, e));
            }
        }
        if let Some(subs) = &plan.consumer_subscriptions {
            let topic = SnsConsumerTopic::new(aws_sdk_sns::Client::new(self.sdk), subs.topic.clone());
            if let Err(e) = plan::apply_consumer_subscriptions(subs, &topic, &mut done).await {
                return Err((done, e));
            }
        }
        // Before the principals: a consumer admitted there should find its
        // service decided.
        if let Some(services) = &plan.services {
            let ec2 = Ec2ServiceNotifications::new(aws_sdk_ec2::Client::new(self.sdk));
            match gate_app::services::apply(services, self.store, &ec2).await {
                Ok(steps) => done.services = steps,
                Err((steps, e)) => {
                    done.services = steps;
                    return Err((done, e));
                }
            }
        }
        if !plan.principals.is_empty() {
            let permissions = Ec2ServicePermissions::new(aws_sdk_ec2::Client::new(self.sdk));
            match gate_app::principals::apply(&plan.principals, &permissions, self.store, self.now).await {
                Ok(services) => done.principals = services,
                Err((services, e)) => {
                    done.principals = services;
                    return Err((done, e));
                }
            }
        }
        Ok(done)
    }

    /// The managed services against the table's list and EC2, when the
    /// file has `services:`.
    async fn services(
        &self,
        desired: &Desired,
        topic: &TopicArgs,
        prune: bool,
    ) -> Result<Option<ServicesPlan>, Failure> {
        let arn = topic.connection_topic_arn.as_deref();
        if let Some(arn) = arn {
            check_topic("--connection-topic-arn", arn)?;
        }
        let ec2 = Ec2ServiceNotifications::new(aws_sdk_ec2::Client::new(self.sdk));
        let plan = gate_app::services::plan(desired.services.as_deref(), self.store, &ec2, arn, prune)
            .await
            .context("reading the managed services")?;
        Ok(plan)
    }

    /// The allowed principals of the services whose policy names them, read
    /// from EC2 (and Organizations for OU entries, through the role).
    async fn principals(&self, desired: &Desired) -> Vec<PrincipalsPlan> {
        if desired.principals.is_empty() {
            return Vec::new();
        }
        let orgs = self.placements.map(Placements::organizations);
        let permissions = Ec2ServicePermissions::new(aws_sdk_ec2::Client::new(self.sdk));
        gate_app::principals::plan(&desired.principals, &desired.entries, orgs, &permissions, self.now).await
    }

    /// The review topic's subscriptions against the approvers, when the
    /// topic is given.
    async fn review_topic(
        &self,
        topic: &TopicArgs,
        desired: &Desired,
        live: &LiveConfig,
        prune: bool,
    ) -> Result<Option<SubscriptionPlan>, Failure> {
        let Some(arn) = &topic.review_topic_arn else { return Ok(None) };
        check_topic("--review-topic-arn", arn)?;
        let topic = SnsReviewTopic::new(aws_sdk_sns::Client::new(self.sdk), arn.clone());
        let live_subs = topic.subscriptions().await.context("reading the review topic's subscriptions")?;
        Ok(Some(plan::plan_subscriptions(desired, live, arn, &live_subs, prune)))
    }

    /// The consumer topic's subscriptions against the contacts, when the
    /// topic is given.
    async fn consumer_topic(
        &self,
        topic: &TopicArgs,
        desired: &Desired,
        live: &LiveConfig,
        prune: bool,
    ) -> Result<Option<ConsumerSubscriptionPlan>, Failure> {
        let Some(arn) = &topic.consumer_topic_arn else { return Ok(None) };
        check_topic("--consumer-topic-arn", arn)?;
        let topic = SnsConsumerTopic::new(aws_sdk_sns::Client::new(self.sdk), arn.clone());
        let live_subs = topic.subscriptions().await.context("reading the consumer topic's subscriptions")?;
        Ok(Some(plan::plan_consumer_subscriptions(desired, live, arn, &live_subs, prune)))
    }
}

fn check_topic(flag: &str, arn: &str) -> Result<(), Failure> {
    if arn.starts_with("arn:") && arn.contains(":sns:") {
        Ok(())
    } else {
        Err(Failure { code: 2, message: format!("{flag} {arn:?} is not an SNS topic ARN") })
    }
}

/// What apply did, in words.
pub fn applied_text(done: &Applied) -> String {
    let mut s = format!("Applied {} change(s).", done.applied.len());
    for email in &done.subscribed {
        s.push_str(&format!("\nsubscribed {email}: SNS asks the address to confirm"));
    }
    for arn in &done.unsubscribed {
        s.push_str(&format!("\nremoved the subscription {arn}"));
    }
    for email in &done.refiltered {
        s.push_str(&format!("\n{email}'s subscription now filters on its own accounts"));
    }
    for service in &done.principals {
        s.push_str(&format!("\n{service}: allowed principals set"));
    }
    for step in &done.services {
        s.push_str(&format!("\ndone: {step}"));
    }
    for c in &done.conflicts {
        s.push_str(&format!("\nconflict: {c} changed since the plan; not overwritten (plan again)"));
    }
    s
}

/// An apply that failed part way: the cause, and what was done before it.
pub fn apply_failure(done: &Applied, e: &PortError) -> Failure {
    let mut applied: Vec<String> = done.applied.iter().map(ToString::to_string).collect();
    applied.extend(done.subscribed.iter().map(|a| format!("subscription {a}")));
    applied.extend(done.unsubscribed.iter().map(|a| format!("removal of {a}")));
    applied.extend(done.principals.iter().map(|s| format!("principals of {s}")));
    applied.extend(done.services.iter().cloned());
    // The stack's topic policy refuses Subscribe to all but its OperatorArns.
    let hint = if e.chain().contains("AuthorizationError") {
        "\nthe review topic admits subscriptions only from the stack's OperatorArns: run apply as one of them"
    } else {
        ""
    };
    Failure {
        code: 1,
        message: format!(
            "{}{hint}\napplied before the failure: {}",
            e.chain(),
            if applied.is_empty() { "nothing".into() } else { applied.join(", ") }
        ),
    }
}
