//! The HTTP server (hyper 1): accept, read the body within its bound, route, answer.

use crate::app::{json_response, response};
use crate::{notify, reconciliation, refunds, routes, ApiError, App};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Largest request body we read. Our requests and the channel's notifications are a few KB.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Serve until Ctrl-C or SIGTERM.
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // E.g. out of file descriptors: wait a little rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => {
                tracing::info!("shutting down");
                return;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(&app, req).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection: {e}");
            }
        });
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn handle(app: &App, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("cannot read the body (at most {MAX_BODY_BYTES} bytes): {e}"),
            )
            .into_response()
        }
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let result = match (&method, segments.as_slice()) {
        (&Method::GET, ["health"]) => Ok(json!({ "status": "ok", "bug": app.config.bug.name() })),
        (&Method::POST, ["merchants"]) => routes::onboard_merchant(app, &body),
        (&Method::POST, ["orders"]) => routes::create_order(app, &body).await,
        (&Method::POST, ["refunds"]) => refunds::create(app, &body).await,
        (&Method::POST, ["notify", channel, "refund"]) if *channel == app.config.channel => {
            return response(
                StatusCode::OK,
                "text/xml; charset=utf-8",
                refunds::notify(app, &body),
            );
        }
        (&Method::POST, ["notify", channel]) if *channel == app.config.channel => {
            return notify::notify(app, &body).await
        }
        (&Method::POST, ["notify", channel]) if *channel == app.config.alipay_channel => {
            return notify::alipay_notify(app, &body)
        }
        (&Method::POST, ["settlements", "run"]) => routes::run_settlement(app, &body).await,
        (&Method::POST, ["reconciliations", "run"]) => {
            reconciliation::run_reconciliation(app, &body).await
        }
        (&Method::GET, ["reconciliations", date]) => {
            reconciliation::reconciliation_report(app, date, &query)
        }
        _ => Err(ApiError::not_found(format!("no route {method} {path}"))),
    };
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => {
            tracing::warn!("{method} {path}: {} {}", e.status, e.message);
            e.into_response()
        }
    }
}
