//! A bill link as the channel hands it out and remembers it: the path it points at under the
//! channel's mount, the operation name of a download, how long a link works on the world
//! clock and how many are remembered (docs/protocols.md, "B.4"). `bill` issues links and
//! serves what they point at; `request` reads a request to one.

use crate::clock::Instant;
use chrono::NaiveDate;

/// The download path under the channel's mount.
pub const DOWNLOAD_PATH: &str = "downloadBillFile.resource";

/// The operation name of a download, for fault rules and the journal.
pub const DOWNLOAD_OP: &str = "bill.download";

/// How long a link works, in seconds of the world clock ("下载超时" after that).
pub const LINK_VALID_SECS: i64 = 30;

/// Links remembered at once: each is a few dozen bytes; past this the oldest are forgotten
/// (and long expired by then at any believable rate of bill queries).
pub const MAX_LINKS: usize = 1024;

/// A link handed out.
#[derive(Debug, Clone)]
pub struct Download {
    /// Its token.
    pub token: String,
    /// The merchant's partner id.
    pub pid: String,
    /// The bill's day.
    pub day: NaiveDate,
    /// The last instant it works.
    pub expires_at: Instant,
}
