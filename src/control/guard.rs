//! Who the control API obeys. It can replace the world, pay orders and move the clock, so a
//! stranger must not reach it through the user's browser or a merchant's `notify_url`:
//!
//! - **`Host`**: a loopback name (`localhost`, `*.localhost`) or address, the address the
//!   server listens on, or a name given with `--allow-host`. A DNS-rebinding page reaches the
//!   server under the attacker's own name, so it is refused (403). When the server listens on
//!   an unspecified address (`0.0.0.0`, `::`), any IP address literal is accepted too: a
//!   rebinding attack always carries a name. A request without `Host` (HTTP/1.0) passes; a
//!   browser always sends one.
//! - **`Origin`**: when present it must be the server's own (`http://` + an accepted host +
//!   the port it listens on); a cross-origin page's `fetch`/form POST is refused (403),
//!   whatever its content type. `Origin: null` is refused.
//! - **Token** (optional, `--control-token`): every control route then needs
//!   `Authorization: Bearer TOKEN` or `x-sandbank-token: TOKEN` (401 otherwise).
//!
//! Channel and bank endpoints are not guarded: SDKs call them from anywhere.

use crate::http::Reply;
use hyper::header::{HeaderMap, AUTHORIZATION, HOST, ORIGIN};
use hyper::{StatusCode, Uri};
use serde_json::json;
use std::net::{IpAddr, SocketAddr};

/// The header a client may carry the control token in, instead of `Authorization: Bearer`.
pub const TOKEN_HEADER: &str = "x-sandbank-token";

/// Who may use the control API besides loopback clients. The default admits loopback
/// `Host`s and same-origin browsers only, and asks for no token.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Extra host names accepted in `Host` and `Origin` (`--allow-host`), compared without
    /// case and without a trailing dot.
    pub allow_hosts: Vec<String>,
    /// When set, every control request must carry it (`--control-token`).
    pub token: Option<String>,
}

impl Access {
    /// Check a control request's headers (and its request-target's authority, for the
    /// absolute form) against the policy for a server listening on `listen`: `None` to
    /// proceed, or the refusal to answer with.
    pub fn check(&self, listen: SocketAddr, uri: &Uri, headers: &HeaderMap) -> Option<Reply> {
        self.check_page(listen, uri, headers, false)
    }

    /// [`Access::check`]; for one of the inspector page's own files (`page`), without the
    /// token: they hold no world data, and the page sends the token with its calls.
    pub fn check_page(
        &self,
        listen: SocketAddr,
        uri: &Uri,
        headers: &HeaderMap,
        page: bool,
    ) -> Option<Reply> {
        let host = match uri.authority() {
            Some(a) => Some(a.as_str().to_string()),
            None => match headers.get(HOST).map(|v| v.to_str()) {
                Some(Ok(h)) => Some(h.to_string()),
                Some(Err(_)) => return Some(forbidden("Host: not readable text")),
                None => None,
            },
        };
        if let Some(host) = &host {
            let (name, _) = split_host_port(host);
            if !self.host_allowed(listen, &name) {
                return Some(forbidden(format!(
                    "Host: `{host}` is not a loopback name or address, the address sandbank listens on, or a name given with --allow-host (refused against DNS rebinding)"
                )));
            }
        }
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !self.origin_allowed(listen, origin) {
                return Some(forbidden(format!(
                    "Origin: `{origin}` is not this server's own origin (cross-origin requests to the control API are refused)"
                )));
            }
        }
        if let Some(token) = self.token.as_ref().filter(|_| !page) {
            let bearer = headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            let given = bearer.or_else(|| {
                headers
                    .get(TOKEN_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
            });
            if !given.is_some_and(|g| same_secret(g.as_bytes(), token.as_bytes())) {
                let mut reply = Reply::json(
                    StatusCode::UNAUTHORIZED,
                    &json!({ "error": format!("Authorization: the control API needs `Authorization: Bearer <token>` or `{TOKEN_HEADER}: <token>` (the server was started with --control-token)") }),
                );
                reply
                    .headers
                    .push(("www-authenticate", "Bearer realm=\"sandbank\"".into()));
                return Some(reply);
            }
        }
        None
    }

    fn host_allowed(&self, listen: SocketAddr, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        let literal = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            return ip.is_loopback() || ip == listen.ip() || listen.ip().is_unspecified();
        }
        self.allow_hosts
            .iter()
            .any(|a| a.trim_end_matches('.').eq_ignore_ascii_case(&name))
    }

    fn origin_allowed(&self, listen: SocketAddr, origin: &str) -> bool {
        let Some(rest) = origin.strip_prefix("http://") else {
            return false;
        };
        let (name, port) = split_host_port(rest.trim_end_matches('/'));
        let port = match port {
            Some(p) => p.parse::<u16>().ok(),
            None => Some(80),
        };
        port == Some(listen.port()) && self.host_allowed(listen, &name)
    }
}

/// `host[:port]` or `[v6][:port]` → (host, port).
fn split_host_port(hp: &str) -> (String, Option<&str>) {
    if let Some(rest) = hp.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, tail)) => (format!("[{ip}]"), tail.strip_prefix(':')),
            None => (hp.to_string(), None),
        };
    }
    match hp.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
        _ => (hp.to_string(), None),
    }
}

/// Compare two secrets in time independent of where they first differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn forbidden(msg: impl Into<String>) -> Reply {
    Reply::json(StatusCode::FORBIDDEN, &json!({ "error": msg.into() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(access: &Access, listen: &str, headers: &[(&str, &str)]) -> Option<StatusCode> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let uri: Uri = "/_sandbank/health".parse().unwrap();
        access
            .check(listen.parse().unwrap(), &uri, &h)
            .map(|r| r.status)
    }

    #[test]
    fn loopback_hosts_pass_and_foreign_names_do_not() {
        let a = Access::default();
        let l = "127.0.0.1:8080";
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST.",
            "app.localhost",
            "[::1]:8080",
            "127.0.0.2",
        ] {
            assert_eq!(check(&a, l, &[("host", ok)]), None, "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "10.0.0.5:8080",
            "localhost.evil.com",
            "",
        ] {
            assert_eq!(
                check(&a, l, &[("host", bad)]),
                Some(StatusCode::FORBIDDEN),
                "{bad}"
            );
        }
        assert_eq!(check(&a, l, &[]), None, "no Host (HTTP/1.0)");
    }

    #[test]
    fn allowed_names_and_the_listen_address_pass() {
        let a = Access {
            allow_hosts: vec!["Sandbank.CI.internal".into()],
            token: None,
        };
        assert_eq!(
            check(&a, "127.0.0.1:80", &[("host", "sandbank.ci.internal")]),
            None
        );
        assert_eq!(check(&a, "10.1.2.3:80", &[("host", "10.1.2.3")]), None);
        assert_eq!(
            check(&a, "10.1.2.3:80", &[("host", "10.9.9.9")]),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(check(&a, "0.0.0.0:80", &[("host", "10.9.9.9")]), None);
        assert_eq!(
            check(&a, "0.0.0.0:80", &[("host", "evil.example")]),
            Some(StatusCode::FORBIDDEN)
        );
    }

    #[test]
    fn only_the_servers_own_origin_passes() {
        let a = Access::default();
        let l = "127.0.0.1:8080";
        let h = ("host", "127.0.0.1:8080");
        assert_eq!(
            check(&a, l, &[h, ("origin", "http://127.0.0.1:8080")]),
            None
        );
        assert_eq!(
            check(&a, l, &[h, ("origin", "http://localhost:8080")]),
            None
        );
        for bad in [
            "http://evil.example",
            "null",
            "http://127.0.0.1:9999",
            "https://127.0.0.1:8080",
            "http://localhost",
        ] {
            assert_eq!(
                check(&a, l, &[h, ("origin", bad)]),
                Some(StatusCode::FORBIDDEN),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_token_is_required_when_set() {
        let a = Access {
            allow_hosts: vec![],
            token: Some("s3cret".into()),
        };
        let l = "127.0.0.1:8080";
        assert_eq!(check(&a, l, &[]), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(
            check(&a, l, &[("authorization", "Bearer nope")]),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(check(&a, l, &[("authorization", "Bearer s3cret")]), None);
        assert_eq!(check(&a, l, &[("x-sandbank-token", "s3cret")]), None);
    }
}
