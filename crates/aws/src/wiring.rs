//! Deciders assembled from the AWS adapters, for the callers that share a
//! shape.

use std::sync::Arc;

use aws_config::SdkConfig;
use gate_app::{Decider, Settings};

use crate::{AssumeRoleNetworks, DynamoStore, Ec2Connections, SnsNotifier};

/// A decider that only answers reviews (respond, the CLI): answers read
/// and write the table and call EC2, but never read consumer networks nor
/// notify, so those ports are inert.
pub fn answerer(sdk: &SdkConfig, table: &str) -> Decider {
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table.to_owned()));
    Decider {
        connections: Arc::new(Ec2Connections::new(aws_sdk_ec2::Client::new(sdk))),
        networks: Arc::new(AssumeRoleNetworks::new(sdk.clone(), String::new(), None)),
        policies: store.clone(),
        requests: store.clone(),
        audit: store,
        notifier: Arc::new(SnsNotifier::new(aws_sdk_sns::Client::new(sdk), String::new())),
        settings: Settings::default(),
    }
}
