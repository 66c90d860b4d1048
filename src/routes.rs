//! The HTTP application as warp filters: the routes, the 4xx mapping and the access log.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use warp::http::Request;

use warp::http::{header, StatusCode};
use warp::reject::MethodNotAllowed;
use warp::{Filter, Rejection, Reply};

use crate::access_line::Line;
use crate::shutdown::Stopping;

/// The body of `GET /`, the article's answer.
pub const HELLO: &str = "Hello, World!";

/// The whole application: every route, rejections turned into 4xx replies, one access-log line each.
/// `/healthz` fails once `stopping` is set.
pub fn routes(stopping: Stopping) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    hello()
        .or(health(stopping))
        .recover(reject_to_reply)
        .with(warp::log::custom(access_log))
}

/// `GET /` and `HEAD /`: `Hello, World!` as `text/plain; charset=utf-8`, the answer warp gives
/// a `&str`, with the header value made at compile time: warp's own `&str` reply validates it
/// byte by byte at every request (about 300 instructions, bench/instructions.py).
pub fn hello() -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Copy {
    warp::path::end().and(get_or_head()).map(|| {
        let mut reply = warp::reply::Response::new(HELLO.into());
        reply.headers_mut().insert(
            header::CONTENT_TYPE,
            const { header::HeaderValue::from_static("text/plain; charset=utf-8") },
        );
        reply
    })
}

/// `GET /healthz` and `HEAD /healthz`: `200 ok` for probes and `tinyweb healthcheck`, `503
/// stopping` once a stop has begun. Never cached: a cached 200 would hide the stop.
pub fn health(
    stopping: Stopping,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("healthz").and(get_or_head()).map(move || {
        let (body, status) = if stopping.is_set() {
            ("stopping", StatusCode::SERVICE_UNAVAILABLE)
        } else {
            ("ok", StatusCode::OK)
        };
        let mut reply = warp::reply::with_status(body, status).into_response();
        reply.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        reply
    })
}

/// Every route takes GET and HEAD (hyper sends no body for HEAD); a 405 says so in `Allow`.
fn get_or_head() -> impl Filter<Extract = (), Error = Rejection> + Copy {
    warp::get().or(warp::head()).unify()
}

/// Maps what no route took to a plain-text 4xx: 405 where a path matched but not the method,
/// 404 for an unknown path, 400 for anything else warp rejects.
async fn reject_to_reply(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    let status = if rejection.find::<MethodNotAllowed>().is_some() {
        StatusCode::METHOD_NOT_ALLOWED
    } else if rejection.is_not_found() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut reply = warp::reply::with_status(status.canonical_reason().unwrap_or(""), status).into_response();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        reply
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
    }
    Ok(reply)
}

/// One line per request: method, path, status, duration in milliseconds to the microsecond,
/// rendered by [`Line`] rather than through `core::fmt` piece by piece.
fn access_log(info: warp::log::Info<'_>) {
    log::info!(
        target: "tinyweb::access",
        "{}",
        Line {
            method: info.method().as_str(),
            path: info.path(),
            status: info.status().as_u16(),
            elapsed: info.elapsed(),
        }
    );
}

/// warp's routes (a tower service) as a hyper service. warp's service is always ready, so each
/// request is routed on a clone of it at once, without the readiness state machine hyper-util's
/// `TowerToHyperService` wraps around every call (bench/instructions.py).
#[derive(Clone, Debug)]
pub struct Direct<S>(pub S);

impl<S> hyper::service::Service<Request<Incoming>> for Direct<S>
where
    S: tower_service::Service<Request<Incoming>>
        + tower_service::Service<
            Request<NoBody>,
            Response = <S as tower_service::Service<Request<Incoming>>>::Response,
            Error = <S as tower_service::Service<Request<Incoming>>>::Error,
            Future = <S as tower_service::Service<Request<Incoming>>>::Future,
        > + Clone,
{
    type Response = <S as tower_service::Service<Request<Incoming>>>::Response;
    type Error = <S as tower_service::Service<Request<Incoming>>>::Error;
    type Future = <S as tower_service::Service<Request<Incoming>>>::Future;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let mut routes = self.0.clone();
        // warp boxes every request's body; a request without one (most GETs and HEADs) gets a
        // zero-sized body instead, whose box is no allocation. The request is moved once more
        // for it, so the count barely drops (about 20 instructions per request,
        // bench/instructions.py), but a malloc and a free per request cost more than that move.
        if request.body().is_end_stream() {
            routes.call(request.map(|_| NoBody))
        } else {
            routes.call(request)
        }
    }
}

/// The body of a request that has none: zero-sized.
#[derive(Clone, Copy, Debug)]
pub struct NoBody;

impl Body for NoBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(0)
    }
}
