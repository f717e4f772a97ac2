//! The inspector page, `GET /_sandbank/ui/`: a sequence diagram of the journal (from
//! `GET /_sandbank/timeline`), ledger balances, statements with their injected mismatches,
//! clock controls and fault rules. Plain HTML, one stylesheet and two small scripts, built
//! into the binary: nothing is fetched from elsewhere, so it works offline.
//!
//! The files carry no world data (everything the page shows comes through the guarded
//! control routes), so they are served to any client the `Host`/`Origin` checks admit,
//! without the control token; the page asks for the token when a route answers 401.

use crate::http::Reply;
use hyper::StatusCode;

/// The page.
pub const INDEX_HTML: &str = include_str!("ui/index.html");
/// The inspector's script: polling, panels, controls.
pub const INSPECTOR_JS: &str = include_str!("ui/inspector.js");
/// The sequence-diagram renderer, shared with `sandbank conform --report` pages.
pub const TIMELINE_JS: &str = include_str!("ui/timeline.js");
/// The stylesheet, shared with the report pages.
pub const STYLE_CSS: &str = include_str!("ui/inspector.css");

/// The path prefix (below `/_sandbank/`) the files are served under.
pub const UI_PREFIX: &str = "ui";

/// The page's own files may be loaded, scripts run and requests made only from this
/// origin; no page may frame it.
const CSP: &str = "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'";

/// The file at `name` below `/_sandbank/ui/` (`""` or `index.html` for the page).
pub fn asset(name: &str) -> Reply {
    let (content_type, body) = match name {
        "" | "index.html" => ("text/html; charset=utf-8", INDEX_HTML),
        "inspector.js" => ("text/javascript; charset=utf-8", INSPECTOR_JS),
        "timeline.js" => ("text/javascript; charset=utf-8", TIMELINE_JS),
        "inspector.css" => ("text/css; charset=utf-8", STYLE_CSS),
        other => {
            return Reply::json(
                StatusCode::NOT_FOUND,
                &serde_json::json!({ "error": format!("no inspector file `{other}` (the page is /_sandbank/ui/)") }),
            )
        }
    };
    let mut reply = Reply::new(StatusCode::OK, content_type, body);
    reply.headers.push(("content-security-policy", CSP.into()));
    reply
        .headers
        .push(("x-content-type-options", "nosniff".into()));
    reply.headers.push(("cache-control", "no-cache".into()));
    reply
}

/// True when a control request's path (after `/_sandbank/`) is one of the page's files.
pub fn is_asset_path(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    path == UI_PREFIX || path.starts_with("ui/")
}
