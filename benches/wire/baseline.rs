//! The baselines, each run as a child process of this bench (see `procs::role`):
//! - `hyper`: a bare hyper 1 HTTP/1.1 server on tokio that reads the request body and answers
//!   a fixed XML body of the size of an orderquery reply — the least an HTTP server can do;
//! - `wiremock`: wiremock-rs with one stub answering that same body, request recording off —
//!   the general-purpose mock server teams would otherwise use.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;

/// A fixed reply body the size of a signed `pay/orderquery` answer.
pub const BODY: &str = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg><appid><![CDATA[wx2421b1c4370ec43b]]></appid><mch_id>10000100</mch_id><nonce_str><![CDATA[ySLdvq2somfZucXO]]></nonce_str><result_code><![CDATA[SUCCESS]]></result_code><total_fee>100</total_fee><out_trade_no><![CDATA[BENCH0001]]></out_trade_no><trade_state><![CDATA[NOTPAY]]></trade_state><trade_state_desc><![CDATA[订单未支付]]></trade_state_desc><sign><![CDATA[4E1EAE9FD356FF3905262DA28111A217]]></sign></xml>";

/// Serve as the bare hyper baseline until killed.
pub fn hyper_server() {
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!(
            "bare hyper listening on http://{}",
            listener.local_addr().expect("addr")
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "text/xml; charset=utf-8")
                            .body(Full::new(Bytes::from_static(BODY.as_bytes())))
                            .expect("a valid response"),
                    )
                });
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// Serve as the wiremock-rs baseline until killed.
pub fn wiremock_server() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    rt.block_on(async {
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(BODY.as_bytes(), "text/xml; charset=utf-8"),
            )
            .mount(&server)
            .await;
        println!("wiremock listening on {}", server.uri());
        std::future::pending::<()>().await;
    });
}
