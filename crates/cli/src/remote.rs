//! The lookup function's URL, as a consumer reaches it: GET requests signed
//! with SigV4 for the `lambda` service using the caller's own AWS
//! credentials, as a Function URL with `AWS_IAM` auth requires. The function
//! decides what the caller may see; the CLI only shows it.
//!
//! A browser cannot sign, so `open` hands it a link signed in its query
//! string (SigV4's other authentication method, IAM User Guide:
//! "Authentication methods"), valid for minutes.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use gate_app::PortError;
use gate_core::ViewPosition;
use serde::de::DeserializeOwned;

/// Why a call to the lookup URL gave no answer to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status the function answered, if it answered.
    pub status: Option<u16>,
    pub message: String,
}

impl ApiError {
    fn local(message: impl Into<String>) -> Self {
        Self { status: None, message: message.into() }
    }
}

/// A client of one lookup URL, signing as whoever the AWS configuration says.
pub struct LookupApi {
    http: reqwest::Client,
    base: String,
    region: String,
    credentials: SharedCredentialsProvider,
}

impl std::fmt::Debug for LookupApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LookupApi({}, {})", self.base, self.region)
    }
}

impl LookupApi {
    /// `url` is the stack's `LookupUrl`: https, or http on loopback for local runs.
    pub fn new(sdk: &aws_config::SdkConfig, url: &str) -> Result<Self, ApiError> {
        if !gate_aws::is_https_or_loopback(url) {
            return Err(ApiError::local(format!("--lookup-url {url:?} must be an https URL")));
        }
        let region = sdk.region().ok_or_else(|| {
            ApiError::local("no AWS region: the lookup URL's region must be set (--region or AWS_REGION)")
        })?;
        let credentials = sdk.credentials_provider().ok_or_else(|| {
            ApiError::local("no AWS credentials to sign the request with (AWS_PROFILE, --profile, …)")
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ApiError::local(format!("building the HTTP client failed: {e}")))?;
        Ok(Self { http, base: url.trim_end_matches('/').to_owned(), region: region.to_string(), credentials })
    }

    /// `path?query` under the lookup URL.
    fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        let url = format!("{}{path}", self.base);
        if query.is_empty() {
            return url;
        }
        format!("{url}?{}", encode_pairs(query.iter().map(|(k, v)| (*k, v.as_str()))))
    }

    async fn credentials(&self) -> Result<aws_credential_types::Credentials, ApiError> {
        self.credentials
            .provide_credentials()
            .await
            .map_err(|e| ApiError::local(format!("no AWS credentials to sign the request with: {e}")))
    }

    /// A link to `path?query` that a browser can open for `lifetime`, signed
    /// in its query string with the caller's credentials; it stops working
    /// sooner if they expire sooner.
    pub async fn presign(
        &self,
        path: &str,
        query: &[(&str, String)],
        lifetime: Duration,
    ) -> Result<Presigned, ApiError> {
        self.presign_at(path, query, lifetime, SystemTime::now()).await
    }

    /// As [`Self::presign`], signed at `now`.
    pub async fn presign_at(
        &self,
        path: &str,
        query: &[(&str, String)],
        lifetime: Duration,
        now: SystemTime,
    ) -> Result<Presigned, ApiError> {
        let url = self.url(path, query);
        let credentials = self.credentials().await?;
        let until = match credentials.expiry() {
            Some(expiry) if expiry < now + lifetime => expiry,
            _ => now + lifetime,
        };
        let identity: Identity = credentials.into();
        let (_, params) = signature(&url, &identity, &self.region, now, Some(lifetime))?;
        let sep = if url.contains('?') { '&' } else { '?' };
        let signed = encode_pairs(params.iter().map(|(k, v)| (*k, v.as_ref())));
        Ok(Presigned { url: format!("{url}{sep}{signed}"), until })
    }

    /// GETs `path?query` and reads the JSON answer as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        Ok(self.get_page(path, query).await?.0)
    }

    /// GETs `path?query`: the JSON answer as `T`, and where the next page
    /// starts when the answer's `Link` header names one.
    pub async fn get_page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(T, Option<ViewPosition>), ApiError> {
        let url = self.url(path, query);
        let identity: Identity = self.credentials().await?.into();
        let mut request = self.http.get(&url);
        let (headers, _) = signature(&url, &identity, &self.region, SystemTime::now(), None)?;
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| {
            // reqwest's own message names only the URL; the causes say why.
            ApiError::local(PortError::transient(format!("{}: could not be reached", self.base), e).chain())
        })?;
        let status = response.status().as_u16();
        let link = response.headers().get("link").map(|v| v.to_str().map(str::to_owned));
        let text = response.text().await.map_err(|e| ApiError {
            status: Some(status),
            message: format!("{}: no answer: {e}", self.base),
        })?;
        if status != 200 {
            return Err(ApiError { status: Some(status), message: refusal(status, &text) });
        }
        let unexpected = |what: String| ApiError {
            status: Some(status),
            message: format!("{}: the answer is not what lookup sends: {what}", self.base),
        };
        let next = match link {
            None => None,
            Some(Ok(link)) => next_position(&link).map_err(unexpected)?,
            Some(Err(_)) => return Err(unexpected("its Link header is not text".into())),
        };
        let answer = serde_json::from_str(&text).map_err(|e| unexpected(e.to_string()))?;
        Ok((answer, next))
    }
}

/// The position a `Link` header's `rel="next"` link starts after (its
/// `after` parameter); `None` when it has no next link.
fn next_position(link: &str) -> Result<Option<ViewPosition>, String> {
    let shown: String = link.chars().take(120).collect();
    for part in link.split(',') {
        let mut fields = part.split(';').map(str::trim);
        let target = fields.next().unwrap_or_default();
        if !fields.any(|f| f == "rel=\"next\"" || f == "rel=next") {
            continue;
        }
        let url = target
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .ok_or_else(|| format!("the Link header {shown:?} does not hold a <URL>"))?;
        let after = url
            .split_once('?')
            .and_then(|(_, query)| query.split('&').find_map(|pair| pair.strip_prefix("after=")))
            .ok_or_else(|| format!("the Link header {shown:?} names no position to go on from"))?;
        return after.parse().map(Some).map_err(|e| format!("the Link header's {e}"));
    }
    Ok(None)
}

/// A link a browser opens, and when it stops working.
#[derive(Debug, Clone)]
pub struct Presigned {
    /// Carries a signature and a session token: shown to its owner, never logged.
    pub url: String,
    pub until: SystemTime,
}

fn encode_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let pairs: Vec<String> =
        pairs.map(|(k, v)| format!("{k}={}", gate_core::link::percent_encode(v))).collect();
    pairs.join("&")
}

type Headers = Vec<(String, String)>;
type QueryParams = Vec<(&'static str, std::borrow::Cow<'static, str>)>;

/// The signature of a GET of `url` (no body) for the `lambda` service: in
/// headers, or with `expires_in` in query parameters to add to the URL.
fn signature(
    url: &str,
    identity: &Identity,
    region: &str,
    at: SystemTime,
    expires_in: Option<Duration>,
) -> Result<(Headers, QueryParams), ApiError> {
    let mut settings = SigningSettings::default();
    if expires_in.is_some() {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = expires_in;
    }
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("lambda")
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| ApiError::local(format!("signing the request failed: {e}")))?
        .into();
    let request = SignableRequest::new("GET", url, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| ApiError::local(format!("the lookup URL cannot be signed: {e}")))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| ApiError::local(format!("signing the request failed: {e}")))?
        .into_parts();
    let headers = instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let (_, query) = instructions.into_parts();
    Ok((headers, query))
}

/// What the function said, in words: its `{"error": …}`. A refusal by the
/// Function URL in front of it (`{"Message": "Forbidden"}`) means the
/// signature was not accepted, which is what the user needs to hear.
fn refusal(status: u16, body: &str) -> String {
    let answer = serde_json::from_str::<serde_json::Value>(body).unwrap_or_default();
    let field = |k: &str| answer.get(k).and_then(|m| m.as_str()).map(str::to_owned);
    match (status, field("error"), field("Message")) {
        (_, Some(said), _) => format!("{status}: {said}"),
        (403, None, _) => "403: the lookup URL refused the signature \
                           (are these the AWS credentials and region of an allowed account?)"
            .to_owned(),
        (_, None, Some(said)) => format!("{status}: {said}"),
        (_, None, None) => {
            format!("{status}: the lookup URL answered {:?}", body.chars().take(200).collect::<String>())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_the_link_header_and_a_hostile_one_is_refused() {
        let next = |link: &str| next_position(link).map(|p| p.map(|p| p.to_string()));
        assert_eq!(
            next(
                r#"</api/endpoints?account=222233334444&limit=2&after=active:vpce-0123456789abcdef0>; rel="next""#
            ),
            Ok(Some("active:vpce-0123456789abcdef0".to_owned()))
        );
        assert_eq!(
            next(
                r#"</api/endpoints?after=history:vpce-0abc1234>; rel="prev", </x?after=active:vpce-0abc1234>; rel=next"#
            ),
            Ok(Some("active:vpce-0abc1234".to_owned())),
            "only the next link counts"
        );
        assert_eq!(next(r#"</api/endpoints>; rel="first""#), Ok(None));
        assert_eq!(next(""), Ok(None));
        for hostile in [
            r#"/api/endpoints?after=active:vpce-0abc1234; rel="next""#,
            r#"</api/endpoints>; rel="next""#,
            r#"</api/endpoints?after=vpce-0abc1234>; rel="next""#,
            r#"</api/endpoints?after=active:vpce-0abc1234%00>; rel="next""#,
            &format!(r#"<{}>; rel="next""#, "a".repeat(100_000)),
        ] {
            let err = next(hostile).expect_err(hostile);
            assert!(err.len() < 400, "the message is bounded: {} chars", err.len());
            assert!(err.contains("Link header"), "{err}");
        }
    }

    #[test]
    fn the_function_s_error_is_what_the_user_reads() {
        assert_eq!(
            refusal(404, r#"{"error":"no endpoint vpce-1 in your account"}"#),
            "404: no endpoint vpce-1 in your account"
        );
        assert_eq!(
            refusal(403, r#"{"error":"you can only see account 2"}"#),
            "403: you can only see account 2"
        );
        assert!(refusal(403, r#"{"Message":"Forbidden"}"#).contains("refused the signature"));
        assert!(refusal(403, "").contains("refused the signature"));
        assert_eq!(refusal(502, r#"{"Message":"Internal Server Error"}"#), "502: Internal Server Error");
        // A hostile or broken answer is cut short and quoted, never echoed whole.
        assert!(refusal(502, &"x\n".repeat(1000)).len() < 500);
    }
}
