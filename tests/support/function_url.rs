//! A Lambda Function URL on loopback: real HTTP in, the function's
//! `LambdaFunctionUrlRequest` out, as AWS builds it (raw path and query,
//! lower-case headers, bodies that are not text base64-encoded), and the
//! function's response back as HTTP. Browsers and HTTP clients in the tests
//! talk to this, so the handlers are exercised over the wire. An `AWS_IAM`
//! URL either trusts a given caller or checks SigV4 signatures as AWS does.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlRequestContextAuthorizerDescription,
    LambdaFunctionUrlRequestContextAuthorizerIamDescription, LambdaFunctionUrlResponse,
};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Function URLs refuse payloads over 6 MB; so does this.
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// A function behind the URL: takes the event, returns the response.
pub type Handler = Arc<
    dyn Fn(LambdaFunctionUrlRequest) -> Pin<Box<dyn Future<Output = LambdaFunctionUrlResponse> + Send>>
        + Send
        + Sync,
>;

/// The identity AWS would have verified for an `AWS_IAM` Function URL:
/// (account id, caller ARN). AWS checks the SigV4 signature before the
/// function runs; this stands in for that check and nothing else.
pub type Signer = Option<(String, String)>;

/// Callers an `AWS_IAM` URL knows, by access key id: (secret key, account, ARN).
pub type AccessKeys = HashMap<String, (String, String, String)>;

/// How the URL authenticates its callers.
#[derive(Clone)]
enum Auth {
    /// `AuthType: NONE`, or `AWS_IAM` with every caller this identity.
    Given(Signer),
    /// `AWS_IAM` as AWS checks it: a SigV4 signature for `lambda` in this
    /// region by a known access key, within 5 minutes; else 403 Forbidden.
    SigV4 { region: String, keys: Arc<AccessKeys> },
}

/// A running Function URL; stops when dropped.
#[derive(Debug)]
pub struct FunctionUrl {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FunctionUrl {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FunctionUrl {
    /// Serves `handler` on a free 127.0.0.1 port (an `AuthType: NONE` URL).
    pub async fn serve(handler: Handler) -> std::io::Result<Self> {
        Self::serve_signed(handler, None).await
    }

    /// Serves `handler` as an `AWS_IAM` URL whose every caller is `signer`.
    pub async fn serve_signed(handler: Handler, signer: Signer) -> std::io::Result<Self> {
        Self::serve_with(handler, Auth::Given(signer)).await
    }

    /// Serves `handler` as an `AWS_IAM` URL that checks SigV4 signatures the
    /// way AWS does, for callers with these access keys.
    pub async fn serve_iam(handler: Handler, region: &str, keys: AccessKeys) -> std::io::Result<Self> {
        Self::serve_with(handler, Auth::SigV4 { region: region.to_owned(), keys: Arc::new(keys) }).await
    }

    async fn serve_with(handler: Handler, auth: Auth) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let handler = handler.clone();
                let auth = auth.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let handler = handler.clone();
                        let auth = auth.clone();
                        async move { Ok::<_, std::convert::Infallible>(invoke(&handler, req, peer, &auth).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { url: format!("http://{addr}"), task })
    }
}

/// Content types a Function URL passes as text; everything else arrives base64.
fn is_text(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.is_empty()
        || ct.starts_with("text/")
        || ct.starts_with("application/json")
        || ct.starts_with("application/xml")
        || ct.starts_with("application/javascript")
}

async fn invoke(
    handler: &Handler,
    req: Request<Incoming>,
    peer: SocketAddr,
    auth: &Auth,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let signer = match auth {
        Auth::Given(signer) => signer.clone(),
        Auth::SigV4 { region, keys } => match verify_sigv4(&parts, region, keys) {
            Some(identity) => Some(identity),
            None => return forbidden(),
        },
    };
    let Ok(collected) = Limited::new(body, MAX_PAYLOAD).collect().await else {
        return plain(413, "Request Entity Too Large");
    };
    let bytes = collected.to_bytes();
    let mut event = LambdaFunctionUrlRequest::default();
    event.raw_path = Some(parts.uri.path().to_owned());
    event.raw_query_string = Some(parts.uri.query().unwrap_or_default().to_owned());
    event.headers = parts.headers.clone();
    event.request_context.http.method = Some(parts.method.as_str().to_owned());
    event.request_context.http.path = Some(parts.uri.path().to_owned());
    event.request_context.http.source_ip = Some(peer.ip().to_string());
    if let Some((account, arn)) = signer {
        let mut iam = LambdaFunctionUrlRequestContextAuthorizerIamDescription::default();
        iam.account_id = Some(account.clone());
        iam.user_arn = Some(arn.clone());
        let mut authorizer = LambdaFunctionUrlRequestContextAuthorizerDescription::default();
        authorizer.iam = Some(iam);
        event.request_context.authorizer = Some(authorizer);
    }
    let content_type = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !bytes.is_empty() {
        if is_text(content_type) {
            event.body = Some(String::from_utf8_lossy(&bytes).into_owned());
        } else {
            event.body = Some(base64(&bytes));
            event.is_base64_encoded = true;
        }
    }
    let out = handler(event).await;
    let mut response = Response::builder().status(u16::try_from(out.status_code).unwrap_or(502));
    for (name, value) in &out.headers {
        response = response.header(name, value);
    }
    let body = out.body.unwrap_or_default();
    let body = if out.is_base64_encoded { unbase64(&body) } else { body.into_bytes() };
    response.body(Full::new(Bytes::from(body))).unwrap_or_else(|_| plain(502, "Bad Gateway"))
}

/// What AWS answers for a missing or wrong signature, before the function runs.
fn forbidden() -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(br#"{"Message":"Forbidden"}"#)));
    *r.status_mut() = hyper::StatusCode::FORBIDDEN;
    r
}

/// The caller, if the request carries a valid SigV4 signature for `lambda`
/// in `region` by a known key: in its headers, made within 5 minutes of
/// now, or in its query string (a presigned link), used within its
/// `X-Amz-Expires`.
fn verify_sigv4(
    parts: &hyper::http::request::Parts,
    region: &str,
    keys: &AccessKeys,
) -> Option<(String, String)> {
    let query = parts.uri.query().unwrap_or_default();
    if query.split('&').any(|p| p.starts_with("X-Amz-Signature=")) {
        return verify_presigned(parts, query, region, keys);
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let fields = header("authorization")?.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let field = |name: &str| {
        fields.split(',').find_map(|f| f.trim().strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    };
    let (credential, signed, given) = (field("Credential")?, field("SignedHeaders")?, field("Signature")?);
    let signer = KnownKey::known(credential, region, keys)?;
    let signed_at = sigv4_time(header("x-amz-date")?)?;
    if (crate::now().unix() - signed_at.unix()).abs() > 300 {
        return None;
    }
    // The signer adds host, x-amz-date and the token itself; the rest must match as sent.
    let own = ["host", "x-amz-date", "x-amz-security-token"];
    let mut others = Vec::new();
    for name in signed.split(';').filter(|n| !own.contains(n)) {
        others.push((name, header(name)?));
    }
    let url = format!("http://{}{}", header("host")?, parts.uri.path_and_query()?.as_str());
    let token = header("x-amz-security-token").map(str::to_owned);
    let settings = aws_sigv4::http_request::SigningSettings::default();
    let expected = signer.sign(parts.method.as_str(), &url, others, token, signed_at, settings)?;
    (expected == given).then(|| signer.identity())
}

/// A link signed in its query string, as `endpoint-gate open` mints it: the
/// signature covers the host and every other parameter; it works from its
/// `X-Amz-Date` for `X-Amz-Expires` seconds (at most seven days).
fn verify_presigned(
    parts: &hyper::http::request::Parts,
    query: &str,
    region: &str,
    keys: &AccessKeys,
) -> Option<(String, String)> {
    let mut auth = HashMap::new();
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k.starts_with("X-Amz-") {
            if auth.insert(k, gate_inputs::form::percent_decode(v)?).is_some() {
                return None;
            }
        } else {
            rest.push(pair);
        }
    }
    let param = |name: &str| auth.get(name).map(String::as_str);
    if param("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" || param("X-Amz-SignedHeaders")? != "host" {
        return None;
    }
    let signer = KnownKey::known(param("X-Amz-Credential")?, region, keys)?;
    let signed_at = sigv4_time(param("X-Amz-Date")?)?;
    let expires: i64 = param("X-Amz-Expires")?.parse().ok().filter(|s| (1..=604_800).contains(s))?;
    let age = crate::now().unix() - signed_at.unix();
    if age < -300 || age > expires {
        return None;
    }
    let host = parts.headers.get("host").and_then(|v| v.to_str().ok())?;
    let mut url = format!("http://{host}{}", parts.uri.path());
    if !rest.is_empty() {
        url = format!("{url}?{}", rest.join("&"));
    }
    let mut settings = aws_sigv4::http_request::SigningSettings::default();
    settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
    settings.expires_in = Some(std::time::Duration::from_secs(u64::try_from(expires).ok()?));
    let token = param("X-Amz-Security-Token").map(str::to_owned);
    let expected = signer.sign(parts.method.as_str(), &url, Vec::new(), token, signed_at, settings)?;
    (expected == param("X-Amz-Signature")?).then(|| signer.identity())
}

/// A known access key, found from a credential scope
/// `<key id>/<date>/<region>/lambda/aws4_request` for this URL's region.
struct KnownKey<'k> {
    key_id: &'k str,
    secret: &'k str,
    account: &'k str,
    arn: &'k str,
    region: &'k str,
}

impl<'k> KnownKey<'k> {
    fn known(credential: &str, region: &'k str, keys: &'k AccessKeys) -> Option<Self> {
        let scope: Vec<&str> = credential.split('/').collect();
        let [key_id, _, key_region, "lambda", "aws4_request"] = scope[..] else { return None };
        let (key_id, (secret, account, arn)) = keys.get_key_value(key_id)?;
        (key_region == region).then_some(Self { key_id, secret, account, arn, region })
    }

    fn identity(&self) -> (String, String) {
        (self.account.to_owned(), self.arn.to_owned())
    }

    /// This key's signature of the request, made at `at`.
    fn sign(
        &self,
        method: &str,
        url: &str,
        headers: Vec<(&str, &str)>,
        token: Option<String>,
        at: gate_core::Timestamp,
        settings: aws_sigv4::http_request::SigningSettings,
    ) -> Option<String> {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(at.unix()).ok()?);
        let identity =
            aws_credential_types::Credentials::new(self.key_id, self.secret, token, None, "function-url")
                .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name("lambda")
            .time(at)
            .settings(settings)
            .build()
            .ok()?
            .into();
        let body = aws_sigv4::http_request::SignableBody::Bytes(&[]);
        let request =
            aws_sigv4::http_request::SignableRequest::new(method, url, headers.into_iter(), body).ok()?;
        Some(aws_sigv4::http_request::sign(request, &params).ok()?.into_parts().1)
    }
}

/// SigV4's time, `20261122T120000Z`.
fn sigv4_time(stamp: &str) -> Option<gate_core::Timestamp> {
    let (d, t) = stamp.split_once('T')?;
    let (d, t) = (d.get(..8)?, t.get(..6)?);
    let rfc3339 = format!("{}-{}-{}T{}:{}:{}Z", &d[..4], &d[4..6], &d[6..], &t[..2], &t[2..4], &t[4..]);
    rfc3339.parse().ok()
}

fn plain(status: u16, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    r
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding, as Lambda encodes bodies.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        out.push_str(&"=".repeat(3 - chunk.len()));
    }
    out
}

fn unbase64(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else { continue };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
