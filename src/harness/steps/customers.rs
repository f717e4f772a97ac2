//! Steps where customers act: paying orders at a channel.

use crate::harness::scene::Scene;
use crate::http;
use cucumber::when;
use std::time::Duration;

#[when(regex = r#"^the customer pays every order$"#)]
async fn pays_every_order(s: &mut Scene) {
    let orders: Vec<(String, String)> = s
        .orders
        .iter()
        .map(|o| (o.channel.clone(), o.out_trade_no.clone()))
        .collect();
    for (channel, no) in orders {
        let url = format!("{}/_sandbank/channels/{channel}/orders/{no}/pay", s.url());
        let r = http::post(&url, "application/json", "", Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("pay {no}: {e}"));
        // 409 means it was paid already (an earlier step); anything else is a failure.
        if !r.status.is_success() && r.status != hyper::StatusCode::CONFLICT {
            panic!(
                "the customer could not pay order {no} at {channel}: HTTP {} {}",
                r.status,
                r.text()
            );
        }
    }
    // Deliver the notifications that are due now, and whatever they cause.
    s.sb().advance(None).await.unwrap_or_else(|e| panic!("{e}"));
}
