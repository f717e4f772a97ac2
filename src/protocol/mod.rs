//! Wire-protocol pieces shared by more than one kind.
//!
//! - [`sign`] — the sorted `k=v&…&key=K` signature (MD5 or HMAC-SHA256, upper-case hex) that
//!   WeChat Pay v2 defined and that many Chinese PSP APIs, our payout bank among them, copy.
//!   It lives here, below the kinds, so that changing one kind's signing is a visible
//!   decision about every kind that uses it rather than a side effect of editing another
//!   kind's folder.

//! - [`client`] — the client side of a kind's API as `sandbank call` drives it: operations,
//!   the request a kind builds and signs, the reply read back with its signature checked.

pub mod client;
pub mod sign;
