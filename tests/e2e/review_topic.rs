//! The sweep's watch over the review topic: a subscription no policy names
//! (it could read approvers' links) is found; the approvers' own are not.

use std::sync::Arc;

use gate_app::subscriptions::{ReviewTopic, TopicWatch};
use gate_aws::SnsReviewTopic;
use gate_core::{Scope, ServicePolicy};
use gate_e2e::{Local, Result};

#[tokio::test]
async fn the_watch_finds_subscriptions_no_policy_names_and_approvers_without_one() -> Result<()> {
    let local = Local::from_env().await;
    let store = local.table().await?;
    let mut policy = ServicePolicy::cautious(Scope::Any);
    policy.approvers = vec!["ana@example.com".into(), "bo@example.com".into()];
    store.put_policy(&policy).await?;
    // An unfiltered SQS subscription, as someone might add by hand.
    let (topic, _) = local.topic_with_queue("watched").await?;
    let sns = SnsReviewTopic::new(aws_sdk_sns::Client::new(&local.sdk), topic.clone());
    sns.subscribe("ana@example.com").await.map_err(|e| e.chain())?;
    let watch = TopicWatch { topic: Arc::new(sns), config: Arc::new(store) };

    let found = watch.check().await.map_err(|e| e.chain())?;
    assert_eq!(found.missing, vec!["bo@example.com".to_owned()]);
    assert_eq!(found.unknown.len(), 1, "{found:?}");
    assert_eq!(found.unknown[0].protocol, "sqs");
    assert!(!found.is_clean());
    Ok(())
}
