//! Envoy external authorization (`envoy.service.auth.v3.Authorization/Check`)
//! over gRPC, for Envoy's `ext_authz` filter and Istio's `CUSTOM` action.
//!
//! The decision is `AuthService::authorize_forwarded`, the same as
//! `/v1/verify`: the token from the `authorization` header (or the access
//! cookie), the `[[verify.rule]]` for `attributes.request.http.path`, and
//! the answer as Envoy applies it. Every failure, including a request
//! without HTTP attributes, is a denial carried in the `CheckResponse`;
//! the RPC itself fails only on transport problems, which Envoy also treats
//! as a denial unless `failure_mode_allow` is set (never set it).

use std::collections::HashMap;
use std::sync::Arc;

use tonic::{Code, Request, Response, Status};
use warden_core::access::OriginalRequest;
use warden_core::service::Caller;
use warden_core::{AuthService, CoreError, ErrorKind};
use warden_edge::sign_in::{Attempt, SignInRedirect, accepts_html};

use warden_edge::credentials::{self, ACCESS_COOKIE};

use crate::error::GrpcError;
use crate::pb_envoy::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use crate::pb_envoy::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use crate::pb_envoy::envoy::service::auth::v3::attribute_context::HttpRequest;
use crate::pb_envoy::envoy::service::auth::v3::authorization_server::Authorization;
use crate::pb_envoy::envoy::service::auth::v3::check_response::HttpResponse;
use crate::pb_envoy::envoy::service::auth::v3::{
    CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use crate::pb_envoy::envoy::r#type::v3::{HttpStatus, StatusCode};
use crate::pb_envoy::google::rpc;

/// The `Authorization` service.
#[derive(Clone)]
pub struct ExtAuthzApi {
    auth: Arc<AuthService>,
    sign_in: Option<Arc<SignIn>>,
}

/// `[verify] sign_in_url` and where it may send browsers back to.
struct SignIn {
    page: SignInRedirect,
    allowed_origins: Vec<String>,
}

impl ExtAuthzApi {
    /// Serves `auth`; with `sign_in`, a browser's page load without a valid
    /// token is answered with a 302 there instead of a 401.
    pub fn new(
        auth: Arc<AuthService>,
        sign_in: Option<SignInRedirect>,
        allowed_origins: Vec<String>,
    ) -> Self {
        Self {
            auth,
            sign_in: sign_in.map(|page| {
                Arc::new(SignIn {
                    page,
                    allowed_origins,
                })
            }),
        }
    }
}

#[tonic::async_trait]
impl Authorization for ExtAuthzApi {
    async fn check(
        &self,
        request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        Ok(Response::new(
            decide(&self.auth, self.sign_in.as_deref(), request.into_inner()).await,
        ))
    }
}

async fn decide(
    auth: &AuthService,
    sign_in: Option<&SignIn>,
    request: CheckRequest,
) -> CheckResponse {
    let Some(mut http) = request
        .attributes
        .and_then(|a| a.request)
        .and_then(|r| r.http)
    else {
        return denied(GrpcError::invalid_request(
            "the CheckRequest has no HTTP attributes",
        ));
    };
    let headers = match Headers::of(
        std::mem::take(&mut http.headers),
        http.header_map.take().map(|m| m.headers),
    ) {
        Ok(headers) => headers,
        Err(err) => return denied(err),
    };
    let token = match headers.token() {
        Ok(token) => token,
        Err(err) => return denied(err),
    };
    let original = OriginalRequest {
        method: Some(http.method.as_str()).filter(|m| !m.is_empty()),
        uri: Some(http.path.as_str()).filter(|p| !p.is_empty()),
    };
    let err = match auth
        .authorize_forwarded(token.as_deref(), &original, None)
        .await
    {
        Ok(principal) => return allowed(principal.as_ref(), &headers),
        Err(err) => err,
    };
    // The domain error decides: any failure to authenticate sends a
    // browser's page load to the sign-in page.
    if err.kind() == ErrorKind::Unauthenticated
        && let Some(redirect) = sign_in.and_then(|s| redirect_page_load(s, &http, &headers))
    {
        return redirect;
    }
    let (err, token_presented) = match err {
        CoreError::InvalidToken if token.is_none() => (
            GrpcError::invalid_token("no access token: send `Authorization: Bearer <token>`"),
            false,
        ),
        err => (GrpcError::from(err), true),
    };
    denied_with(err, token_presented)
}

/// A 401 turned into a 302 to the sign-in page, when the client is a
/// browser loading a page. Envoy gives the URL in parts: `scheme`, `host`
/// (the `:authority`) and `path` (with the query).
fn redirect_page_load(
    sign_in: &SignIn,
    http: &HttpRequest,
    headers: &Headers,
) -> Option<CheckResponse> {
    let path = Some(http.path.as_str()).filter(|p| !p.is_empty());
    let url = match (http.scheme.as_str(), http.host.as_str(), path) {
        ("", _, _) | (_, "", _) | (_, _, None) => None,
        (scheme, host, Some(path)) => Some(format!("{scheme}://{host}{path}")),
    };
    let attempt = Attempt {
        method: Some(http.method.as_str())
            .filter(|m| !m.is_empty())
            .unwrap_or("GET"),
        accepts_html: accepts_html(headers.values("accept").iter().map(String::as_str)),
        path,
        url: url.as_deref(),
    };
    let location = sign_in.page.location(&attempt, &sign_in.allowed_origins)?;
    Some(CheckResponse {
        status: Some(rpc::Status {
            code: Code::Unauthenticated as i32,
            message: "invalid_token: sign in first".to_owned(),
        }),
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: Some(HttpStatus {
                code: StatusCode::Found as i32,
            }),
            headers: vec![
                set_header("location", location),
                set_header("cache-control", "no-store".into()),
            ],
            body: String::new(),
        })),
    })
}

/// The request headers, names lower-cased, each with all its values.
struct Headers(HashMap<String, Vec<String>>);

impl Headers {
    /// From the `headers` map and, with Envoy's `encode_raw_headers`, the
    /// `header_map` list (whose values may be raw bytes).
    fn of(map: HashMap<String, String>, list: Option<Vec<HeaderValue>>) -> Result<Self, GrpcError> {
        let mut headers: HashMap<String, Vec<String>> = HashMap::new();
        for (key, value) in map {
            headers
                .entry(key.to_ascii_lowercase())
                .or_default()
                .push(value);
        }
        for header in list.into_iter().flatten() {
            let value = if header.raw_value.is_empty() {
                header.value
            } else {
                String::from_utf8(header.raw_value).map_err(|_| {
                    GrpcError::invalid_request(format!("header {:?} is not UTF-8", header.key))
                })?
            };
            headers
                .entry(header.key.to_ascii_lowercase())
                .or_default()
                .push(value);
        }
        Ok(Self(headers))
    }

    fn values(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// The bearer token, else the access cookie. A malformed or ambiguous
    /// credential is an error, never "anonymous".
    fn token(&self) -> Result<Option<String>, GrpcError> {
        let malformed =
            || GrpcError::invalid_token("the Authorization header must be `Bearer <token>`");
        match self.values("authorization") {
            [] => {}
            [value] => {
                let token = credentials::bearer(value).map_err(|_| malformed())?;
                return Ok(Some(token.to_owned()));
            }
            _ => return Err(malformed()),
        }
        // Envoy joins several Cookie headers with "; " in the map; the list
        // keeps them apart. Either way, two different access cookies are
        // refused rather than one picked.
        let mut found: Option<&str> = None;
        for pair in self.values("cookie").iter().flat_map(|v| v.split(';')) {
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if name != ACCESS_COOKIE {
                continue;
            }
            match found {
                Some(seen) if seen != value => {
                    return Err(GrpcError::invalid_token(
                        "two different access cookies were sent",
                    ));
                }
                _ => found = Some(value),
            }
        }
        Ok(found.filter(|v| !v.is_empty()).map(str::to_owned))
    }

    /// Every `x-warden-*` header the client sent.
    fn spoofable(&self) -> impl Iterator<Item = &str> {
        self.0
            .keys()
            .map(String::as_str)
            .filter(|name| name.starts_with("x-warden-"))
    }
}

fn set_header(key: &str, value: String) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_owned(),
            value,
            raw_value: Vec::new(),
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        keep_empty_value: true,
    }
}

/// OK: the identity headers overwrite whatever the client sent under those
/// names, and every other client `x-warden-*` header is removed. The three
/// identity names are not listed for removal: Envoy may apply removals
/// after the headers it sets, which would drop the identity.
fn allowed(caller: Option<&Caller>, headers: &Headers) -> CheckResponse {
    let identity: Vec<(&str, String)> =
        caller.iter().flat_map(|c| c.identity().headers()).collect();
    let set = identity
        .iter()
        .map(|(name, value)| set_header(name, value.clone()))
        .collect();
    // Every client-sent `x-warden-*` goes, but those set here (an
    // overwrite replaces them): one the identity leaves out, such as
    // `x-warden-user` for a service, must not pass from the client.
    let mut headers_to_remove: Vec<String> = headers
        .spoofable()
        .filter(|name| !identity.iter().any(|(set, _)| set == name))
        .map(str::to_owned)
        .collect();
    headers_to_remove.sort();
    CheckResponse {
        status: Some(rpc::Status {
            code: Code::Ok as i32,
            message: String::new(),
        }),
        http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
            headers: set,
            headers_to_remove,
        })),
    }
}

/// A denial for a request that presented a credential (or none was
/// needed to refuse it).
fn denied(err: GrpcError) -> CheckResponse {
    denied_with(err, true)
}

/// A denial: the gRPC code in `status`, and the HTTP answer Envoy sends
/// the client, a problem+json body as `/v1/verify` would give.
fn denied_with(err: GrpcError, token_presented: bool) -> CheckResponse {
    let stable = err.stable_code();
    let detail = err.detail().to_owned();
    let status = Status::from(err);
    let code = status.code();
    let http = match code {
        Code::Unauthenticated => StatusCode::Unauthorized,
        Code::PermissionDenied => StatusCode::Forbidden,
        Code::InvalidArgument => StatusCode::BadRequest,
        Code::Unavailable => StatusCode::ServiceUnavailable,
        _ => StatusCode::InternalServerError,
    };
    // The same body, titles and headers as `/v1/verify` gives.
    let problem = warden_edge::problem::Problem {
        status: u16::try_from(http as i32).unwrap_or(500),
        code: stable,
        detail: &detail,
        token_presented,
        retry_after: None,
    };
    let body = problem.body();
    let headers = problem
        .headers()
        .into_iter()
        .map(|(name, value)| set_header(name, value))
        .collect();
    CheckResponse {
        status: Some(rpc::Status {
            code: code as i32,
            message: status.message().to_owned(),
        }),
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: Some(HttpStatus { code: http as i32 }),
            headers,
            body,
        })),
    }
}
