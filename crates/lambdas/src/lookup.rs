//! The `lookup` function behind a Function URL with IAM auth: consumers see
//! their endpoints, DNS names and request status; operators see everything.
//!
//! | route                      | answer                                        |
//! |----------------------------|-----------------------------------------------|
//! | `GET /`                    | the page: your endpoints, requests, catalogue |
//! | `GET /endpoints/<vpce>`    | the page of one endpoint                      |
//! | `GET /api/endpoints`       | `?account=&service=&history=true&limit=&after=` |
//! | `GET /api/endpoints/<vpce>`| one endpoint, its request, its changes        |
//! | `GET /api/services`        | the catalogue, and what your account meets    |
//!
//! The caller's account is the one AWS verified the signature for
//! (`requestContext.authorizer.iam`), never a parameter. A browser comes in
//! with a link signed in its query string (`endpoint-gate open`); the page
//! holds everything on one page, since a link it carried would be unsigned
//! (the next page of a long list is the CLI's to sign).
//!
//! Lists come a page at a time: `/api/endpoints` answers at most `limit`
//! (1,000 by default and at most) and, when more may follow, a `Link`
//! header to the next page (`rel="next"`, RFC 8288), the body staying the
//! array it always was; the page `/` shows 100 and names the next one.
//! One invocation's reads and answer are thus bounded, whatever a service's
//! number of consumers (Lambda's response payload limit is 6 MB).

use std::time::SystemTime;

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use aws_lambda_events::http::HeaderValue;
use gate_app::PortError;
use gate_app::lookup::{Filter, Lookup, LookupError};
use gate_app::ports::PageAsk;
use gate_aws::wiring::Wiring;
use gate_core::caller::Caller;
use gate_core::{EndpointId, Timestamp, ViewPosition};
use gate_inputs::query::{Query, QueryError, parse_query};
use serde::Serialize;

use crate::config::LookupConfig;
use crate::lookup_page;
use crate::pages::{Page, html};

#[derive(Debug)]
pub struct LookupFn {
    pub lookup: Lookup,
    pub operators: Vec<String>,
}

impl LookupFn {
    pub async fn build(config: &LookupConfig, wiring: &Wiring) -> Self {
        let placements = match &config.organizations_role_arn {
            Some(arn) => Some(wiring.placements(arn).await),
            None => None,
        };
        Self {
            lookup: wiring.lookup(config.service_ids.clone(), placements),
            operators: config.operator_arns.clone(),
        }
    }

    pub async fn handle(&self, req: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
        self.handle_at(req, Timestamp::from(SystemTime::now())).await
    }

    pub async fn handle_at(
        &self,
        req: LambdaFunctionUrlRequest,
        now: Timestamp,
    ) -> LambdaFunctionUrlResponse {
        let method = req.request_context.http.method.as_deref().unwrap_or_default().to_ascii_uppercase();
        let path = req.raw_path.as_deref().unwrap_or("/").to_owned();
        let iam = req.request_context.authorizer.as_ref().and_then(|a| a.iam.as_ref());
        let caller = match iam {
            Some(iam) => Caller::from_signed(
                iam.account_id.as_deref().unwrap_or_default(),
                iam.user_arn.as_deref().unwrap_or_default(),
                &self.operators,
            ),
            None => Err("the request is not signed (the Function URL must use AWS_IAM auth)".to_owned()),
        };
        // The pages answer a browser in HTML, the API in JSON.
        let page = !path.starts_with("/api/");
        let refuse = |status: i64, error: String| {
            if page {
                html(status, Page::message("Endpoint Gate", &error))
            } else {
                json(status, &Problem { error })
            }
        };
        let caller = match caller {
            Ok(c) => c,
            Err(why) => return refuse(401, why),
        };
        if method != "GET" {
            return refuse(405, "lookup only answers GET".into());
        }
        let query = match parse_query(req.raw_query_string.as_deref().unwrap_or_default()) {
            Ok(q) => q,
            Err(why) => return refuse(400, why.to_string()),
        };
        tracing::info!(caller = caller.arn, account = %caller.account, operator = caller.operator, path, "lookup");
        match self.route(&caller, &path, &query, now).await {
            Ok(response) => response,
            Err(e) => {
                let status = match &e {
                    LookupError::BadRequest(_) => 400,
                    LookupError::Forbidden(_) => 403,
                    LookupError::NotFound(_) => 404,
                    LookupError::Port(p) => {
                        tracing::error!(error = %p.chain(), "lookup failed");
                        return refuse(503, "the registry could not be read; try again".into());
                    }
                };
                refuse(status, e.to_string())
            }
        }
    }

    async fn route(
        &self,
        caller: &Caller,
        path: &str,
        query: &Query,
        now: Timestamp,
    ) -> Result<LambdaFunctionUrlResponse, LookupError> {
        match path {
            "/" => {
                bad(query.only(&["account", "history", "after"]))?;
                let filter = Filter {
                    account: bad(query.account())?.or(Some(caller.account)),
                    service: None,
                    history: bad(query.history())?,
                    page: PageAsk { after: bad(query.after())?, limit: OVERVIEW_PAGE },
                };
                let listed = self.lookup.endpoints(caller, &filter).await?;
                let mut views = Vec::new();
                for e in listed.entries.iter().filter(|e| e.state != gate_core::ConnectionState::Available) {
                    views.push(self.lookup.endpoint(caller, &e.endpoint, now).await?);
                }
                let offers = self.lookup.services(caller, filter.account, now).await?;
                let link = bad(query.link_expires())?;
                let page = lookup_page::Overview {
                    account: filter.account,
                    endpoints: &listed.entries,
                    waiting: &views,
                    next: listed.next.as_ref(),
                };
                Ok(html(200, lookup_page::page(caller, &page, &offers, link)))
            }
            "/api/endpoints" => {
                bad(query.only(&["account", "service", "history", "limit", "after"]))?;
                let filter = Filter {
                    account: bad(query.account())?,
                    service: bad(query.service())?,
                    history: bad(query.history())?,
                    page: PageAsk {
                        after: bad(query.after())?,
                        limit: bad(query.limit(PageAsk::MAX))?.unwrap_or(PageAsk::MAX),
                    },
                };
                let listed = self.lookup.endpoints(caller, &filter).await?;
                let mut response = json(200, &listed.entries);
                if let Some(next) = &listed.next {
                    response.headers.insert("link", next_link(&filter, next)?);
                }
                Ok(response)
            }
            "/api/services" => {
                bad(query.only(&["account"]))?;
                Ok(json(200, &self.lookup.services(caller, bad(query.account())?, now).await?))
            }
            _ => {
                if let Some(id) = path.strip_prefix("/api/endpoints/") {
                    bad(query.only(&[]))?;
                    return Ok(json(200, &self.lookup.endpoint(caller, &endpoint_id(id)?, now).await?));
                }
                if let Some(id) = path.strip_prefix("/endpoints/") {
                    bad(query.only(&[]))?;
                    let view = self.lookup.endpoint(caller, &endpoint_id(id)?, now).await?;
                    let link = bad(query.link_expires())?;
                    return Ok(html(200, lookup_page::endpoint_page(caller, &view, link)));
                }
                Err(LookupError::NotFound(format!(
                    "no route {:?}",
                    path.chars().take(80).collect::<String>()
                )))
            }
        }
    }
}

/// How many endpoints the page `/` shows: each waiting one costs reads of
/// its request and its changes.
const OVERVIEW_PAGE: usize = 100;

/// The `Link` header to the page after `next`, with the filter's own
/// parameters. Every value is a parsed id, flag, number or position, which
/// need no escaping in a query string or a header; one that did would fail
/// the call rather than end the client's list early.
fn next_link(filter: &Filter, next: &ViewPosition) -> Result<HeaderValue, LookupError> {
    let mut params = Vec::new();
    if let Some(account) = filter.account {
        params.push(format!("account={account}"));
    }
    if let Some(service) = &filter.service {
        params.push(format!("service={service}"));
    }
    if filter.history {
        params.push("history=true".to_owned());
    }
    params.push(format!("limit={}", filter.page.limit));
    params.push(format!("after={next}"));
    let link = format!("</api/endpoints?{}>; rel=\"next\"", params.join("&"));
    HeaderValue::from_str(&link).map_err(|e| {
        LookupError::Port(PortError::permanent(
            format!("the link to the page after {next} is not a header"),
            e,
        ))
    })
}

fn endpoint_id(id: &str) -> Result<EndpointId, LookupError> {
    id.parse().map_err(|e: gate_core::IdError| LookupError::BadRequest(e.to_string()))
}

#[derive(Serialize)]
struct Problem {
    error: String,
}

fn json<T: Serialize>(status: i64, body: &T) -> LambdaFunctionUrlResponse {
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = status;
    response.headers.insert("content-type", HeaderValue::from_static("application/json"));
    response.headers.insert("cache-control", HeaderValue::from_static("no-store"));
    response.headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response.body =
        Some(serde_json::to_string(body).unwrap_or_else(|_| "{\"error\":\"encoding failed\"}".into()));
    response
}

/// A query the route cannot take.
fn bad<T>(r: Result<T, QueryError>) -> Result<T, LookupError> {
    r.map_err(|e| LookupError::BadRequest(e.to_string()))
}
