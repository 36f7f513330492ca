//! The policy in front of every gRPC route (unary, streaming, reflection, unknown paths):
//! authentication, the `x-finch-*` response metadata and one log record per call.
//!
//! It works on HTTP, below tonic, so nothing registered on the router can bypass it (1.x's
//! interceptors only covered unary calls and left reflection open). A refused call is answered
//! here with `Unauthenticated "permission denied"` and no `x-finch-*` metadata. The call's
//! status is read from the response head (trailers-only answers: every error of a unary
//! handler) or, for answers that stream, from the trailers as the body finishes.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;
use http_body::{Frame, SizeHint};
use tonic::{Code, Status};

use super::GrpcState;
use super::auth_failure::AuthFailure;
use crate::remote_addr::remote_addr;
use crate::version;

/// The message of every refused call, as in 1.x.
pub const PERMISSION_DENIED: &str = "permission denied";

/// What one call's log record says besides its outcome.
#[derive(Debug, Clone)]
struct CallInfo {
    request_path: String,
    remote_addr: String,
    user_agent: String,
    /// The authenticated operator's CN, for the audit trail (empty when refused).
    operator: String,
}

/// Authenticates, runs the call, and logs it.
pub(crate) async fn call_layer(
    State(state): State<GrpcState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let mut call = CallInfo {
        request_path: request.uri().path().to_owned(),
        remote_addr: remote_addr(request.headers(), peer),
        user_agent: request
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        operator: String::new(),
    };
    match state.authenticator().authenticate(request.headers()).await {
        Ok(operator) => {
            call.operator.clone_from(&operator.cn);
            // Handlers may read who calls; nothing authorises by it yet (1.x neither).
            request.extensions_mut().insert(operator);
        }
        Err(failure) => {
            log_refusal(&call, &failure);
            return Status::unauthenticated(PERMISSION_DENIED).into_http();
        }
    }
    let mut response = next.run(request).await;
    version::add_headers(response.headers_mut());
    if let Some(code) = status_code(response.headers()) {
        // Trailers-only: the status is in the head; the detail of an internal error is the
        // source of the `Status` tonic left in the extensions.
        let message = status_message(response.headers());
        let source = response
            .extensions()
            .get::<Status>()
            .and_then(|s| std::error::Error::source(s).map(ToString::to_string));
        log_call(&call, code, &message, source.as_deref());
        return response;
    }
    response.map(|body| {
        Body::new(LoggedBody {
            inner: body,
            call: Some(call),
        })
    })
}

fn status_code(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?;
    let code = value.to_str().ok()?.parse::<i32>().ok()?;
    Some(Code::from_i32(code))
}

fn status_message(headers: &HeaderMap) -> String {
    headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default()
}

fn log_refusal(call: &CallInfo, failure: &AuthFailure) {
    tracing::warn!(
        code = code_name(Code::Unauthenticated),
        request_path = %call.request_path,
        remote_addr = %call.remote_addr,
        user_agent = %call.user_agent,
        auth.reason = %failure,
        "{PERMISSION_DENIED}"
    );
}

/// Writes the call's one record, at 1.x's level for its code.
fn log_call(call: &CallInfo, code: Code, message: &str, error: Option<&str>) {
    let msg = if code == Code::Ok { "ok" } else { message };
    let error = error.unwrap_or_default();
    macro_rules! record {
        ($level:ident) => {
            tracing::$level!(
                code = code_name(code),
                request_path = %call.request_path,
                remote_addr = %call.remote_addr,
                user_agent = %call.user_agent,
                operator = %call.operator,
                error,
                "{msg}"
            )
        };
    }
    match code {
        Code::Internal
        | Code::DataLoss
        | Code::Unknown
        | Code::Unavailable
        | Code::DeadlineExceeded => record!(error),
        Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::FailedPrecondition
        | Code::Unauthenticated
        | Code::PermissionDenied
        | Code::ResourceExhausted
        | Code::Cancelled
        | Code::Aborted => record!(warn),
        _ => record!(info),
    }
}

/// The code's name as gRPC-Go spells it, as 1.x logs it (`OK`, `Canceled`, `NotFound`).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// A response body that logs the call once its trailers pass, or when it ends or is dropped
/// without them (the client went away: `Cancelled`).
struct LoggedBody {
    inner: Body,
    call: Option<CallInfo>,
}

impl LoggedBody {
    fn finish(&mut self, code: Code, message: &str) {
        if let Some(call) = self.call.take() {
            log_call(&call, code, message, None);
        }
    }
}

impl http_body::Body for LoggedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = status_code(trailers).unwrap_or(Code::Unknown);
                    let message = status_message(trailers);
                    self.finish(code, &message);
                }
            }
            Poll::Ready(Some(Err(_))) => self.finish(Code::Internal, "response body failed"),
            Poll::Ready(None) => self.finish(Code::Unknown, "response ended without a status"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        self.finish(Code::Cancelled, "call cancelled by the client");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_are_grpc_gos() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::Cancelled), "Canceled");
        assert_eq!(code_name(Code::Unauthenticated), "Unauthenticated");
    }

    #[test]
    fn status_is_read_from_headers_with_its_message_decoded() {
        use http::HeaderValue;
        let mut headers = HeaderMap::new();
        assert_eq!(status_code(&headers), None);
        headers.insert("grpc-status", HeaderValue::from_static("5"));
        headers.insert(
            "grpc-message",
            HeaderValue::from_static("label%20%22x%22%20is%20bad"),
        );
        assert_eq!(status_code(&headers), Some(Code::NotFound));
        assert_eq!(status_message(&headers), "label \"x\" is bad");
        headers.insert("grpc-status", HeaderValue::from_static("x"));
        assert_eq!(status_code(&headers), None);
    }
}
