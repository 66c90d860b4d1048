//! What every request passes before and after the routes: the `Host` check (RFC 9112 §3.2),
//! the connection's in-flight mark for the cap, and `Connection: close` once a stop has begun.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::Incoming;
use hyper::service::Service;
use pin_project_lite::pin_project;
use warp::http::header::{self, HeaderValue};
use warp::http::{Request, StatusCode};
use warp::reply::{Reply, Response};

use crate::connections::Conn;
use crate::host;
use crate::shutdown::Stopping;

/// Wraps the routes' service `S` for one connection.
#[derive(Debug)]
pub struct Guard<S> {
    routes: S,
    conn: Arc<Conn>,
    stopping: Stopping,
}

impl<S> Guard<S> {
    /// `routes` serving the connection `conn`.
    pub fn new(routes: S, conn: Arc<Conn>, stopping: Stopping) -> Guard<S> {
        Guard {
            routes,
            conn,
            stopping,
        }
    }
}

impl<S> Service<Request<Incoming>> for Guard<S>
where
    S: Service<Request<Incoming>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Answer<S::Future>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.conn.request_started();
        if host::is_bad(request.version(), request.headers()) {
            log::info!(
                target: "tinyweb::access",
                "{} {} 400 bad Host",
                request.method(),
                request.uri().path(),
            );
            return Answer::Now {
                response: Some(closing(
                    warp::reply::with_status("Bad Request", StatusCode::BAD_REQUEST).into_response(),
                )),
                conn: Arc::clone(&self.conn),
            };
        }
        Answer::Routed {
            routed: self.routes.call(request),
            close: self.stopping.is_set(),
            conn: Arc::clone(&self.conn),
        }
    }
}

/// Adds `Connection: close`, which also makes hyper close the connection after the answer.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

pin_project! {
    /// The answer to one request: made here (a bad Host) or by the routes.
    #[project = AnswerProj]
    pub enum Answer<F> {
        /// Answered without the routes.
        Now { response: Option<Response>, conn: Arc<Conn> },
        /// The routes' answer, closing the connection if a stop had begun.
        Routed { #[pin] routed: F, close: bool, conn: Arc<Conn> },
    }
}

impl<F, E> Future for Answer<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (answer, conn) = match self.project() {
            AnswerProj::Now { response, conn } => (Ok(response.take().unwrap_or_default()), conn),
            AnswerProj::Routed { routed, close, conn } => match routed.poll(cx) {
                Poll::Ready(Ok(response)) if *close => (Ok(closing(response)), conn),
                Poll::Ready(other) => (other, conn),
                Poll::Pending => return Poll::Pending,
            },
        };
        conn.answer_ready();
        Poll::Ready(answer)
    }
}
