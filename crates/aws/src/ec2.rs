//! The provider's endpoint connections through EC2.

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, VpcEndpointConnection};
use gate_app::PortError;
use gate_app::ports::{Connections, Page, Refused};
use gate_core::{Action, Connection, ConnectionState, DnsEntry, EndpointId, Region, ServiceId, Timestamp};

use crate::error::{code, port_error};

/// Largest page DescribeVpcEndpointConnections allows.
const PAGE: i32 = 1000;
/// Values one filter may carry.
const FILTER_VALUES: usize = 200;

#[derive(Debug, Clone)]
pub struct Ec2Connections {
    client: Client,
    /// The provider's own region: where a connection is when EC2 names none.
    home: Option<Region>,
}

impl Ec2Connections {
    pub fn new(client: Client) -> Self {
        let home = client.config().region().and_then(|r| r.as_ref().parse().ok());
        Self { client, home }
    }

    async fn describe(&self, filters: Vec<Filter>) -> Result<Vec<Connection>, PortError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .describe_vpc_endpoint_connections()
            .set_filters(Some(filters))
            .max_results(PAGE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("DescribeVpcEndpointConnections failed", e))?;
            out.extend(
                page.vpc_endpoint_connections().iter().filter_map(|c| to_connection(c, self.home.as_ref())),
            );
        }
        Ok(out)
    }
}

/// Where a saved sweep cursor (`<chunk>:<EC2's NextToken>`) says to go on.
/// One this build cannot read (a hand edit, an older format) starts the
/// pass again: redoing pages costs reads and finds every connection
/// already claimed, while refusing it would stop every sweep for good.
fn resume_at(cursor: Option<&str>) -> (usize, Option<String>) {
    let Some(cursor) = cursor else { return (0, None) };
    match cursor.split_once(':').map(|(i, t)| (i.parse::<usize>(), t)) {
        Some((Ok(index), token)) => (index, Some(token).filter(|t| !t.is_empty()).map(str::to_owned)),
        _ => {
            let shown: String = cursor.chars().take(80).collect();
            tracing::warn!(cursor = shown, "a saved sweep cursor is not one of ours; the pass starts again");
            (0, None)
        }
    }
}

impl Ec2Connections {
    /// One DescribeVpcEndpointConnections page of these services (all when
    /// empty), in one state or any. The cursor is
    /// `<chunk of 200 services>:<EC2's NextToken>`.
    async fn page(
        &self,
        services: &[ServiceId],
        state: Option<&str>,
        cursor: Option<String>,
    ) -> Result<Page, PortError> {
        let chunks: Vec<&[ServiceId]> =
            if services.is_empty() { vec![&[]] } else { services.chunks(FILTER_VALUES).collect() };
        let (index, token) = resume_at(cursor.as_deref());
        let Some(chunk) = chunks.get(index) else { return Ok(Page::default()) };
        let mut filters: Vec<Filter> =
            state.map(|s| filter("vpc-endpoint-state", [s.to_owned()])).into_iter().collect();
        if !chunk.is_empty() {
            filters.push(filter("service-id", chunk.iter().map(ToString::to_string)));
        }
        let describe = |token: Option<String>| {
            self.client
                .describe_vpc_endpoint_connections()
                .set_filters(Some(filters.clone()))
                .max_results(PAGE)
                .set_next_token(token)
                .send()
        };
        let out = match describe(token.clone()).await {
            // A sweep resumed from a token EC2 no longer honours ("not valid
            // or is expired", EC2 API Reference, Error codes): this part of
            // the listing starts again. Decisions are claimed, so going over
            // connections again repeats reads, never actions.
            Err(e) if token.is_some() && code(&e) == Some("InvalidPaginationToken") => {
                tracing::warn!(chunk = index, "sweep cursor expired; listing this part again from its start");
                describe(None).await
            }
            other => other,
        }
        .map_err(|e| port_error("DescribeVpcEndpointConnections failed", e))?;
        let connections = out
            .vpc_endpoint_connections()
            .iter()
            .filter_map(|c| to_connection(c, self.home.as_ref()))
            .collect();
        let next = match out.next_token().filter(|t| !t.is_empty()) {
            Some(t) => Some(format!("{index}:{t}")),
            None if index + 1 < chunks.len() => Some(format!("{}:", index + 1)),
            None => None,
        };
        Ok(Page { connections, next })
    }

    /// Connections of these services (all when empty), in one state or any.
    async fn of_services(
        &self,
        services: &[ServiceId],
        state: Option<&str>,
    ) -> Result<Vec<Connection>, PortError> {
        let state = || state.map(|s| filter("vpc-endpoint-state", [s.to_owned()]));
        if services.is_empty() {
            return self.describe(state().into_iter().collect()).await;
        }
        let mut out = Vec::new();
        for chunk in services.chunks(FILTER_VALUES) {
            let ids = chunk.iter().map(ToString::to_string);
            out.extend(
                self.describe(state().into_iter().chain([filter("service-id", ids)]).collect()).await?,
            );
        }
        Ok(out)
    }
}

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder().name(name).set_values(Some(values.into_iter().collect())).build()
}

/// The domain view of a connection. One whose ids do not parse cannot be
/// acted on safely, so it is logged and left out.
///
/// `VpcEndpointRegion` is where the consumer's endpoint and VPC live when
/// the service supports cross-region access
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcEndpointConnection.html>,
/// <https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-share-your-services.html#endpoint-service-cross-region>);
/// absent, the endpoint is in the provider's region (`home`). A value that
/// is not a region name becomes `None`: no CIDR read, and no listed region.
fn to_connection(c: &VpcEndpointConnection, home: Option<&Region>) -> Option<Connection> {
    let region = match c.vpc_endpoint_region() {
        None => home.cloned(),
        Some(text) => text
            .parse::<Region>()
            .inspect_err(|e| tracing::error!(error = %e, "EC2 reported an unusable endpoint region"))
            .ok(),
    };
    let parsed = (|| {
        Ok::<_, gate_core::IdError>(Connection {
            service: c.service_id().unwrap_or_default().parse()?,
            endpoint: c.vpc_endpoint_id().unwrap_or_default().parse()?,
            owner: c.vpc_endpoint_owner().unwrap_or_default().parse()?,
            // EC2 sends camelCase states the SDK enum does not know.
            state: ConnectionState::parse(c.vpc_endpoint_state().map(|s| s.as_str()).unwrap_or_default()),
            dns_entries: c
                .dns_entries()
                .iter()
                .map(|d| DnsEntry {
                    dns_name: d.dns_name().unwrap_or_default().to_owned(),
                    hosted_zone_id: d.hosted_zone_id().unwrap_or_default().to_owned(),
                })
                .collect(),
            created_at: c.creation_timestamp().map(|t| Timestamp::from_unix(t.secs())),
            region,
        })
    })();
    match parsed {
        Ok(conn) => Some(conn),
        Err(e) => {
            tracing::error!(error = %e, "EC2 returned a connection with an unusable id; skipped");
            None
        }
    }
}

#[async_trait]
impl Connections for Ec2Connections {
    async fn get(&self, endpoint: &EndpointId) -> Result<Option<Connection>, PortError> {
        let found = self.describe(vec![filter("vpc-endpoint-id", [endpoint.to_string()])]).await?;
        Ok(found.into_iter().find(|c| &c.endpoint == endpoint))
    }

    async fn pending(&self, services: &[ServiceId]) -> Result<Vec<Connection>, PortError> {
        self.of_services(services, Some("pendingAcceptance")).await
    }

    async fn pending_page(&self, services: &[ServiceId], cursor: Option<String>) -> Result<Page, PortError> {
        self.page(services, Some("pendingAcceptance"), cursor).await
    }

    async fn all_page(&self, services: &[ServiceId], cursor: Option<String>) -> Result<Page, PortError> {
        self.page(services, None, cursor).await
    }

    async fn available_page(
        &self,
        services: &[ServiceId],
        cursor: Option<String>,
    ) -> Result<Page, PortError> {
        self.page(services, Some("available"), cursor).await
    }

    async fn all(&self, services: &[ServiceId]) -> Result<Vec<Connection>, PortError> {
        self.of_services(services, None).await
    }

    /// 200 ids per call, in any state: DescribeVpcEndpointConnections
    /// filters on `vpc-endpoint-id`, values ORed.
    async fn find(&self, endpoints: &[EndpointId]) -> Result<Vec<Connection>, PortError> {
        let mut found = Vec::new();
        for chunk in endpoints.chunks(FILTER_VALUES) {
            let ids = chunk.iter().map(ToString::to_string);
            found.extend(self.describe(vec![filter("vpc-endpoint-id", ids)]).await?);
        }
        Ok(found)
    }

    async fn act(
        &self,
        action: Action,
        service: &ServiceId,
        endpoints: &[EndpointId],
    ) -> Result<Vec<Refused>, PortError> {
        let ids: Vec<String> = endpoints.iter().map(ToString::to_string).collect();
        let unsuccessful = match action {
            Action::Accept => {
                self.client
                    .accept_vpc_endpoint_connections()
                    .service_id(service.as_str())
                    .set_vpc_endpoint_ids(Some(ids))
                    .send()
                    .await
                    .map_err(|e| port_error(format!("AcceptVpcEndpointConnections on {service} failed"), e))?
                    .unsuccessful
            }
            Action::Reject => {
                self.client
                    .reject_vpc_endpoint_connections()
                    .service_id(service.as_str())
                    .set_vpc_endpoint_ids(Some(ids))
                    .send()
                    .await
                    .map_err(|e| port_error(format!("RejectVpcEndpointConnections on {service} failed"), e))?
                    .unsuccessful
            }
        };
        Ok(unsuccessful
            .unwrap_or_default()
            .into_iter()
            .filter_map(|u| {
                let (code, message) = u
                    .error()
                    .map(|e| {
                        (e.code().unwrap_or_default().to_owned(), e.message().unwrap_or_default().to_owned())
                    })
                    .unwrap_or_default();
                match u.resource_id().unwrap_or_default().parse() {
                    Ok(endpoint) => Some(Refused { endpoint, code, message }),
                    // Not an id of ours: there is no request to book as refused.
                    Err(e) => {
                        tracing::error!(error = %e, code, "EC2 refused an action for an unusable endpoint id");
                        None
                    }
                }
            })
            .collect())
    }
}
